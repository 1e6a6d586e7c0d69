"""The `web` touchpoint: real Chromium through Playwright's async API, behind a synchronous facade.

Playwright runs on an asyncio loop in its own thread (`BrowserHost`, one Chromium per process).
Journeys call `j.web.goto(...)` synchronously; the facade submits the coroutine to that loop and
waits with a `Waiter`: a plain blocking wait by default, a cooperative gevent wait when Locust
drives (Playwright's sync API must not be used under gevent).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

from opentelemetry import trace
from opentelemetry.context import Context

from harness.errors import (
    BrowserError,
    ConnectionFailed,
    ExpectationFailed,
    StepError,
    StepTimeout,
    UsageError,
)
from harness.records import RequestRecord
from harness.redact import redact, redact_url
from harness.targets import split_userinfo
from harness.telemetry import spans
from harness.touchpoints import chromium_sandbox
from harness.touchpoints.chromium_sandbox import SandboxChoice

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

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
_RECORDED_RESOURCES = frozenset({"document", "fetch", "xhr"})

Waiter = Callable[["Future[Any]"], Any]
LoopHost = Callable[[Callable[[], None]], object]  #: starts `loop.run_forever` somewhere


def blocking_wait(future: Future[Any]) -> Any:
    """Wait for a coroutine submitted to the browser loop, blocking this thread."""
    return future.result()


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
    ) -> None:
        """`sandbox`: Chromium's sandbox on or off (default: as this process and kernel allow,
        `chromium_sandbox.for_this_process`)."""
        self.executable = executable if executable is not None else find_chromium()
        #: the sandbox Chromium runs with; off after a sandboxed launch failed
        self.sandbox = sandbox if sandbox is not None else chromium_sandbox.for_this_process()
        self.headless = headless
        self.waiter = waiter
        self.cpus = cpus
        self._host_loop: LoopHost = host_loop or self._in_thread
        self.launch_timeout = launch_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self.restarts = 0  #: times Chromium was launched again after it stopped
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
                f"could not launch Chromium ({where}): {_first_line(exc)}. Install the "
                "'chromium' package or set HARNESS_CHROMIUM to a Chromium executable"
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
    ) -> WebSession:
        """A fresh browser context (cookies, storage) for one journey iteration; a Chromium that
        crashed (or was killed) since the last one is launched again first."""
        self.start()
        if not self.call(self._connected()):
            self._relaunch()
        session = WebSession(
            self,
            base_url=base_url,
            artifacts_dir=artifacts_dir,
            action_timeout=action_timeout,
            navigation_timeout=navigation_timeout,
        )
        self.call(session._open(device, record_trace, extra_headers or {}))
        return session

    async def _connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    def _relaunch(self) -> None:
        with self._lock:
            if self.call(self._connected()):
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
    def playwright(self) -> Playwright:
        """The running Playwright driver."""
        if self._playwright is None:
            raise BrowserError("the browser host is not started")
        return self._playwright


@dataclass
class _Artifacts:
    screenshot: Path | None = None
    trace: Path | None = None


class WebSession:
    """`j.web`: one browser context and page, with synchronous actions and expectations.

    Element waits that run out are expectation failures (`assertion`), navigations that run out
    are timeouts, refused connections are `connection`, other Playwright errors are `browser`.
    """

    def __init__(
        self,
        host: BrowserHost,
        *,
        base_url: str,
        artifacts_dir: Path,
        action_timeout: float,
        navigation_timeout: float,
    ) -> None:
        self.host = host
        bare, self._credentials = split_userinfo(base_url)
        self.base_url = bare.rstrip("/") + "/"
        self.artifacts_dir = artifacts_dir
        self.action_timeout = action_timeout
        self.navigation_timeout = navigation_timeout
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._tracing = False
        self._requests: list[RequestRecord] = []
        self.closed = False
        self.trace_parent: Callable[[], Context | None] = lambda: None

    # -- lifecycle ---------------------------------------------------------------------------

    async def _open(self, device: str | None, record_trace: bool, headers: dict[str, str]) -> None:
        options: dict[str, Any] = {}
        if device is not None:
            descriptors = self.host.playwright.devices
            if device not in descriptors:
                close = [d for d in descriptors if device.lower() in d.lower()][:3]
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise UsageError(f"unknown device {device!r} for web emulation{hint}")
            options.update(descriptors[device])
            options.pop("default_browser_type", None)
        if headers:
            options["extra_http_headers"] = headers
        if self._credentials is not None:
            # credentials in the target URL: answered to the target's own 401s, as a browser
            # does, and never sent to another origin
            user, password = self._credentials
            parts = urlsplit(self.base_url)
            options["http_credentials"] = {
                "username": user,
                "password": password,
                "origin": f"{parts.scheme}://{parts.netloc}",
            }
        self._context = await self.host.browser.new_context(**options)
        self._context.set_default_timeout(self.action_timeout * 1000)
        self._context.set_default_navigation_timeout(self.navigation_timeout * 1000)
        if record_trace:
            await self._context.tracing.start(screenshots=True, snapshots=True)
            self._tracing = True
        self._page = await self._context.new_page()
        self._page.on("requestfinished", self._on_request_finished)
        self._page.on("requestfailed", self._on_request_failed)

    def close(self) -> None:
        """Close the context; a running trace is discarded."""
        if self.closed:
            return
        self.closed = True
        self.host.call(self._close())

    async def _close(self) -> None:
        if self._context is None:
            return
        try:
            if self._tracing:
                await self._context.tracing.stop()
                self._tracing = False
            await self._context.close()
        except Exception:  # the context may already be gone with a crashed browser
            pass

    def capture_failure(self, stem: str) -> list[Path]:
        """Save a screenshot and the Playwright trace of this context; return the files saved."""
        if self.closed or self._page is None:
            return []
        saved = self.host.call(self._capture(stem))
        return [p for p in (saved.screenshot, saved.trace) if p is not None]

    async def _capture(self, stem: str) -> _Artifacts:
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        found = _Artifacts()
        assert self._page is not None and self._context is not None
        try:
            path = self.artifacts_dir / f"{stem}.png"
            await self._page.screenshot(path=str(path), full_page=True, timeout=5000)
            found.screenshot = path
        except Exception:  # a page that cannot be drawn still gets its trace saved
            pass
        if self._tracing:
            try:
                path = self.artifacts_dir / f"{stem}-trace.zip"
                await self._context.tracing.stop(path=str(path))
                found.trace = path
            except Exception:  # best effort, the screenshot is the primary evidence
                pass
            self._tracing = False
        return found

    def drain_requests(self) -> list[RequestRecord]:
        """The page's document/fetch/XHR requests seen since the last call."""
        taken, self._requests = self._requests, []
        return taken

    def _on_request_finished(self, request: Any) -> None:
        if request.resource_type not in _RECORDED_RESOURCES:
            return
        timing = request.timing
        duration = max(0.0, float(timing.get("responseEnd", -1)))
        self._requests.append(
            RequestRecord(
                method=request.method,
                url=redact_url(request.url),
                status=None,
                duration_ms=duration,
            )
        )

    def _on_request_failed(self, request: Any) -> None:
        if request.resource_type not in _RECORDED_RESOURCES:
            return
        self._requests.append(
            RequestRecord(
                method=request.method,
                url=redact_url(request.url),
                status=None,
                duration_ms=0.0,
                error=redact(request.failure or "failed"),
            )
        )

    # -- the synchronous facade ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The page's current URL."""
        return self.page_async.url

    @property
    def page_async(self) -> Page:
        """The underlying async Playwright page; use only through `run`."""
        if self._page is None or self.closed:
            raise BrowserError("the web session is closed")
        return self._page

    def run(self, action: Callable[[Page], Awaitable[T]]) -> T:
        """Escape hatch: run `async def action(page)` on the browser loop and return its result."""

        async def call() -> T:
            return await self._guard(action(self.page_async), "custom action")

        return self.host.call(call())

    def goto(self, path: str, *, expect_status: int | None = None) -> int:
        """Open `path` (relative to the web base URL, or absolute); returns the HTTP status.

        Any status of 400 or more fails the step unless it equals `expect_status`.
        """
        return self._act("goto", path, self._goto(path, expect_status))

    async def _goto(self, path: str, expect_status: int | None) -> int:
        url = path if "://" in path else urljoin(self.base_url, path.lstrip("/"))
        response = await self._guard(
            self.page_async.goto(url, wait_until="domcontentloaded"),
            f"open {path}",
            navigation=True,
        )
        status = response.status if response is not None else 200
        if expect_status is not None and status != expect_status:
            raise ExpectationFailed(f"open {path}: answered {status}, expected {expect_status}")
        if expect_status is None and status >= 400:
            from harness.errors import HttpStatusError

            raise HttpStatusError(
                f"GET {path} answered {status}", status=status, method="GET", url=url
            )
        return status

    def click(self, selector: str) -> None:
        """Click the element matching `selector` once it is visible and enabled."""
        self._act(
            "click", selector, self._guard(self.page_async.click(selector), f"click {selector}")
        )

    def fill(self, selector: str, value: str) -> None:
        """Type `value` into the input matching `selector`."""
        self._act(
            "fill", selector, self._guard(self.page_async.fill(selector, value), f"fill {selector}")
        )

    def select(self, selector: str, value: str) -> None:
        """Choose `value` in the `<select>` matching `selector`."""
        action = self._guard(
            self.page_async.select_option(selector, value), f"select in {selector}"
        )
        self._act("select", selector, action)

    def text(self, selector: str) -> str:
        """The visible text of the first element matching `selector`."""
        return self.host.call(
            self._guard(self.page_async.locator(selector).first.inner_text(), f"read {selector}")
        )

    def count(self, selector: str) -> int:
        """How many elements match `selector` right now (no waiting)."""
        return self.host.call(self._guard(self.page_async.locator(selector).count(), "count"))

    def expect_visible(self, selector: str, *, timeout: float | None = None) -> None:
        """Wait until an element matching `selector` is visible."""
        wait = self.page_async.locator(selector).first.wait_for(
            state="visible", timeout=(timeout or self.action_timeout) * 1000
        )
        self._act("wait for", selector, self._guard(wait, f"wait for {selector}"))

    def expect_text(
        self, selector: str, text: str | re.Pattern[str], *, timeout: float | None = None
    ) -> str:
        """Wait until the element matching `selector` contains `text` (or matches the pattern)."""
        return self._act(
            "expect text",
            selector,
            self._expect_text(selector, text, timeout or self.action_timeout),
        )

    async def _expect_text(self, selector: str, text: str | re.Pattern[str], timeout: float) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = ""
        while True:
            remaining = max(0.05, deadline - loop.time())
            locator = self.page_async.locator(selector).first
            await self._guard(
                locator.wait_for(state="visible", timeout=remaining * 1000), f"wait for {selector}"
            )
            seen = await self._guard(locator.inner_text(), f"read {selector}")
            found = text.search(seen) if isinstance(text, re.Pattern) else text in seen
            if found:
                return seen
            if loop.time() >= deadline:
                wanted = text.pattern if isinstance(text, re.Pattern) else text
                raise ExpectationFailed(
                    f"{selector} on {_short(self.page_async.url)} shows {redact(seen)[:120]!r}, "
                    f"expected it to contain {wanted!r}"
                )
            await asyncio.sleep(0.05)

    def expect_url(self, pattern: str | re.Pattern[str], *, timeout: float | None = None) -> None:
        """Wait until the page URL matches `pattern` (a glob like `**/orders/*` or a regex)."""
        wait = self.page_async.wait_for_url(
            pattern, timeout=(timeout or self.navigation_timeout) * 1000, wait_until="commit"
        )
        self._act(
            "wait for url", str(pattern), self._guard(wait, f"wait for the URL to match {pattern}")
        )

    def _act(self, action: str, subject: str, awaitable: Coroutine[Any, Any, T]) -> T:
        """Run one browser action under its own span; while tracing, the requests it causes
        carry that span's `traceparent`, so the target's server spans join the journey trace."""
        span = spans.start_action(
            self.trace_parent(), f"web {action} {subject}"[:120], {"harness.web.action": action}
        )
        headers = (
            spans.trace_headers(trace.set_span_in_context(span)) if span.is_recording() else None
        )
        try:
            result = self.host.call(self._with_headers(headers, awaitable))
        except StepError as exc:
            spans.end_span(span, exc.kind.value, str(exc))
            raise
        spans.end_span(span)
        return result

    async def _with_headers(
        self, headers: dict[str, str] | None, awaitable: Coroutine[Any, Any, T]
    ) -> T:
        if headers and self._context is not None:
            await self._context.set_extra_http_headers(headers)
        return await awaitable

    async def _guard(self, awaitable: Awaitable[T], what: str, *, navigation: bool = False) -> T:
        """Await a Playwright call, turning its errors into classified step errors."""
        from playwright.async_api import Error, TimeoutError

        page = self._page
        where = _short(page.url) if page is not None else "the page"
        try:
            return await awaitable
        except TimeoutError as exc:
            if navigation:
                raise StepTimeout(
                    f"{what}: page did not load in time ({_first_line(exc)})"
                ) from None
            raise ExpectationFailed(
                f"{what} on {where}: element not found or not ready in time"
            ) from None
        except Error as exc:
            message = _first_line(exc)
            if "ERR_CONNECTION_REFUSED" in message or "ERR_CONNECTION_RESET" in message:
                raise ConnectionFailed(f"{what}: {message}") from None
            raise BrowserError(f"{what} on {where}: {message}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _short(url: str) -> str:
    match = re.match(r"^[a-z]+://[^/]+(/.*)?$", url)
    return (match.group(1) or "/") if match else url
