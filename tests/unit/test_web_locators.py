"""The synchronous facade over Playwright's async objects, with fakes: how calls read in
messages, what is unwrapped before Playwright sees it, and what runs where."""

from __future__ import annotations

import asyncio
import inspect
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.touchpoints import web_locators
from harness.touchpoints.web_locators import Sync, call_label, unwrap


class FakeHost:
    def __init__(self) -> None:
        self.calls = 0

    def call(self, coro: Any) -> Any:
        self.calls += 1
        return asyncio.run(coro)


class FakeSession:
    action_timeout = 2.5

    def __init__(self) -> None:
        self.host = FakeHost()
        self.acted: list[tuple[str, str]] = []

    def guarded(self, awaitable: Any, what: str, *, navigation: bool) -> Any:
        return awaitable

    def act_on(self, action: str, what: str, awaitable: Any) -> Any:
        self.acted.append((action, what))
        return self.host.call(awaitable)


class FakeLocator:
    def __init__(self, selector: str) -> None:
        self.selector = selector
        self.filled: list[Any] = []

    def get_by_role(self, role: str, **options: Any) -> FakeLocator:
        return FakeLocator(f"{self.selector} >> role={role}{options}")

    async def fill(self, value: str, **options: Any) -> None:
        self.filled.append((value, options))

    async def count(self) -> int:
        return 3


def test_calls_read_as_code_and_facades_are_unwrapped() -> None:
    inner = Sync(FakeLocator("b"), FakeSession(), "page.locator('b')")  # type: ignore[arg-type]
    assert call_label("get_by_role", ("button",), {"name": "Buy"}) == (
        "get_by_role('button', name='Buy')"
    )
    assert call_label("filter", (), {"has": inner}) == "filter(has=page.locator('b'))"
    assert unwrap([inner, {"x": inner}])[0] is inner._target
    assert unwrap({"x": inner})["x"] is inner._target
    assert len(call_label("fill", ("x" * 500,), {})) == 160


def test_actions_get_a_span_reads_do_not_and_builders_stay_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(web_locators, "playwright_types", lambda: (FakeLocator,))
    session = FakeSession()
    page = Sync(FakeLocator("page"), session, "page")  # type: ignore[arg-type]
    button = page.get_by_role("button", name="Buy")
    assert session.host.calls == 0  # building a locator does not touch the browser loop
    button.fill("x")
    assert session.acted == [
        ("fill", "page.get_by_role('button', name='Buy').fill('x')"),
    ]
    assert button.count() == 3 and len(session.acted) == 1  # a read: no span
    assert button._target.filled == [("x", {})]
    # what `evaluate` returns may hold itself (`window.open(...)`'s window): as it is
    cyclic: dict[str, Any] = {}
    cyclic["window"] = cyclic
    assert web_locators.wrap(cyclic, session, "x") is cyclic  # type: ignore[arg-type]
    listed = web_locators.wrap([FakeLocator("a"), cyclic], session, "all()")  # type: ignore[arg-type]
    assert isinstance(listed[0], Sync) and listed[1] is cyclic
    looped: list[Any] = [1]
    looped.append(looped)  # was a RecursionError
    assert web_locators.wrap(looped, session, "x") == [1, looped]  # type: ignore[arg-type]


def _session(host: Any) -> Any:
    from harness.touchpoints.web_session import WebSession

    return WebSession(
        host,
        base_url="http://shop.test/",
        artifacts_dir=Path("."),
        action_timeout=2.5,
        navigation_timeout=15.0,
    )


def test_expect_is_playwrights_with_the_action_timeout_and_set_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `expect.set_options(timeout=...)` was an AttributeError (`expect` was a method), and
    # `expect(response).to_be_ok()` a TypeError (a `timeout=` was added to every assertion)
    import playwright.async_api

    made: list[tuple[float | None, str, Any, str | None]] = []

    class Expect:
        def set_options(self, timeout: float | None = None) -> None:
            self.timeout = timeout

        def __call__(self, actual: Any, message: str | None = None) -> str:
            made.append((self.timeout, "expect", actual, message))
            return "assertions"

        def soft(self, actual: Any, message: str | None = None) -> str:
            made.append((self.timeout, "soft", actual, message))
            return "soft assertions"

    monkeypatch.setattr(playwright.async_api, "Expect", Expect)
    session = _session(FakeHost())
    page = Sync("the page", session, "page")
    expect = session.expect
    assert expect(page)._target == "assertions"
    expect.set_options(timeout=700)
    expect.set_options()  # left as it was, as Playwright's
    assert expect.soft(page, "paid")._target == "soft assertions"
    session.set_timeouts(action=4)  # restore_timeouts clears set_options too (reuse)
    session.restore_timeouts()
    session.expect(page)
    assert made == [
        (2500.0, "expect", "the page", None),
        (700, "soft", "the page", "paid"),
        (2500.0, "expect", "the page", None),
    ]
    with pytest.raises(TypeError, match=r"j\.web\.page"):
        expect("not a locator")
    assert {"count", "text_content", "inner_text"} <= web_locators.READS


