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
    """Holds the target's requests of one page and adds `headers` (the action in progress)."""

    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = tuple(sorted(set(origins)))
        self.headers: dict[str, str] = {}  #: the current action's trace headers ({}: none)
        self._cdp: CDPSession | None = None
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def installed(self) -> bool:
        """True once the page's requests to the target are held."""
        return self._cdp is not None

    async def install(self, context: BrowserContext, page: Page) -> None:
        """Hold `page`'s document, fetch and XHR requests to the target's origins: two round
        trips, once for the page's life (a reused context's too)."""
        cdp = await context.new_cdp_session(page)
        cdp.on("Fetch.requestPaused", self._paused)
        self._cdp = cdp  # before enabling: a request held from then on is continued
        await cdp.send("Fetch.enable", {"patterns": patterns(self.origins)})

    def _paused(self, event: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._continue(event))
        self._pending.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._pending.discard)

    async def _continue(self, event: dict[str, Any]) -> None:
        cdp = self._cdp
        if cdp is None:
            return
        params: dict[str, Any] = {"requestId": event["requestId"]}
        if self.headers:
            request = event.get("request") or {}
            params["headers"] = merged(request.get("headers") or {}, self.headers)
        # the page may have gone (closed, navigated away) while the request was held
        with contextlib.suppress(Exception):
            await cdp.send("Fetch.continueRequest", params)
