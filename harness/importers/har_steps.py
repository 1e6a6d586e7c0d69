"""From a HAR's exchanges to the steps of a journey: what is kept, on which touchpoint, which
redirects the client follows itself, where a step starts, and the pauses between steps."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from harness.importers.har import Exchange
from harness.targets import Target

REDIRECTS = (301, 302, 303, 307, 308)
STATIC_EXTENSIONS = frozenset(
    [
        ".css",
        ".js",
        ".mjs",
        ".map",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".svg",
        ".ico",
        ".webp",
        ".avif",
        ".bmp",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        ".mp4",
        ".webm",
        ".mp3",
        ".wav",
        ".ogg",
        ".pdf",
        ".wasm",
    ]
)
STATIC_TYPES = frozenset(
    ["stylesheet", "script", "image", "font", "media", "manifest", "texttrack"]
)
STATIC_MIMES = ("image/", "font/", "video/", "audio/", "text/css", "text/javascript")
STATIC_MIMES_EXACT = frozenset({"application/javascript", "application/font-woff"})
#: a path segment that names one thing rather than a kind of thing
_ID_SEGMENT = re.compile(
    r"^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,})$", re.I
)


@dataclass
class Call:
    """One request the journey sends: `first` as recorded, `final` the response it ends on
    (the last hop of a redirect chain the client follows itself)."""

    first: Exchange
    final: Exchange
    touchpoint: str  #: web, api or mobile; "" for a third-party host kept with --keep-third-party
    path: str  #: relative to the touchpoint's base (leading "/"), or the whole URL
    follow: bool | None = None  #: `follow_redirects=` to write, if not the client's default


@dataclass
class StepPlan:
    """One `with j.step(...)` block: its name, touchpoint, the pause before it, its calls."""

    name: str
    touchpoint: str
    think_s: float
    calls: list[Call] = field(default_factory=list)


@dataclass
class Dropped:
    """What the import left out, counted for the module's docstring and the command's output."""

    static: int = 0
    third_party: int = 0
    unanswered: int = 0
    other_scheme: int = 0
    hosts: set[str] = field(default_factory=set)


def target_from_har(exchanges: Sequence[Exchange]) -> Target:
    """A target laid out like the bundled shop at the origin of the first page of the HAR."""
    first = next((e for e in exchanges if is_navigation(e)), exchanges[0])
    parts = urlsplit(first.url)
    return Target.from_base_url(f"{parts.scheme}://{parts.netloc}", name="recorded")


def is_navigation(exchange: Exchange) -> bool:
    """Whether the browser loaded a page with it (a new document in the tab)."""
    if exchange.resource_type:
        return exchange.resource_type == "document"
    if exchange.header("sec-fetch-mode") == "navigate":
        return True
    return exchange.method == "GET" and exchange.response_mime == "text/html"


def is_static_path(path: str) -> bool:
    """Whether a URL path names a static file by its extension."""
    path = path.lower()
    dot = path.rfind(".")
    return dot > path.rfind("/") and path[dot:] in STATIC_EXTENSIONS


def is_static(exchange: Exchange) -> bool:
    """Whether it fetched a static asset (style, script, image, font, media)."""
    if is_static_path(urlsplit(exchange.url).path):
        return True
    if exchange.resource_type in STATIC_TYPES:
        return True
    mime = exchange.response_mime
    return mime.startswith(STATIC_MIMES) or mime in STATIC_MIMES_EXACT


def place(url: str, target: Target) -> tuple[str, str] | None:
    """(touchpoint, path relative to its base) of `url`, or None when no base of `target`
    holds it. The longest base wins: `/api/v1/...` is the API even though `/` is the web's."""
    parts = urlsplit(url)
    best: tuple[int, str, str] | None = None
    for touchpoint, base in (("web", target.web), ("api", target.api), ("mobile", target.mobile)):
        home = urlsplit(base)
        if (home.scheme, home.netloc.rpartition("@")[2]) != (parts.scheme, parts.netloc):
            continue
        prefix = home.path.rstrip("/")
        if parts.path == prefix or parts.path.startswith(prefix + "/"):
            rest = parts.path[len(prefix) :] or "/"
            if best is None or len(prefix) > best[0]:
                best = (len(prefix), touchpoint, rest)
    return None if best is None else (best[1], best[2])


