"""`j.web`'s Playwright vocabulary: the page, `expect`, the locator builders and `run`'s raw
async page, with the session's timeouts and its Web Vitals (`Vocabulary`, a part of
`WebSession`). The synchronous view of Playwright's objects they give is
`harness/touchpoints/web_locators.py`'s `Sync`; `run` hands Playwright's page over as it is
(`web_raw.noting`)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from types import EllipsisType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from harness.records import Touchpoint
from harness.touchpoints import web_vitals
from harness.touchpoints.web_locators import Sync
from harness.touchpoints.web_raw import noting

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

    from harness.touchpoints.web import BrowserHost
    from harness.touchpoints.web_session import WebSession

T = TypeVar("T")


def expect(
    session: WebSession, actual: Any, message: str | None = None, *, soft: bool = False
) -> Sync:
    """Playwright's `expect(locator | page | response)`, synchronously: its assertions retry
    until they hold or the session's expect timeout runs out (unless given `timeout=`)."""
    from playwright.async_api import Expect

    if not isinstance(actual, Sync):
        raise TypeError(
            "j.web.expect takes what j.web.page gives (a page, a locator or a response), e.g. "
            "j.web.expect(j.web.page.get_by_role('button', name='Buy')).to_be_visible()"
        )
    chosen = Expect()  # Playwright's own, with this session's default timeout
    chosen.set_options(timeout=session.expect_timeout_ms)
    assertions = (chosen.soft if soft else chosen)(actual._target, message)
    return Sync(assertions, session, f"expect({actual._label})")


class SyncExpect:
    """`j.web.expect`: Playwright's `expect` object, synchronously. `expect(actual, message)`
    gives the assertions; `set_options(timeout=ms)` sets their default timeout for the rest
    of the iteration (`None`: back to `action_timeout`), as Playwright's sets it for a test."""

    def __init__(self, session: WebSession) -> None:
        self._session = session

    def __call__(self, actual: Any, message: str | None = None) -> Sync:
        return expect(self._session, actual, message)

    def soft(self, actual: Any, message: str | None = None) -> Sync:
        """Playwright's `expect.soft(...)`: a failure needs pytest-playwright's per-test scope,
        which a journey has not, so it fails the step as Playwright says (RuntimeError)."""
        return expect(self._session, actual, message, soft=True)

    def set_options(self, timeout: float | EllipsisType | None = ...) -> None:
        """The default timeout of the assertions made from now on, in milliseconds (left as it
        is when not given, as Playwright's)."""
        if timeout is not ...:
            self._session._expect_timeout = timeout