class ThreadHost(FakeHost):
    """A host whose handlers run in a thread of their own, as `BrowserHost.spawn` does."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def spawn(self, run: Any) -> None:
        thread = threading.Thread(target=run, name=f"handler-{len(self.threads)}")
        self.threads.append(thread.name)
        thread.start()


def test_callbacks_get_sync_objects_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # `def handle(dialog): dialog.accept()` got Playwright's async Dialog: `accept()` made a
    # coroutine nobody awaited and the page hung on its dialog
    class Dialog:
        message = "Sure?"
        accepted_in = ""

        async def accept(self) -> None:
            Dialog.accepted_in = threading.current_thread().name

    class Page:
        def __init__(self) -> None:
            self.listeners: dict[str, list[Any]] = {}

        def on(self, event: str, f: Any) -> None:
            self.listeners.setdefault(event, []).append(f)

        def remove_listener(self, event: str, f: Any) -> None:
            self.listeners[event].remove(f)

        async def route(self, url: Any, handler: Any) -> None:
            self.listeners.setdefault("route", []).append(handler)

    monkeypatch.setattr(web_locators, "playwright_types", lambda: (Dialog, Page))
    host = ThreadHost()
    session = _session(host)
    page = Sync(Page(), session, "page")
    seen: list[Any] = []

    def handle(dialog: Any) -> None:
        seen.append((type(dialog).__name__, dialog.message))
        dialog.accept()

    page.on("dialog", handle)
    page.route(lambda url: url.endswith(".png"), handler=lambda route: None)  # url: a predicate
    (wrapper,) = page._target.listeners["dialog"]
    assert inspect.iscoroutinefunction(wrapper)
    assert list(inspect.signature(wrapper).parameters) == ["dialog"]  # Playwright passes 1
    asyncio.run(wrapper(Dialog()))
    assert seen == [("Sync", "Sure?")]
    assert Dialog.accepted_in == host.threads[0] != threading.current_thread().name
    (route,) = page._target.listeners["route"]
    assert inspect.iscoroutinefunction(route)
    page.remove_listener("dialog", handle)  # finds the same wrapper
    assert page._target.listeners["dialog"] == []

    async def already_async(dialog: Any) -> None:
        pass

    page.on("dialog", already_async)
    assert page._target.listeners["dialog"] == [already_async]
    # a predicate's wrapper: the same, but not kept (nothing removes it, and a reused context
    # would keep every lambda of its iterations)
    kept = dict(session._handlers)
    wait = page._callbacks("expect_event", ("dialog", lambda d: True), {})
    assert inspect.iscoroutinefunction(wait[0][1]) and session._handlers == kept


def test_j_web_has_every_get_by_and_points_page_names_to_the_page() -> None:
    class Page:
        def get_by_title(self, text: str) -> str:
            return f"title={text}"

        def get_by_alt_text(self, text: str) -> str:
            return f"alt={text}"

    session = _session(FakeHost())
    session._page = Page()
    assert (session.get_by_title("Cart"), session.get_by_alt_text("Logo")) == (
        "title=Cart",
        "alt=Logo",
    )
    # was: AttributeError: 'WebSession' object has no attribute 'title'
    with pytest.raises(AttributeError, match=r"j\.web has no 'title': .* j\.web\.page\.title"):
        session.title()
    with pytest.raises(AttributeError, match="'WebSession' object has no attribute 'nonsense'"):
        session.nonsense  # noqa: B018 (the attribute read is the test)


def test_truth_and_missing_names_read_as_playwrights() -> None:
    class Locator:
        def click(self) -> None:
            pass

    session = FakeSession()
    locator = Sync(Locator(), session, "page.locator('b')")  # type: ignore[arg-type]
    assert locator  # was TypeError: object of type 'Locator' has no len()
    with pytest.raises(AttributeError) as info:
        locator.clik  # noqa: B018 (the attribute read is the test)
    assert str(info.value) == (
        "page.locator('b'): Playwright's Locator has no attribute 'clik'; did you mean 'click'?"
    )


def test_a_traced_action_sets_no_context_headers_only_the_held_requests_ones() -> None:
    # set_extra_http_headers replaced the context's extra headers (X-Feature-Flags was lost),
    # sent traceparent to third-party hosts and cost a round trip before each traced action:
    # the action's trace headers now go only on the target's held requests (web_trace)
    from harness.touchpoints.web_session import WebSession
    from harness.touchpoints.web_trace import DocumentHold, TraceHeaders

    class Context:
        async def set_extra_http_headers(self, headers: dict[str, str]) -> None:
            raise AssertionError("a traced action set the context's headers")

    session = WebSession(
        FakeHost(),  # type: ignore[arg-type]
        base_url="http://shop.test/app/",
        artifacts_dir=Path("."),
        action_timeout=5.0,
        navigation_timeout=15.0,
    )
    assert session.trace_origins == ("http://shop.test",)
    session._context = Context()  # type: ignore[assignment]
    session.tracer = TraceHeaders(session.trace_origins, DocumentHold(None))  # type: ignore[arg-type]

    async def action() -> str:
        return "done"

    trace = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    assert asyncio.run(session._with_headers(trace, action())) == "done"
    assert session.tracer.headers == trace
    assert asyncio.run(session._with_headers(None, action())) == "done"
    assert session.tracer.headers == {}  # an untraced action's requests carry none


def test_held_requests_keep_their_headers_and_take_the_actions_trace() -> None:
    from harness.touchpoints.web_trace import merged, patterns

    own = {"Accept": "text/html", "X-Feature-Flags": "a=on", "TraceParent": "old"}
    got = merged(own, {"traceparent": "new", "baggage": "k=v"})
    assert {(h["name"], h["value"]) for h in got} == {
        ("Accept", "text/html"),
        ("X-Feature-Flags", "a=on"),
        ("traceparent", "new"),
        ("baggage", "k=v"),
    }
    found = patterns(["http://b.test:81", "http://a.test", "http://a.test"])
    assert [p["urlPattern"] for p in found] == ["http://a.test/*"] * 3 + ["http://b.test:81/*"] * 3
    assert {p["resourceType"] for p in found} == {"Document", "XHR", "Fetch"}


def test_codegens_event_waits_work_as_with_blocks() -> None:
    # `with page.expect_popup() as page1_info: ...; page1 = page1_info.value`, as codegen writes
    session = FakeSession()
    events: list[str] = []

    class Info:
        @property
        async def value(self) -> str:
            return "popup page"

    class Manager:
        async def __aenter__(self) -> Info:
            events.append("armed")
            return Info()

        async def __aexit__(self, *exc: object) -> None:
            events.append("waited")

    class Page:
        def expect_popup(self) -> Manager:
            return Manager()

    page = Sync(Page(), session, "page")  # type: ignore[arg-type]
    with page.expect_popup() as popup_info:
        events.append("clicked")
    assert events == ["armed", "clicked", "waited"]
    assert popup_info.value == "popup page"


def test_vitals_are_read_from_the_page_and_set_on_the_steps_span() -> None:
    from harness.touchpoints.web_session import WebSession

    class Page:
        async def evaluate(self, script: str) -> list[dict[str, object]]:
            first = {"lcp": 180.0, "ttfb": 12.0, "page": "/cart"}
            return [first, {"lcp": 90.0, "page": "/orders/7"}]

    class Span:
        attributes: dict[str, object] = {}

        def set_attribute(self, name: str, value: object) -> None:
            self.attributes = {**self.attributes, name: value}

    session = WebSession(
        FakeHost(),  # type: ignore[arg-type]
        base_url="http://shop.test/",
        artifacts_dir=Path("."),
        action_timeout=5.0,
        navigation_timeout=15.0,
    )
    session._page = Page()  # type: ignore[assignment]
    span = Span()
    assert session.read_vitals(span) == {"ttfb": (12.0,), "lcp": (180.0, 90.0)}
    assert span.attributes == {
        "harness.web.ttfb": (12.0,),
        "harness.web.ttfb.page": ("/cart",),
        "harness.web.lcp": (180.0, 90.0),
        "harness.web.lcp.page": ("/cart", "/orders/{id}"),
    }


def test_set_timeouts_lasts_one_iteration_of_a_reused_context() -> None:
    from harness.touchpoints.web_session import WebSession

    class Context:
        def set_default_timeout(self, ms: float) -> None:
            self.action_ms = ms

        def set_default_navigation_timeout(self, ms: float) -> None:
            self.navigation_ms = ms

    session = WebSession(
        FakeHost(),  # type: ignore[arg-type]
        base_url="http://shop.test/",
        artifacts_dir=Path("."),
        action_timeout=5.0,
        navigation_timeout=15.0,
    )
    context = Context()
    session._context = context  # type: ignore[assignment]
    session.set_timeouts(action=0.5)
    session.set_timeouts(navigation=2)
    assert (session.action_timeout, session.navigation_timeout) == (0.5, 2)
    assert (context.action_ms, context.navigation_ms) == (500, 2000)
    session.restore_timeouts()  # what `reset` does before the context's next iteration
    assert (session.action_timeout, session.navigation_timeout) == (5.0, 15.0)
    assert (context.action_ms, context.navigation_ms) == (5000, 15000)
    session.restore_timeouts()  # nothing to restore
    assert session.action_timeout == 5.0


def test_every_callback_and_predicate_of_playwrights_api_gets_sync_objects() -> None:
    # a callback or predicate left out would get Playwright's async objects (`r.json()` a
    # coroutine); URL matchers (`route(url)`, `wait_for_url(url)`) get strings and are left
    import playwright.async_api as api
    from playwright._impl._async_base import AsyncBase

    found = set()
    for cls in vars(api).values():
        if not (inspect.isclass(cls) and issubclass(cls, AsyncBase)):
            continue
        for name, method in inspect.getmembers(cls, callable):
            if name.startswith("_") or name in ("on", "once", "remove_listener"):
                continue
            params = [p for p in inspect.signature(method).parameters.values() if p.name != "self"]
            for index, param in enumerate(params):
                if param.name != "url" and "Callable" in str(param.annotation):
                    found.add((name, index, param.name))
    assert found, "no callbacks found: Playwright's API moved"
    assert found <= {(name, *where) for name, where in web_locators.CALLBACKS.items()}, found


class FakePage:
    """Stands for Playwright's async Page: one lasting method, one plain, one property."""

    def __init__(self, context: FakeContext) -> None:
        self.routes: list[str] = []
        self.context = context
        self.title = "shop"

    async def route(self, url: str, handler: Any) -> None:
        self.routes.append(url)

    def locator(self, selector: str) -> FakeLocator:
        return FakeLocator(selector)