def plan_calls(
    exchanges: Sequence[Exchange],
    target: Target,
    *,
    keep_static: bool = False,
    keep_third_party: bool = False,
) -> tuple[list[Call], Dropped]:
    """The requests to replay, in order, with redirect chains merged into their first hop."""
    dropped = Dropped()
    kept: list[tuple[Exchange, tuple[str, str] | None]] = []
    for exchange in exchanges:
        scheme = urlsplit(exchange.url).scheme
        if scheme not in ("http", "https"):
            dropped.other_scheme += 1
        elif exchange.status <= 0:
            dropped.unanswered += 1
        elif is_static(exchange) and not keep_static:
            dropped.static += 1
        else:
            where = place(exchange.url, target)
            if where is None and not keep_third_party:
                dropped.third_party += 1
                dropped.hosts.add(urlsplit(exchange.url).netloc)
            else:
                kept.append((exchange, where))
    calls: list[Call] = []
    skip: set[int] = set()
    for position, (exchange, where) in enumerate(kept):
        if exchange.index in skip:
            continue
        final, hops = _follow(exchange, kept[position + 1 :])
        skip.update(hops)
        touchpoint, path = where if where is not None else ("", _without_query(exchange.url))
        follow: bool | None = None
        if final is not exchange and exchange.method not in ("GET", "HEAD"):
            follow = True
        elif final is exchange and exchange.status in REDIRECTS and exchange.method == "GET":
            follow = False
        calls.append(Call(exchange, final, touchpoint, _without_query(path)))
        calls[-1].follow = follow
    return calls, dropped


def _follow(
    first: Exchange, later: Sequence[tuple[Exchange, tuple[str, str] | None]]
) -> tuple[Exchange, set[int]]:
    """The last hop of the redirect chain starting at `first`, and the hops after it."""
    current, hops = first, set()
    for exchange, _ in later:
        location = current.header("location", response=True)
        if current.status not in REDIRECTS or not location:
            break
        if exchange.url != urljoin(current.url, location):
            continue
        if current.status in (307, 308) and exchange.method != current.method:
            break
        hops.add(exchange.index)
        current = exchange
    return current, hops


def _without_query(path: str) -> str:
    return path.split("?", 1)[0].split("#", 1)[0]


def group_steps(calls: Sequence[Call], *, gap_s: float) -> list[StepPlan]:
    """Steps: a new one at each page the browser loaded, and after each pause of at least
    `gap_s` seconds; the pause before a step is the recorded gap, to the tenth of a second."""
    steps: list[StepPlan] = []
    last_end = 0.0
    for call in calls:
        gap = call.first.started - last_end
        if not steps or is_navigation(call.first) or gap >= gap_s:
            think = round(max(0.0, gap), 1) if steps else 0.0
            steps.append(StepPlan(step_name(call), call.touchpoint or "web", think))
        steps[-1].calls.append(call)
        last_end = max(last_end, call.final.ended)
    seen: dict[str, int] = {}
    for step in steps:
        count = seen[step.name] = seen.get(step.name, 0) + 1
        if count > 1:
            step.name = f"{step.name} ({count})"
    return steps


def step_name(call: Call) -> str:
    """`open /products/{id}`, `submit /signup`, `post /cart/items`: the verb and the route."""
    route = route_of(urlsplit(call.first.url).path)
    if call.first.method == "GET":
        return f"open {route}"
    if call.first.form is not None:
        return f"submit {route}"
    return f"{call.first.method.lower()} {route}"


def route_of(path: str) -> str:
    """The path with the segments that name one thing (numbers, UUIDs, long hex) as `{id}`."""
    parts = ["{id}" if _ID_SEGMENT.match(p) else p for p in path.split("/")]
    return "/".join(parts) or "/"
