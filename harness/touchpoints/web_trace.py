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

A page the journey's page opens (a popup, a `target=_blank` link) is held the same way from the
moment Playwright reports it: the next action waits until it is held, so the requests the
popup makes from then on carry that action's headers; its very first document request may
already be on its way by then and go without them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, CDPSession, Page

#: the requests a trace follows: what `j.web` records as a step's requests
_RESOURCE_TYPES = ("Document", "XHR", "Fetch")


def patterns(origins: Iterable[str]) -> list[dict[str, str]]:
    """`Fetch.enable` patterns: each origin's documents, fetch and XHR requests."""
    return [
        {"urlPattern": f"{origin}/*", "resourceType": kind, "requestStage": "Request"}
        for origin in sorted(set(origins))
        for kind in _RESOURCE_TYPES
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


class TraceHeaders:
    """Holds the target's requests of a context's pages and adds `headers` (the action in
    progress)."""

    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = tuple(sorted(set(origins)))
        self.headers: dict[str, str] = {}  #: the current action's trace headers ({}: none)
        self._sessions: dict[Page, CDPSession] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._holding: set[asyncio.Task[None]] = set()  #: popups' holds not awaited yet

    @property
    def installed(self) -> bool:
        """True once the page's requests to the target are held."""
        return bool(self._sessions)

    async def install(self, context: BrowserContext, page: Page) -> None:
        """Hold `page`'s document, fetch and XHR requests to the target's origins (two round
        trips, once for the page's life, a reused context's too), and those of every page it
        opens from now on."""
        context.on("page", self._opened)
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
            await cdp.send("Fetch.enable", {"patterns": patterns(self.origins)})

    def _closed(self, page: Page) -> None:
        self._sessions.pop(page, None)

    def _opened(self, page: Page) -> None:
        if page not in self._sessions:
            self._holding.add(self._track(self._hold(page.context, page)))

    async def ready(self) -> None:
        """Wait until every page opened so far is held (an action after a popup opened)."""
        if self._holding:
            holding, self._holding = self._holding, set()
            await asyncio.gather(*holding, return_exceptions=True)

    def _track(self, work: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._pending.discard)
        return task

    def _paused(self, cdp: CDPSession, event: dict[str, Any]) -> None:
        self._track(self._continue(cdp, event))

    async def _continue(self, cdp: CDPSession, event: dict[str, Any]) -> None:
        params: dict[str, Any] = {"requestId": event["requestId"]}
        if self.headers:
            request = event.get("request") or {}
            params["headers"] = merged(request.get("headers") or {}, self.headers)
        # the page may have gone (closed, navigated away) while the request was held
        with contextlib.suppress(Exception):
            await cdp.send("Fetch.continueRequest", params)
