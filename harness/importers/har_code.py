"""`harness import har`: a HAR file becomes a journey module that runs as it stands.

The module replays the recorded requests over HTTP (no browser): web pages through `j.api` at
the target's web base, so pages and the API share one cookie jar as in the browser; API and
mobile requests through `j.api` and `j.mobile` at their bases. The same HAR always gives the
same bytes.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from harness.errors import UsageError
from harness.importers.har import Exchange, read_har
from harness.importers.har_steps import (
    Call,
    Dropped,
    StepPlan,
    group_steps,
    plan_calls,
    route_of,
    target_from_har,
)
from harness.importers.har_values import Ref, Values
from harness.targets import Target

WIDTH = 100
#: request headers a replay never copies: the client, the jar or the body set them
DROPPED_HEADERS = frozenset(
    [
        "host",
        "connection",
        "content-length",
        "accept",
        "accept-encoding",
        "accept-language",
        "user-agent",
        "referer",
        "origin",
        "cookie",
        "content-type",
        "pragma",
        "cache-control",
        "dnt",
        "priority",
        "te",
        "upgrade-insecure-requests",
        "if-none-match",
        "if-modified-since",
        "traceparent",
        "tracestate",
        "baggage",
        "x-feature-flags",
        "purpose",
        "x-requested-with",
    ]
)
SECRET_HEADERS = re.compile(r"authorization|token|secret|api-?key|session|csrf|xsrf|auth", re.I)
_MOBILE_OWN = ("x-device-", "x-app-")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Imported:
    """What an import made: the module's text and what it says about the HAR."""

    source: str
    name: str
    steps: int
    requests: int
    dropped: Dropped
    env: tuple[str, ...]


@dataclass
class _Code:
    call: Call
    client: str
    method: str
    args: list[str | tuple[str, Any]]


def import_har(
    path: Path,
    *,
    name: str,
    target: Target | None = None,
    keep_static: bool = False,
    keep_third_party: bool = False,
    gap_s: float = 1.0,
) -> Imported:
    """The journey module for the HAR at `path`; `UsageError` for a HAR it cannot read."""
    exchanges = read_har(path)
    target = target or target_from_har(exchanges)
    calls, dropped = plan_calls(
        exchanges, target, keep_static=keep_static, keep_third_party=keep_third_party
    )
    if not calls:
        hosts = ", ".join(sorted(dropped.hosts)) or "none"
        raise UsageError(
            f"{path}: nothing left to import: its {len(exchanges)} requests were all static "
            f"assets, unanswered or on hosts outside the target's bases (hosts: {hosts}); give "
            "--target with the recorded site's bases, or --keep-third-party / --keep-static"
        )
    steps = group_steps(calls, gap_s=gap_s)
    values = Values()
    codes: dict[int, _Code] = {}
    for step in steps:
        for call in step.calls:
            codes[call.first.index] = _call_code(call, values)
            route = route_of(urlsplit(call.final.url).path)
            values.learn_response(call.first.index, call.final, route)
    body = _journey_body(steps, codes, values)
    routes = _routes(calls)
    source = _module(path.name, name, steps, calls, dropped, values, body, routes)
    return Imported(source, name, len(steps), len(calls), dropped, tuple(sorted(values.env)))


def _call_code(call: Call, values: Values) -> _Code:
    first = call.first
    body = _json_body(first)
    values.learn_request(first, body)
    args: list[str | tuple[str, Any]] = [_path_code(call, values)]
    query = parse_qsl(urlsplit(first.url).query, keep_blank_values=True)
    if query:
        args.append(("params", _fields(query, values)))
    headers = _headers(call, values)
    if first.form is not None:
        args.append(("data", _fields(first.form, values)))
    elif body is not None:
        args.append(("json", _substitute(body, values)))
    elif first.body_text:
        args.append(("content", _template(values.inside(first.body_text))))
        if first.header("content-type"):
            headers["content-type"] = first.header("content-type")
    if headers:
        args.append(("headers", headers))
    status = call.final.status
    if status != 200:
        args.append(("expect", status))
    if call.follow is not None:
        args.append(("follow_redirects", call.follow))
    client = "j.mobile" if call.touchpoint == "mobile" else "j.api"
    return _Code(call, client, first.method, args)


