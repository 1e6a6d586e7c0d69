"""The lazily launched Chromium of a `pytest --harness` process, whose event loop is closed once
it stops (pytest turns the unclosed loop's ResourceWarnings into errors)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.touchpoints.web import BrowserHost


@contextlib.contextmanager
def browser_host(*, headless: bool) -> Iterator[Callable[[], BrowserHost]]:
    """`virtual_user.browser_host_for`, except that the browser's event loop is closed once it
    stops: `BrowserHost.close` stops it without closing it, and the unclosed loop's
    ResourceWarnings become errors under pytest's `-W error` at the end of the session."""
    host: BrowserHost | None = None

    def get() -> BrowserHost:
        nonlocal host
        if host is None:
            from harness.touchpoints.web import BrowserHost

            host = BrowserHost(headless=headless, host_loop=_thread_closing_loop)
        return host

    try:
        yield get
    finally:
        if host is not None:
            host.close()


def _thread_closing_loop(run_forever: Callable[[], None]) -> threading.Thread:
    loop = getattr(run_forever, "__self__", None)

    def run() -> None:
        run_forever()
        if isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_closed():
            loop.close()

    thread = threading.Thread(target=run, name="harness-browser", daemon=True)
    thread.start()
    return thread