class FakeContext:
    def __init__(self) -> None:
        self.scripts: list[str] = []

    async def add_init_script(self, script: str) -> None:
        self.scripts.append(script)


def test_the_raw_page_run_gives_is_playwrights_and_its_lasting_calls_are_noted() -> None:
    from harness.touchpoints import web_raw

    lasting: list[str] = []
    context = FakeContext()
    page, other = FakePage(context), FakePage(context)  # another page of the same context
    with web_raw.noting([(page, "run: page"), (context, "run: context")], lasting):
        assert type(page) is FakePage and page.title == "shop" and lasting == []
        assert page.locator("b").selector == "b" and page.route.__name__ == "route"
        asyncio.run(page.route("**/x", print))
        asyncio.run(other.context.add_init_script("1"))  # the context, reached another way
        asyncio.run(other.route("**/y", print))  # a page closed before the next iteration
    assert page.routes == ["**/x"] and context.scripts == ["1"] and other.routes == ["**/y"]
    assert lasting == [
        "run: page.route('**/x', <built-in function print>)",
        "run: context.add_init_script('1')",
    ]
    # once the run is over, the objects are as they were: nothing shadows their methods
    assert vars(page).keys() == {"routes", "context", "title"} and vars(context).keys() == {
        "scripts"
    }
    asyncio.run(page.route("**/z", print))
    assert len(lasting) == 2
