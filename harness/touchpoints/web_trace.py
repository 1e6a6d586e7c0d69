"""Trace headers on a browser context's requests to the target, and to no other host.

A traced web action's span goes to the target as `traceparent` (and `baggage`), so the
target's server spans join the journey trace. `context.set_extra_http_headers` would put them
on every request, third-party hosts included (where they trigger CORS preflights), and cost a
round trip to Chromium before each action. Instead, requests for documents, `fetch` and XHR to
the target's origins are held at Chromium's request stage (the DevTools `Fetch` domain, its
URL patterns matched by Chromium, so no other request is held or reaches Python) and continue
with the headers of the action in progress: an action only swaps a dict here, no round trip.
Static files (scripts, styles, images) and every other origin go out untouched, with no
`traceparent`. The context's own extra headers (`X-Feature-Flags`, the target's web headers)
are Playwright's and stay on every request.

Documents are held by one browser-level session (`DocumentHold`, one per Chromium): a page's
own session exists only once Playwright reports the page, and Playwright reports a popup (a
`window.open`, a `target=_blank` link) only after its first document has arrived, so only the
browser-level hold sees a popup's first request. A held document is matched to its context by
its frame: a page's frame id is its target id, learnt when its session is made; a frame not met
yet is a popup (its target names its browser context) or an iframe (the page that owns it
says so). `fetch` and XHR requests, which the browser-level hold does not see, are held by each
page's own session. Each request is held once either way.

Playwright's own routing (`context.route`) would also hold a popup's first request, but it
turns Chromium's HTTP cache off for every page it intercepts (`Network.setCacheDisabled`),
which would change what the gates see.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, CDPSession, Page

#: the requests a trace follows: what `j.web` records as a step's requests
_RESOURCE_TYPES = ("Document", "XHR", "Fetch")
#: held by the browser-level session (the only one that sees a popup's first request)
_DOCUMENTS = ("Document",)
#: held by each page's own session (the browser-level session does not see them)
_SUBRESOURCES = ("XHR", "Fetch")


def patterns(
    origins: Iterable[str], kinds: Iterable[str] = _RESOURCE_TYPES
) -> list[dict[str, str]]:
    """`Fetch.enable` patterns: each origin's requests of `kinds` (documents, fetch, XHR)."""
    return [
        {"urlPattern": f"{origin}/*", "resourceType": kind, "requestStage": "Request"}
        for origin in sorted(set(origins))
        for kind in kinds
    ]


def merged(request_headers: dict[str, str], trace: dict[str, str]) -> list[dict[str, str]]:
    """The request's own headers with `trace` put in (replacing any of the same name, in any
    case), as `Fetch.continueRequest` takes them."""
    names = {name.lower() for name in trace}
    kept = [
        {"name": name, "value": value}
        for name, value in request_headers.items()
        if name.lower() not in names
    ]
    return kept + [{"name": name, "value": value} for name, value in trace.items()]


