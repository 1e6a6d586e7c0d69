"""The `web` touchpoint: real Chromium through Playwright's async API, behind a synchronous facade.

Playwright runs on an asyncio loop in its own thread (`BrowserHost`, one Chromium per process).
Journeys call `j.web.goto(...)` synchronously; the facade submits the coroutine to that loop and
waits with a `Waiter`: a plain blocking wait by default, a cooperative gevent wait when Locust
drives (Playwright's sync API must not be used under gevent). The session facade a journey sees
as `j.web` is `WebSession` (`harness/touchpoints/web_session.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from harness.block_patterns import compiled
from harness.errors import BrowserError, UsageError
from harness.touchpoints import chromium_sandbox
from harness.touchpoints.chromium_sandbox import SandboxChoice
from harness.touchpoints.web_session import WebSession, first_line
from harness.touchpoints.web_trace import DocumentHold

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

T = TypeVar("T")

#: Playwright adds `--no-sandbox` itself when the sandbox is off (`chromium_sandbox=False`)
CHROMIUM_FLAGS = (
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-first-run",
)

Waiter = Callable[["Future[Any]"], Any]
LoopHost = Callable[[Callable[[], None]], object]  #: starts `loop.run_forever` somewhere


def in_thread(run: Callable[[], None]) -> None:
    """Run `run` in a daemon thread of its own (a journey's event handler, off the loop)."""
    threading.Thread(target=run, name="harness-handler", daemon=True).start()


def blocking_wait(future: Future[Any]) -> Any:
    """Wait for a coroutine submitted to the browser loop, blocking this thread."""
    return future.result()


def gevent_wait(future: Future[Any]) -> Any:
    """Wait for a browser-loop future without blocking the other greenlets (under Locust)."""
    from gevent.event import AsyncResult

    done: AsyncResult = AsyncResult()
    future.add_done_callback(lambda _: done.set(None))
    done.get()
    return future.result()


_INSTALL = "Install the 'chromium' package or set HARNESS_CHROMIUM to a Chromium executable"
#: Chromium's profile lock is a Unix socket, TMPDIR/org.chromium.Chromium.XXXXXX/SingletonSocket,
#: whose path may hold 107 characters: beyond 62 for TMPDIR, Chromium exits as it starts
#: (Playwright: "Target page, context or browser has been closed")
TMPDIR_MAX = 107 - len("/org.chromium.Chromium.XXXXXX/SingletonSocket")


def tmpdir_too_long() -> str | None:
    """Why Chromium cannot start under this TMPDIR (too long for its lock socket), or None."""
    tmpdir = os.environ.get("TMPDIR") or "/tmp"
    if len(tmpdir) <= TMPDIR_MAX:
        return None
    return (
        f"TMPDIR is {len(tmpdir)} characters long ({tmpdir}): Chromium's profile lock, a Unix "
        f"socket in it, needs a TMPDIR of at most {TMPDIR_MAX}; set TMPDIR to a shorter folder"
    )


def find_chromium() -> str | None:
    """The Chromium to launch: `HARNESS_CHROMIUM`, else one on PATH, else None (Playwright's)."""
    configured = os.environ.get("HARNESS_CHROMIUM")
    if configured:
        if not os.access(configured, os.X_OK):
            raise UsageError(
                f"HARNESS_CHROMIUM={configured!r} is not an executable file; point it at a "
                "Chromium binary, e.g. HARNESS_CHROMIUM=/usr/bin/chromium"
            )
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _set_affinity(cpus: set[int] | None) -> set[int] | None:
    """Pin the calling thread to `cpus`; return its previous set (None: nothing changed)."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return None
    previous = set(os.sched_getaffinity(0))
    try:
        os.sched_setaffinity(0, cpus)
    except OSError:
        return None
    return previous


class BrowserHost:
    """One Chromium for this process, driven from an asyncio loop hosted in a daemon thread
    (default) or, under Locust, in a gevent greenlet (`host_loop=gevent.spawn`)."""

    def __init__(
        self,
        *,
        executable: str | None = None,
        headless: bool = True,
        waiter: Waiter = blocking_wait,
        host_loop: LoopHost | None = None,
        launch_timeout: float = 30.0,
        cpus: set[int] | None = None,
        sandbox: SandboxChoice | None = None,
        spawn: LoopHost = in_thread,
    ) -> None:
        """`sandbox`: Chromium's sandbox on or off (default: as this process and kernel allow,
        `chromium_sandbox.for_this_process`); `spawn` starts a journey's event handler off the
        browser loop (`gevent.spawn` under Locust)."""
        self.executable = executable if executable is not None else find_chromium()
        #: the sandbox Chromium runs with; off after a sandboxed launch failed
        self.sandbox = sandbox if sandbox is not None else chromium_sandbox.for_this_process()
        self.headless = headless
        self.waiter = waiter
        #: starts a journey's event handler (`page.on(...)`, `page.route(...)`) off the loop
        self.spawn = spawn
        self.cpus = cpus
        self._host_loop: LoopHost = host_loop or self._in_thread
        self.launch_timeout = launch_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self.restarts = 0  #: times Chromium was launched again after it stopped
        self.blocked = 0  #: requests refused by the targets' `block` patterns, all contexts
        self._documents: DocumentHold | None = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        """True once Chromium is running."""
        return self._browser is not None

    def start(self) -> None:
        """Start the loop and launch Chromium; raises `BrowserError` when it cannot."""
        with self._lock:
            if self._browser is not None:
                return
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._host_loop(loop.run_forever)
            self._browser = self.call(self._launch())

    def _in_thread(self, run: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=run, name="harness-browser", daemon=True)
        self._thread.start()

    async def _launch(self) -> Browser:
        from playwright.async_api import Error, async_playwright

        # Children inherit the CPU affinity of the thread that starts them: start Playwright's
        # driver (and so Chromium) on the browser cores, then give this thread its cores back.
        previous = _set_affinity(self.cpus)
        try:
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            try:
                return await self._launch_chromium(self._playwright)
            except Error as exc:
                if not self.sandbox.sandbox or not chromium_sandbox.looks_like_sandbox_failure(
                    str(exc)
                ):
                    raise
                self.sandbox = chromium_sandbox.sandbox_failed(str(exc))
                return await self._launch_chromium(self._playwright)
        except Error as exc:
            where = self.executable or "Playwright's bundled Chromium"
            raise BrowserError(
                f"could not launch Chromium ({where}): {first_line(exc)}. "
                f"{tmpdir_too_long() or _INSTALL}"
            ) from None
        finally:
            _set_affinity(previous)

    async def _launch_chromium(self, playwright: Playwright) -> Browser:
        return await playwright.chromium.launch(
            executable_path=self.executable,
            headless=self.headless,
            chromium_sandbox=self.sandbox.sandbox,
            args=list(CHROMIUM_FLAGS),
            timeout=self.launch_timeout * 1000,
        )

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the browser loop and wait for its result with the host's waiter."""
        if self._loop is None:
            raise BrowserError("the browser host is not started")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        result: T = self.waiter(future)
        return result

    def new_session(
        self,
        *,
        base_url: str,
        artifacts_dir: Path,
        device: str | None = None,
        action_timeout: float = 5.0,
        navigation_timeout: float = 15.0,
        record_trace: bool = True,
        extra_headers: dict[str, str] | None = None,
        block: tuple[str, ...] = (),
        reuse: bool = False,
        trace_origins: tuple[str, ...] = (),
    ) -> WebSession:
        """A fresh browser context (cookies, storage) for one journey iteration, or with `reuse`
        for one virtual user's iterations (`WebSession.reset` clears it between them); requests
        matching `block` (`harness.block_patterns`) are refused and counted. A Chromium that
        crashed (or was killed) since the last one is launched again first. Traced actions'
        `traceparent` goes to `trace_origins` and the base URL's origin only
        (`harness.touchpoints.web_trace`)."""
        self.start()
        if not self.connected:
            self._relaunch()
        session = WebSession(
            self,
            base_url=base_url,
            artifacts_dir=artifacts_dir,
            action_timeout=action_timeout,
            navigation_timeout=navigation_timeout,
        )
        session.trace_origins = tuple(sorted({*session.trace_origins, *trace_origins}))
        pattern = compiled(block) if block else None
        self.call(session._open(device, record_trace, extra_headers or {}, pattern, reuse))
        return session

    @property
    def connected(self) -> bool:
        """Chromium is running: read from the driver's last word, without a round trip to the
        browser loop (one per iteration was a measurable share of a short web journey)."""
        return self._browser is not None and self._browser.is_connected()

    def count_blocked(self) -> None:
        """One more request refused by a `block` pattern (called on the browser loop)."""
        self.blocked += 1

    def _relaunch(self) -> None:
        with self._lock:
            if self.connected:
                return
            self.restarts += 1
            print(
                f"  Chromium stopped (crashed or killed); launching it again (restart "
                f"{self.restarts})",
                flush=True,
            )
            self._browser = self.call(self._launch())

    def close(self) -> None:
        """Close Chromium and stop the loop thread; safe to call twice."""
        with self._lock:
            loop, self._loop = self._loop, None
            if loop is None:
                return
            browser, self._browser = self._browser, None
            playwright, self._playwright = self._playwright, None

            async def shutdown() -> None:
                if browser is not None:
                    await browser.close()
                if playwright is not None:
                    await playwright.stop()
                # Actions still waiting on the stopped browser (an iteration cut off at the
                # run's end) are cancelled, not left pending: a loop closed over a pending task
                # prints "Task was destroyed but it is pending!" at exit.
                current = asyncio.current_task()
                left = [task for task in asyncio.all_tasks() if task is not current]
                for task in left:
                    task.cancel()
                if left:
                    await asyncio.wait(left, timeout=5)

            # A browser that will not close is killed with the process.
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=15)
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
                if not self._thread.is_alive():
                    loop.close()

    @property
    def browser(self) -> Browser:
        """The running Playwright browser (for the async escape hatch)."""
        if self._browser is None:
            raise BrowserError("the browser host is not started")
        return self._browser

    @property
    def documents(self) -> DocumentHold:
        """The browser-level hold on the documents traced actions' headers go on (`web_trace`),
        one per Chromium: a relaunched Chromium gets its own."""
        browser = self.browser
        if self._documents is None or self._documents.browser is not browser:
            self._documents = DocumentHold(browser)
        return self._documents

    @property
    def playwright(self) -> Playwright:
        """The running Playwright driver."""
        if self._playwright is None:
            raise BrowserError("the browser host is not started")
        return self._playwright