class Vocabulary:
    """The part of `j.web` that speaks Playwright (the page, `expect`, locator builders), sets
    its timeouts and reads its Web Vitals; `WebSession` provides the attributes below."""

    host: BrowserHost
    action_timeout: float
    navigation_timeout: float
    closed: bool
    _context: BrowserContext | None
    _page: Page | None
    _run_timeouts: tuple[float, float] | None = None  #: before `set_timeouts`, if it was called
    _expect_timeout: float | None = None  #: `expect.set_options(timeout=)`, in milliseconds
    _handlers: dict[Any, Any]  #: `sync_handler`'s wrapper of each callback given to Playwright

    @property
    def page_async(self) -> Any:
        """Playwright's async page (`WebSession` provides it)."""
        raise NotImplementedError

    def run(self, action: Callable[[Page], Awaitable[T]]) -> T:
        """Escape hatch: run `async def action(page)` on the browser loop and return its result.
        `page` is Playwright's own async page: a route, listener, init script or emulation set
        on it or its context, however reached, is noted, so that `--browser-context reuse`
        replaces the context after this iteration (`web_raw.noting`)."""
        session = cast("WebSession", self)
        page = self.page_async
        watched = ((page, "run: page"), (page.context, "run: context"))

        async def call() -> T:
            with noting(watched, session.lasting):
                return await session.guarded(action(page), "custom action", navigation=False)

        return self.host.call(call())

    @property
    def page(self) -> Sync:
        """Playwright's `Page` with its synchronous API: `j.web.page.get_by_role(...).click()`;
        code recorded by `playwright codegen --target python` runs with `page` read as this."""
        return Sync(self.page_async, cast("WebSession", self), "page")

    @property
    def expect(self) -> SyncExpect:
        """Playwright's `expect`: auto-waiting assertions on a locator, the page or a response
        (`to_have_text`, `to_be_visible`, `to_have_count`, `to_have_url`, ...), with
        `expect.set_options(timeout=)` (default timeout: action_timeout)."""
        return SyncExpect(cast("WebSession", self))

    @property
    def expect_timeout_ms(self) -> float:
        """The default timeout of `expect(...)`'s assertions: `expect.set_options`'s, else
        `action_timeout` (Playwright's own is 5 s)."""
        if self._expect_timeout is not None:
            return self._expect_timeout
        return self.action_timeout * 1000

    def locator(self, selector: str, **options: Any) -> Sync:
        """`page.locator(selector)`: a locator by CSS (or any Playwright selector)."""
        return cast(Sync, self.page.locator(selector, **options))

    def get_by_role(self, role: str, **options: Any) -> Sync:
        """`page.get_by_role(role, name=...)`: a locator by ARIA role and accessible name."""
        return cast(Sync, self.page.get_by_role(role, **options))

    def get_by_text(self, text: str | re.Pattern[str], **options: Any) -> Sync:
        """`page.get_by_text(text, exact=...)`: a locator by visible text."""
        return cast(Sync, self.page.get_by_text(text, **options))

    def get_by_label(self, text: str | re.Pattern[str], **options: Any) -> Sync:
        """`page.get_by_label(text)`: a form control by its label."""
        return cast(Sync, self.page.get_by_label(text, **options))

    def get_by_placeholder(self, text: str | re.Pattern[str], **options: Any) -> Sync:
        """`page.get_by_placeholder(text)`: an input by its placeholder."""
        return cast(Sync, self.page.get_by_placeholder(text, **options))

    def get_by_test_id(self, test_id: str | re.Pattern[str]) -> Sync:
        """`page.get_by_test_id(id)`: an element by its `data-testid`."""
        return cast(Sync, self.page.get_by_test_id(test_id))

    def get_by_alt_text(self, text: str | re.Pattern[str], **options: Any) -> Sync:
        """`page.get_by_alt_text(text)`: an image by its alt text."""
        return cast(Sync, self.page.get_by_alt_text(text, **options))

    def get_by_title(self, text: str | re.Pattern[str], **options: Any) -> Sync:
        """`page.get_by_title(text)`: an element by its title attribute."""
        return cast(Sync, self.page.get_by_title(text, **options))

    def __getattr__(self, name: str) -> Any:
        """Only for names `j.web` lacks: one of Playwright's `Page` says where it is."""
        if not name.startswith("_"):
            from playwright.async_api import Page

            if hasattr(Page, name):
                raise AttributeError(
                    f"j.web has no {name!r}: it is Playwright's Page's, j.web.page.{name} "
                    "(j.web's own are the helpers goto, click, fill, ..., expect and the "
                    "locator builders)",
                    name=name,
                    obj=self,
                )
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}", name=name, obj=self
        )

    def step_vitals(self, step: Any) -> tuple[web_vitals.Samples | None, web_vitals.Pages | None]:
        """The vitals of a passed web step and the page of each sample, also set on its span
        ((None, None) for another touchpoint, or none measured); read after its duration was
        taken (vitals are read after timing), so reading costs the step nothing."""
        if step.touchpoint is not Touchpoint.WEB:
            return None, None
        found, pages = self.read_vitals_pages(step._span)
        return (found, pages) if found else (None, None)

    def read_vitals(self, span: Any = None) -> web_vitals.Samples:
        """Web Vitals measured since the last call (`harness/touchpoints/web_vitals.py`), also
        set on `span` as `harness.web.lcp`, ... attributes."""
        return self.read_vitals_pages(span)[0]

    def read_vitals_pages(self, span: Any = None) -> tuple[web_vitals.Samples, web_vitals.Pages]:
        """`read_vitals`, and the page of each sample (`web_vitals.merge_pages`), also set on
        `span` as `harness.web.lcp.page`, ... attributes."""
        if self.closed or self._page is None or not web_vitals.enabled():
            return {}, {}
        found, pages = self.host.call(web_vitals.read(self._page))
        for name, values in found.items() if span is not None else ():
            span.set_attribute(f"harness.web.{name}", values)
            span.set_attribute(f"harness.web.{name}.page", pages.get(name, ()))
        return found, pages

    def set_timeouts(self, *, action: float | None = None, navigation: float | None = None) -> None:
        """Change this iteration's `action_timeout` and `navigation_timeout` (seconds), for the
        helpers, `expect` and Playwright's own calls alike."""
        if self._run_timeouts is None:  # restored when a reused context resets
            self._run_timeouts = (self.action_timeout, self.navigation_timeout)
        self.action_timeout = action or self.action_timeout
        self.navigation_timeout = navigation or self.navigation_timeout

        async def apply() -> None:
            if self._context is not None:
                self._context.set_default_timeout(self.action_timeout * 1000)
                self._context.set_default_navigation_timeout(self.navigation_timeout * 1000)

        self.host.call(apply())

    def restore_timeouts(self) -> None:
        """The timeouts the context opened with, after `set_timeouts` (`--browser-context reuse`
        keeps a context from one iteration to the next); `expect.set_options`' too."""
        self._expect_timeout = None
        saved = self._run_timeouts
        if saved is not None:
            self.set_timeouts(action=saved[0], navigation=saved[1])
            self._run_timeouts = None

    def expect_count(self, selector: str, count: int, *, timeout: float | None = None) -> None:
        """Wait until exactly `count` elements match `selector` (Playwright's `to_have_count`)."""
        self.expect(self.locator(selector)).to_have_count(
            count, timeout=(timeout or self.action_timeout) * 1000
        )