class _Tasks:
    """Tasks started from CDP event handlers, kept until done (the loop keeps only weak
    references)."""

    def __init__(self) -> None:
        self._pending: set[asyncio.Task[None]] = set()

    def track(self, work: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task


async def _continue(cdp: CDPSession, event: dict[str, Any], trace: dict[str, str]) -> None:
    """Let a held request go, with `trace` (the action's headers) put in when there are any."""
    params: dict[str, Any] = {"requestId": event["requestId"]}
    if trace:
        request = event.get("request") or {}
        params["headers"] = merged(request.get("headers") or {}, trace)
    # the page may have gone (closed, navigated away) while the request was held
    with contextlib.suppress(Exception):
        await cdp.send("Fetch.continueRequest", params)


class DocumentHold:
    """One Chromium's browser-level hold on documents requested from the traced origins, for
    every context's pages (popups before Playwright reports them, iframes too); each document
    goes on with the headers of its context's action in progress."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self._cdp: CDPSession | None = None
        self._origins: frozenset[str] = frozenset()
        self._lock = asyncio.Lock()
        self._tracers: set[TraceHeaders] = set()
        self._contexts: dict[str, TraceHeaders] = {}  #: browser context id -> its tracer
        self._frames: dict[str, TraceHeaders] = {}  #: a page's frame (target) id -> tracer
        self._tasks = _Tasks()

    async def add(self, tracer: TraceHeaders) -> None:
        """Hold the documents of `tracer`'s origins from now on (the first call per Chromium
        opens the browser-level session: two round trips; a new origin costs one)."""
        self._tracers.add(tracer)
        async with self._lock:
            if self._cdp is None:
                cdp = await self.browser.new_browser_cdp_session()
                cdp.on("Fetch.requestPaused", self._paused)
                self._cdp = cdp
            wanted = self._origins | set(tracer.origins)
            if wanted != self._origins:
                await self._cdp.send("Fetch.enable", {"patterns": patterns(wanted, _DOCUMENTS)})
                self._origins = wanted

    def page(self, tracer: TraceHeaders, target: dict[str, Any]) -> None:
        """`target` (`Target.getTargetInfo` of a page of `tracer`'s context) is `tracer`'s."""
        self._frames[target["targetId"]] = tracer
        if target.get("browserContextId"):
            self._contexts[target["browserContextId"]] = tracer

    def forget(self, frame: str) -> None:
        """A page closed: its frame id is no one's any more."""
        self._frames.pop(frame, None)

    def remove(self, tracer: TraceHeaders) -> None:
        """`tracer`'s context closed; its origins stay held (later contexts trace the same)."""
        self._tracers.discard(tracer)
        for table in (self._contexts, self._frames):
            for key in [key for key, value in table.items() if value is tracer]:
                del table[key]

    def _paused(self, event: dict[str, Any]) -> None:
        tracer = self._frames.get(event.get("frameId") or "")
        if tracer is not None:  # a page already met: no round trip
            self._tasks.track(self._continue(event, tracer))
        else:
            self._tasks.track(self._continue_unmet(event))

    async def _continue(self, event: dict[str, Any], tracer: TraceHeaders | None) -> None:
        assert self._cdp is not None
        await _continue(self._cdp, event, tracer.headers if tracer is not None else {})

    async def _continue_unmet(self, event: dict[str, Any]) -> None:
        tracer = None
        # a document whose context cannot be told goes on without trace headers, never stays held
        with contextlib.suppress(Exception):
            tracer = await self._owner(event.get("frameId") or "")
        await self._continue(event, tracer)

    async def _owner(self, frame: str) -> TraceHeaders | None:
        """The tracer of the context a frame not met yet belongs to: a page Playwright has not
        reported (a popup's first document) by its target's browser context, an iframe by the
        page that owns it; None for another context's (untraced) frame."""
        assert self._cdp is not None
        if not frame:  # a request no frame made (a service worker's): no context to tell
            return None
        try:
            info = await self._cdp.send("Target.getTargetInfo", {"targetId": frame})
        except Exception:  # not a target: an iframe in its page's process
            tracers = tuple(self._tracers)
            owners = await asyncio.gather(*(tracer.owns(frame) for tracer in tracers))
            return next((t for t, owns in zip(tracers, owners, strict=True) if owns), None)
        tracer = self._contexts.get(info["targetInfo"].get("browserContextId") or "")
        if tracer is not None:
            self._frames[frame] = tracer
        return tracer


class TraceHeaders:
    """Holds the target's requests of a context's pages and adds `headers` (the action in
    progress)."""

    def __init__(self, origins: Iterable[str], documents: DocumentHold) -> None:
        self.origins = tuple(sorted(set(origins)))
        self.documents = documents  #: the browser-level hold on documents (one per Chromium)
        self.headers: dict[str, str] = {}  #: the current action's trace headers ({}: none)
        self._sessions: dict[Page, CDPSession] = {}
        self._frames: dict[Page, str] = {}  #: each held page's frame (target) id
        self._tasks = _Tasks()
        self._holding: set[asyncio.Task[None]] = set()  #: popups' holds not awaited yet

    @property
    def installed(self) -> bool:
        """True once the page's requests to the target are held."""
        return bool(self._sessions)

    async def install(self, context: BrowserContext, page: Page) -> None:
        """Hold `page`'s document, fetch and XHR requests to the target's origins (two round
        trips, once for the page's life, a reused context's too; the first context of a
        Chromium two more), and those of every page it opens from now on."""
        context.on("page", self._opened)
        context.on("close", lambda _context: self.documents.remove(self))
        await self.documents.add(self)
        await self._hold(context, page)

    async def _hold(self, context: BrowserContext, page: Page) -> None:
        if page.is_closed():
            return
        cdp = await context.new_cdp_session(page)
        cdp.on("Fetch.requestPaused", lambda event: self._paused(cdp, event))
        self._sessions[page] = cdp  # before enabling: a request held from then on is continued
        page.on("close", self._closed)
        # the page may close meanwhile (a popup that closes itself): nothing is held then
        with contextlib.suppress(Exception):
            enabled = cdp.send("Fetch.enable", {"patterns": patterns(self.origins, _SUBRESOURCES)})
            answers: list[Any] = await asyncio.gather(enabled, cdp.send("Target.getTargetInfo"))
            target: dict[str, Any] = answers[1]["targetInfo"]
            self._frames[page] = target["targetId"]
            self.documents.page(self, target)

    def _closed(self, page: Page) -> None:
        self._sessions.pop(page, None)
        frame = self._frames.pop(page, None)
        if frame is not None:
            self.documents.forget(frame)

    def _opened(self, page: Page) -> None:
        if page not in self._sessions:
            self._holding.add(self._tasks.track(self._hold(page.context, page)))

    async def ready(self) -> None:
        """Wait until every page opened so far is held (an action after a popup opened)."""
        if self._holding:
            holding, self._holding = self._holding, set()
            await asyncio.gather(*holding, return_exceptions=True)

    async def owns(self, frame: str) -> bool:
        """True when `frame` is an iframe of one of this context's held pages."""

        async def owner(cdp: CDPSession) -> bool:
            try:
                await cdp.send("DOM.getFrameOwner", {"frameId": frame})
            except Exception:  # "Frame with the given id was not found": another page's
                return False
            return True

        return any(await asyncio.gather(*(owner(cdp) for cdp in tuple(self._sessions.values()))))

    def _paused(self, cdp: CDPSession, event: dict[str, Any]) -> None:
        self._tasks.track(_continue(cdp, event, self.headers))