def _json_body(exchange: Exchange) -> Any:
    if not exchange.body_text or not exchange.body_mime.endswith("json"):
        return None
    try:
        return json.loads(exchange.body_text)
    except ValueError:
        return None


def _path_code(call: Call, values: Values) -> str:
    if not call.touchpoint:  # a third-party URL kept whole
        return _literal(call.path)
    segments = call.path.split("/")
    parts: list[str | Ref] = []
    for position, segment in enumerate(segments):
        if position:
            parts.append("/")
        before = segments[position - 1] if position else ""
        replaced = values.member(before, segment) if segment else segment
        parts.append(replaced if isinstance(replaced, Ref) else segment)
    code = _literal(_template(_merge(parts)))
    return f"page(j, {code})" if call.touchpoint == "web" else code


def _fields(pairs: Sequence[tuple[str, str]], values: Values) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        replaced = values.whole(value)
        if key in out:
            out[key] = [*out[key], replaced] if isinstance(out[key], list) else [out[key], replaced]
        else:
            out[key] = replaced
    return out


def _substitute(body: Any, values: Values) -> Any:
    if isinstance(body, dict):
        return {str(k): _substitute(v, values) for k, v in body.items()}
    if isinstance(body, list):
        return [_substitute(v, values) for v in body]
    return values.whole(body)


def _headers(call: Call, values: Values) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in call.first.headers:
        if name in DROPPED_HEADERS or name.startswith((":", "sec-")) or name in kept:
            continue
        if call.touchpoint == "mobile" and name.startswith(_MOBILE_OWN):
            continue
        parts = values.inside(value)
        if SECRET_HEADERS.search(name) and not any(isinstance(p, Ref) for p in parts):
            parts = [Ref(values.env_ref(name))]
        kept[name] = _template(parts)
    return kept


class _Raw(str):
    """Code already written (an f-string or an expression), not a value to quote."""


def _merge(parts: list[str | Ref]) -> list[str | Ref]:
    merged: list[str | Ref] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + part
        else:
            merged.append(part)
    return merged


def _template(parts: list[str | Ref]) -> Any:
    """A literal, a `Ref`, or an f-string joining both."""
    parts = _merge(parts)
    if len(parts) == 1:
        return parts[0]
    if not any(isinstance(p, Ref) for p in parts):
        return "".join(p for p in parts if isinstance(p, str))
    inner = ""
    for part in parts:
        if isinstance(part, Ref):
            inner += "{" + part.code + "}"
        else:
            text = json.dumps(part, ensure_ascii=False)[1:-1]
            inner += text.replace("{", "{{").replace("}", "}}")
    return _Raw(f'f"{inner}"')


def _literal(value: Any) -> str:
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, Ref):
        return f"str({value.code})" if value.text else value.code
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)


def _fmt(value: Any, indent: int) -> str:
    """`value` as code, broken over lines when one line would pass the width."""
    one = _literal(value)
    if indent + len(one) + 2 <= WIDTH or not isinstance(value, dict | list) or not value:
        return one
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        items = [f"{pad}{_literal(k)}: {_fmt(v, indent + 4)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{pad}{_fmt(v, indent + 4)}," for v in value]
    return "[\n" + "\n".join(items) + "\n" + " " * indent + "]"


def _call_lines(code: _Code, indent: int, keep: bool) -> list[str]:
    pad = " " * indent
    method = code.method.lower()
    head = f"{code.client}.{method}(" if code.method in _METHODS else f"{code.client}.request("
    if code.method not in _METHODS:
        code.args.insert(0, _literal(code.method))
    head = ("r = " if keep else "") + head
    rendered = [a if isinstance(a, str) else f"{a[0]}={_literal(a[1])}" for a in code.args]
    line = pad + head + ", ".join(rendered) + ")"
    if len(line) <= WIDTH:
        return [line]
    inner = " " * (indent + 4)
    lines = [pad + head]
    for arg in code.args:
        text = arg if isinstance(arg, str) else f"{arg[0]}={_fmt(arg[1], indent + 4)}"
        lines.extend((inner + text + ",").split("\n"))
    return [*lines, pad + ")"]


