"""What a `WebSession`'s browser context does besides actions: refusing blocked requests
(`[targets.NAME] block`), and, with `--browser-context reuse`, starting the next iteration
clean in the same context.

Reuse keeps one context and page per virtual user. Between iterations every other page the
iteration opened (popups) is closed, and the page leaves for `about:blank` first (so the app's
unload handlers run, and whatever they write is cleared too; a popup left open would go on
writing), then cookies, permissions, the storage of every origin the pages talked to (local and
session storage, IndexedDB, Cache Storage, service workers) and the HTTP cache are cleared.
The HTTP cache is Chromium's and shared by its contexts: clearing it for one user makes the
others' next requests uncached too, never the other way round.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, CDPSession, Page, Route

    from harness.records import RequestRecord
    from harness.touchpoints.web import BrowserHost

#: `Storage.clearDataForOrigin` storage types: everything an origin keeps but its cookies
#: (cleared for the whole context at once); `local_storage` clears session storage too
_STORAGE = "local_storage,indexeddb,websql,cache_storage,service_workers,file_systems,shader_cache"


class Blocker:
    """Counts and refuses the requests a context's `block` expression matches; Playwright's
    driver matches the URLs, so only the refused requests reach Python."""

    def __init__(self, pattern: re.Pattern[str], counted: Callable[[], None]) -> None:
        self.pattern = pattern
        self.blocked = 0
        self._counted = counted  #: told of each refused request (the process's total)

    async def install(self, context: BrowserContext) -> None:
        """Refuse matching requests of every page of `context`."""
        await context.route(self.pattern, self._refuse)

    async def _refuse(self, route: Route) -> None:
        self.blocked += 1
        self._counted()
        # the page may have gone away meanwhile: the request was refused all the same
        with contextlib.suppress(Exception):
            await route.abort("blockedbyclient")


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, None for any other (data:, about:, blob:)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


class Cleaner:
    """Clears one reused context between iterations (see the module's docstring)."""

    def __init__(self) -> None:
        self.origins: set[str] = set()  #: origins the page requested since the last clearing
        self._cdp: CDPSession | None = None

    def saw(self, url: str) -> None:
        """Note the origin of a request the page made."""
        origin = origin_of(url)
        if origin is not None:
            self.origins.add(origin)

    async def clear(self, context: BrowserContext, page: Page) -> None:
        """Close the iteration's popups and leave the page for about:blank, then clear cookies,
        permissions, storage and cache: sent together, two round trips in all whatever the
        number of origins (each round trip is a wake-up of the driver, Chromium and its
        renderer: what a reused iteration costs on a busy machine)."""
        await asyncio.gather(*(other.close() for other in context.pages if other is not page))
        # committed is enough: the old document's unload handlers ran before about:blank
        # committed, and waiting for its load event as well cost Chromium 20-40 ms of CPU
        # (tests/integration/test_browser_context.py checks pagehide's writes are cleared)
        await page.goto("about:blank", wait_until="commit")
        if self._cdp is None:
            self._cdp = await context.new_cdp_session(page)
        cdp = self._cdp
        origins, self.origins = self.origins, set()
        await asyncio.gather(
            *(
                cdp.send("Storage.clearDataForOrigin", {"origin": o, "storageTypes": _STORAGE})
                for o in sorted(origins)
            ),
            cdp.send("Network.clearBrowserCache"),
            context.clear_cookies(),
            context.clear_permissions(),
        )


class ContextLifecycle:
    """The part of `WebSession` that reuses its context across iterations (`reuse`) and
    records its Playwright trace."""

    host: BrowserHost
    closed: bool
    cleaner: Cleaner | None
    _context: BrowserContext | None
    _page: Page | None
    _tracing: bool
    _record_trace: bool
    _headers: dict[str, str]
    _requests: list[RequestRecord]

    async def _start_trace(self) -> None:
        if self._record_trace and not self._tracing and self._context is not None:
            await self._context.tracing.start(screenshots=True, snapshots=True)
            self._tracing = True

    @property
    def usable(self) -> bool:
        """Open, with its Chromium still running (a reused session after a crash is not)."""
        return not self.closed and self._page is not None and self.host.connected

    def begin(self, headers: dict[str, str]) -> None:
        """`reuse`: start another iteration in this context, with its extra headers."""
        if headers != self._headers or (self._record_trace and not self._tracing):
            self.host.call(self._begin(headers))

    async def _begin(self, headers: dict[str, str]) -> None:
        if headers != self._headers and self._context is not None:
            await self._context.set_extra_http_headers(headers)
            self._headers = headers
        await self._start_trace()

    def reset(self) -> None:
        """`reuse`: clear what this iteration left (cookies, storage, cache; see
        `harness.touchpoints.web_context`) for the next; raises when the context is gone."""
        self.host.call(self._reset())
        cast(Any, self).restore_timeouts()  # `j.web.set_timeouts` lasts one iteration (Vocabulary)

    async def _reset(self) -> None:
        assert self.cleaner is not None and self._context is not None and self._page is not None
        self._requests = []
        if self._tracing:
            self._tracing = False
            await self._context.tracing.stop()
        await self.cleaner.clear(self._context, self._page)
