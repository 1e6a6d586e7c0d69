"""`j.web`: one browser context and page of a `BrowserHost`, with synchronous actions and
expectations, and Playwright's errors classified as step errors."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

from opentelemetry import trace
from opentelemetry.context import Context

from harness.errors import BrowserError, ExpectationFailed, StepError, UsageError
from harness.http.urls import is_absolute
from harness.records import RequestRecord
from harness.redact import redact, redact_url
from harness.targets import split_userinfo
from harness.telemetry import spans
from harness.touchpoints import web_vitals, web_vocabulary
from harness.touchpoints.web_context import Blocker, Cleaner, ContextLifecycle, origin_of
from harness.touchpoints.web_errors import first_line, guard, short_url
from harness.touchpoints.web_trace import TraceHeaders

__all__ = ["WebSession", "first_line"]

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

    from harness.touchpoints.web import BrowserHost

T = TypeVar("T")

_RECORDED_RESOURCES = frozenset({"document", "fetch", "xhr"})


@dataclass
class _Artifacts:
    screenshot: Path | None = None
    trace: Path | None = None


class WebSession(ContextLifecycle, web_vocabulary.Vocabulary):
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
        self._record_trace = False
        self._headers: dict[str, str] = {}
        self.blocker: Blocker | None = None  #: refuses the target's `block` patterns
        self.cleaner: Cleaner | None = None  #: `--browser-context reuse`: clears between uses
        #: where traced actions' `traceparent`/`baggage` go (`web_trace`): the target's origins
        self.trace_origins = tuple(o for o in (origin_of(self.base_url),) if o is not None)
        self.tracer: TraceHeaders | None = None
        self._requests: list[RequestRecord] = []
        self._handlers: dict[Any, Any] = {}  #: journeys' callbacks as Playwright gets them
        self.lasting: list[str] = []  #: `j.web.page` calls reuse cannot undo (`LASTING`)
        self.closed = False
        self.trace_parent: Callable[[], Context | None] = lambda: None

    # -- lifecycle ---------------------------------------------------------------------------

    async def _open(
        self,
        device: str | None,
        record_trace: bool,
        headers: dict[str, str],
        block: re.Pattern[str] | None = None,
        reuse: bool = False,
    ) -> None:
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
        self._headers = headers
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
        # relative URLs in Playwright's own calls (`j.web.page.goto("/cart")`, `to_have_url`)
        options["base_url"] = self.base_url
        self._context = await self.host.browser.new_context(**options)
        self._context.set_default_timeout(self.action_timeout * 1000)
        self._context.set_default_navigation_timeout(self.navigation_timeout * 1000)
        if block is not None:
            self.blocker = Blocker(block, self.host.count_blocked)
            await self.blocker.install(self._context)
        self.cleaner = Cleaner() if reuse else None
        self._record_trace = record_trace
        await self._start_trace()
        self._page = await self._context.new_page()
        if web_vitals.enabled():  # Web Vitals per document, from the first navigation on
            await self._context.add_init_script(web_vitals.INIT_SCRIPT)
        # the context's requests: a popup the page opens belongs to the step and its
        # origins to what a reused context clears (`web_context.Cleaner`)
        self._context.on("requestfinished", self._on_request_finished)
        self._context.on("requestfailed", self._on_request_failed)

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
        """The document/fetch/XHR requests of the context's pages (the journey's page and any
        popup it opened) seen since the last call."""
        taken, self._requests = self._requests, []
        return taken

    def _on_request_finished(self, request: Any) -> None:
        if self.cleaner is not None:
            self.cleaner.saw(request.url)
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

    # -- Playwright's own vocabulary (harness/touchpoints/web_vocabulary.py) -------------------

    def guarded(
        self, awaitable: Awaitable[T], what: str, *, navigation: bool
    ) -> Coroutine[Any, Any, T]:
        """`awaitable` with Playwright's errors turned into step errors naming `what`."""
        return self._guard(awaitable, what, navigation=navigation)

    def act_on(self, action: str, what: str, awaitable: Coroutine[Any, Any, T]) -> T:
        """Run one action of the facade under its own span (see `_act`)."""
        return self._act(action, what, awaitable, title=f"web {what}")

    # -- the CSS-selector helpers ------------------------------------------------------------

    def goto(self, path: str, *, expect_status: int | None = None) -> int:
        """Open `path` (relative to the web base URL, or absolute); returns the HTTP status.

        Any status of 400 or more fails the step unless it equals `expect_status`.
        """
        return self._act("goto", path, self._goto(path, expect_status))

    async def _goto(self, path: str, expect_status: int | None) -> int:
        url = path if is_absolute(path) else urljoin(self.base_url, path.lstrip("/"))
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
        """How many elements match `selector` right now: it does NOT wait for the page to
        settle (wait first with `expect_visible`/`expect_url`, or use `expect_count`)."""
        return self.host.call(
            self._guard(self.page_async.locator(selector).count(), f"count {selector}")
        )

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
                    f"{selector} on {short_url(self.page_async.url)} shows {redact(seen)[:120]!r}, "
                    f"expected it to contain {wanted!r}"
                )
            await asyncio.sleep(0.05)

    def expect_url(self, pattern: str | re.Pattern[str], *, timeout: float | None = None) -> None:
        """Wait until the page URL matches `pattern` (a glob like `**/orders/*` or a regex) and
        that page has loaded (its `load` event, as Playwright's `wait_for_url`), so what the
        next line reads is on it. Waits up to `navigation_timeout` unless given `timeout`."""
        shown = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
        wait = self.page_async.wait_for_url(
            pattern, timeout=(timeout or self.navigation_timeout) * 1000, wait_until="load"
        )
        self._act("wait for url", shown, self._guard(wait, f"URL wait for {shown!r}"))

    def _act(
        self,
        action: str,
        subject: str,
        awaitable: Coroutine[Any, Any, T],
        *,
        title: str | None = None,
    ) -> T:
        """Run one browser action under its own span; while tracing, the requests it causes
        carry that span's `traceparent`, so the target's server spans join the journey trace."""
        span = spans.start_action(
            self.trace_parent(),
            (title or f"web {action} {subject}")[:120],
            {"harness.web.action": action},
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
        # the target's requests made from now on carry this action's trace headers (only
        # the target's: `web_trace`); the context's own extra headers are left alone
        if headers and self.tracer is None and self._page is not None:
            self.tracer = TraceHeaders(self.trace_origins, self.host.documents)
            await self.tracer.install(self._context, self._page)  # type: ignore[arg-type]
        if self.tracer is not None:
            await self.tracer.ready()  # a popup opened by the last action is held from now on
            self.tracer.headers = headers or {}
        return await awaitable

    async def _guard(self, awaitable: Awaitable[T], what: str, *, navigation: bool = False) -> T:
        """Await a Playwright call, turning its errors into classified step errors."""
        page = self._page
        where = short_url(page.url) if page is not None else "the page"
        return await guard(awaitable, what, where, navigation=navigation)