def _journey_body(steps: list[StepPlan], codes: dict[int, _Code], values: Values) -> list[str]:
    lines: list[str] = []
    for position, step in enumerate(steps):
        if position and step.think_s >= 0.1:
            lines.append(f'    j.think("{step.think_s:g}s")')
        lines.append(f"    with j.step({_literal(step.name)}, on={_literal(step.touchpoint)}):")
        for call in step.calls:
            keeps = values.by_producer.get(call.first.index, [])
            lines.extend(_call_lines(codes[call.first.index], 8, bool(keeps)))
            for candidate in keeps:
                lines.append(f"        j.vars['{candidate.var}'] = {candidate.accessor}")
    return lines


def _routes(calls: Sequence[Call]) -> list[str]:
    seen: list[str] = []
    for call in calls:
        if call.touchpoint:
            route = f"{call.first.method} {route_of(urlsplit(call.first.url).path)}"
            if route not in seen:
                seen.append(route)
    return seen


HIDDEN_HELPER = '''

def hidden(html, name):
    """The value of the page's hidden field (or meta tag) called `name`."""
    for tag in re.findall(r"<(?:input|meta)\\b[^>]*>", html):
        if f'name="{name}"' in tag:
            found = re.search(r'(?:value|content)="([^"]*)"', tag)
            if found:
                return found.group(1)
    raise AssertionError(f"the page has no field {name!r}")
'''


def _module(
    har_name: str,
    name: str,
    steps: list[StepPlan],
    calls: list[Call],
    dropped: Dropped,
    values: Values,
    body: list[str],
    routes: list[str],
) -> str:
    text = "\n".join(body)
    left_out = (
        f"{dropped.static} static asset(s), {dropped.third_party} third-party request(s)"
        + (f" ({', '.join(sorted(dropped.hosts))})" if dropped.hosts else "")
        + f", {dropped.unanswered} unanswered"
    )
    env = "".join(f"\n- `{k}`: the recorded {v}" for k, v in sorted(values.env.items()))
    about = textwrap.fill(
        f"Left out: {left_out}. Pages are replayed over HTTP through j.api (no browser), "
        "sharing its cookie jar; the recorded person is this iteration's synthetic one "
        "(j.user, j.synth.card).",
        WIDTH,
    )
    doc = (
        f'"""Imported from {har_name} by `harness import har`: {len(steps)} steps, '
        f"{len(calls)} requests.\n\n{about}"
        + (f"\n\nSecrets of the recording are read from the environment:{env}" if env else "")
        + '\n"""'
    )
    imports = ["import os"] if "os.environ" in text else []
    if "hidden(" in text:
        imports.append("import re")
    head = [doc, "", *imports, *([""] if imports else []), "from harness import journey", ""]
    helpers = [
        "",
        "def page(j, path):",
        '    """A web page of the target: replayed over HTTP, sharing j.api\'s cookies."""',
        '    return j.target.web.rstrip("/") + path',
    ]
    if "hidden(" in text:
        helpers.extend(HIDDEN_HELPER.rstrip("\n").split("\n"))
    decorator = [f"@journey(name={_literal(name)}, browser=False, routes={_literal(routes)})"]
    if len(decorator[0]) > WIDTH:
        decorator = [
            "@journey(",
            f"    name={_literal(name)},",
            "    browser=False,",
            f"    routes={_fmt(routes, 4)},",
            ")",
        ]
    function = [
        "",
        "",
        *decorator,
        f"def {name}(j):",
        f'    """The requests recorded in {har_name}, step by step."""',
        *body,
    ]
    lines = "\n".join([*head, *helpers, *function]).split("\n")
    fixed = [ln + "  # noqa: E501" if len(ln) > WIDTH else ln for ln in lines]
    return "\n".join(fixed) + "\n"
