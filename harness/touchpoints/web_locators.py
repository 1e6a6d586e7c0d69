"""Playwright's own vocabulary, synchronously: `j.web.page`, locators and `j.web.expect`.

`Sync` wraps one of Playwright's async objects (the `Page`, a `Locator`, a `FrameLocator`, the
keyboard, a `Response`, the assertions `expect(...)` returns) and gives it Playwright's
synchronous API: the same names and arguments, so that code recorded by
`playwright codegen --target python` runs in a step once `page` reads `j.web.page` and `expect`
reads `j.web.expect`. Each coroutine method runs on the browser loop and is waited for with the
host's waiter (cooperatively under Locust); actions (click, fill, goto, assertions, ...) get a
span of their own and carry the step's `traceparent`, reads (`count`, `text_content`, ...) do
not. Whatever the method returns comes back wrapped in turn (a `Locator` from `nth`, a
`Response` from `goto`).

Waits are Playwright's: actions wait until their element is attached, visible, stable,
enabled and receives events (its actionability checks); `expect(...)` assertions retry until
they hold; reads such as `count()` and `text_content()` answer at once. Timeouts are the
session's: `action_timeout` for actions and assertions, `navigation_timeout` for navigations.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from harness.records import Touchpoint
from harness.touchpoints import web_vitals

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

    from harness.touchpoints.web import BrowserHost
    from harness.touchpoints.web_session import WebSession

#: methods that build a locator without talking to the browser: run where they are called
LOCAL = frozenset(
    {
        "locator",
        "get_by_role",
        "get_by_text",
        "get_by_label",
        "get_by_placeholder",
        "get_by_test_id",
        "get_by_alt_text",
        "get_by_title",
        "frame_locator",
        "nth",
        "filter",
        "and_",
        "or_",
        "describe",
    }
)
#: coroutine methods that only read: no span of their own (they cause no requests)
READS = frozenset(
    {
        "count",
        "text_content",
        "inner_text",
        "inner_html",
        "get_attribute",
        "input_value",
        "is_visible",
        "is_hidden",
        "is_enabled",
        "is_disabled",
        "is_checked",
        "is_editable",
        "all_text_contents",
        "all_inner_texts",
        "all",
        "bounding_box",
        "title",
        "content",
        "text",
        "json",
        "body",
        "all_headers",
        "header_value",
    }
)
#: coroutine methods that wait for a page to load: their timeouts are navigation timeouts
NAVIGATIONS = frozenset(
    {"goto", "reload", "go_back", "go_forward", "wait_for_url", "wait_for_load_state"}
)


def unwrap(value: Any) -> Any:
    """Playwright's own object behind a `Sync` (and inside lists, tuples and dicts)."""
    if isinstance(value, Sync):
        return value._target
    if isinstance(value, list | tuple):
        return type(value)(unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    return value


def call_label(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """`get_by_role('button', name='Buy')`: a call as it reads in code."""
    shown = [repr(unwrap(a)) if not isinstance(a, Sync) else a._label for a in args]
    shown += [f"{k}={v._label if isinstance(v, Sync) else repr(v)}" for k, v in kwargs.items()]
    text = f"{name}({', '.join(shown)})"
    return text if len(text) <= 160 else text[:156] + "...)"


class Sync:
    """A synchronous view of one of Playwright's async objects, bound to a `WebSession`."""

    __slots__ = ("_assertions", "_label", "_session", "_target")

    def __init__(
        self, target: Any, session: WebSession, label: str, *, assertions: bool = False
    ) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_label", label)
        object.__setattr__(self, "_assertions", assertions)

    def __repr__(self) -> str:
        return f"<sync {self._label}>"

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name == "not_" or not callable(value):  # properties: `first`, `url`, `keyboard`
            return wrap(value, self._session, f"{self._label}.{name}", self._assertions)
        if inspect.iscoroutinefunction(value):
            return self._coroutine_method(name, value)
        return self._plain_method(name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._label}: Playwright objects cannot be given attributes")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sync) and other._target == self._target

    def __hash__(self) -> int:
        return hash(self._target)

    def __len__(self) -> int:  # e.g. a list-like answer; Playwright's objects have none
        return len(self._target)

    def _plain_method(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        session = self._session

        def call(*args: Any, **kwargs: Any) -> Any:
            label = f"{self._label}.{call_label(name, args, kwargs)}"
            if name in LOCAL:
                result = method(*unwrap(args), **unwrap(kwargs))
            else:  # e.g. set_default_timeout: it talks to the driver, so on the loop

                async def on_loop() -> Any:
                    return method(*unwrap(args), **unwrap(kwargs))

                result = session.host.call(on_loop())
            if hasattr(result, "__aenter__"):  # `with page.expect_popup() as info:`
                return SyncEvent(result, session, label)
            return wrap(result, session, label, self._assertions)

        return call

    def _coroutine_method(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        session = self._session

        def call(*args: Any, **kwargs: Any) -> Any:
            label = f"{self._label}.{call_label(name, args, kwargs)}"
            if self._assertions and kwargs.get("timeout") is None:
                kwargs["timeout"] = session.action_timeout * 1000  # Playwright's own is 5 s
            navigation = name in NAVIGATIONS
            awaitable = method(*unwrap(args), **unwrap(kwargs))
            guarded = session.guarded(awaitable, label, navigation=navigation)
            if name in READS:
                result = session.host.call(guarded)
            else:
                result = session.act_on(name, label, guarded)
            return wrap(result, session, label)

        return call


class SyncEvent:
    """Playwright's event waits (`expect_popup`, `expect_navigation`, `expect_response`, ...)
    as codegen writes them: `with page.expect_popup() as info:` ... `popup = info.value`."""

    def __init__(self, manager: Any, session: WebSession, label: str) -> None:
        self._manager = manager
        self._session = session
        self._label = label
        self._info: Any = None

    def __enter__(self) -> SyncEvent:
        self._info = self._session.host.call(self._manager.__aenter__())
        return self

    def __exit__(self, *exc: Any) -> None:
        waited = self._session.guarded(self._manager.__aexit__(*exc), self._label, navigation=False)
        self._session.host.call(waited)

    @property
    def value(self) -> Any:
        """What the event gave (a page, a response, ...), once the `with` block has ended."""

        async def get() -> Any:
            return await self._info.value

        return wrap(self._session.host.call(get()), self._session, f"{self._label}.value")


def playwright_types() -> tuple[type, ...]:
    """The classes whose objects `wrap` wraps: every object of Playwright's async API."""
    from playwright._impl._async_base import AsyncBase

    return (AsyncBase,)


def wrap(value: Any, session: WebSession, label: str, assertions: bool = False) -> Any:
    """`value` as the caller should see it: Playwright's objects as `Sync`, lists of them as
    lists of `Sync`, anything else as it is."""
    if isinstance(value, playwright_types()):
        return Sync(value, session, label, assertions=assertions)
    if isinstance(value, list):
        return [wrap(v, session, f"{label}[{i}]", assertions) for i, v in enumerate(value)]
    return value


def expect(session: WebSession, actual: Any, message: str | None = None) -> Sync:
    """Playwright's `expect(locator | page | response)`, synchronously: its assertions retry
    until they hold or the session's action timeout runs out (unless given `timeout=`)."""
    from playwright.async_api import expect as async_expect

    if not isinstance(actual, Sync):
        raise TypeError(
            "j.web.expect takes what j.web.page gives (a page or a locator), e.g. "
            "j.web.expect(j.web.page.get_by_role('button', name='Buy')).to_be_visible()"
        )
    assertions = async_expect(actual._target, message)
    return Sync(assertions, session, f"expect({actual._label})", assertions=True)


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

    @property
    def page_async(self) -> Any:
        """Playwright's async page (`WebSession` provides it)."""
        raise NotImplementedError

    @property
    def page(self) -> Sync:
        """Playwright's `Page` with its synchronous API: `j.web.page.get_by_role(...).click()`;
        code recorded by `playwright codegen --target python` runs with `page` read as this."""
        return Sync(self.page_async, cast("WebSession", self), "page")

    def expect(self, actual: Sync, message: str | None = None) -> Sync:
        """Playwright's auto-waiting assertions on a locator or the page: `to_have_text`,
        `to_be_visible`, `to_have_count`, `to_have_url`, ... (default timeout: action_timeout)."""
        return expect(cast("WebSession", self), actual, message)

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
        keeps a context from one iteration to the next)."""
        saved = self._run_timeouts
        if saved is not None:
            self.set_timeouts(action=saved[0], navigation=saved[1])
            self._run_timeouts = None

    def expect_count(self, selector: str, count: int, *, timeout: float | None = None) -> None:
        """Wait until exactly `count` elements match `selector` (Playwright's `to_have_count`)."""
        self.expect(self.locator(selector)).to_have_count(
            count, timeout=(timeout or self.action_timeout) * 1000
        )
