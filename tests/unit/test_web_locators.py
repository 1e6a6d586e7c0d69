"""The synchronous facade over Playwright's async objects, with fakes: how calls read in
messages, what is unwrapped before Playwright sees it, and what runs where."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from harness.touchpoints import web_locators
from harness.touchpoints.web_locators import Sync, call_label, expect, unwrap


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


def test_expect_gives_assertions_the_action_timeout() -> None:
    session = FakeSession()
    seen: dict[str, Any] = {}

    class Assertions:
        async def to_have_text(self, text: str, timeout: float | None = None) -> None:
            seen.update(text=text, timeout=timeout)

    assertions = Sync(Assertions(), session, "expect(x)", assertions=True)  # type: ignore[arg-type]
    assertions.to_have_text("paid")
    assert seen == {"text": "paid", "timeout": 2500.0}
    assertions.to_have_text("paid", timeout=100)
    assert seen["timeout"] == 100
    try:
        expect(session, "not a locator")  # type: ignore[arg-type]
    except TypeError as exc:
        assert "j.web.page" in str(exc)
    else:
        raise AssertionError("expect took a plain value")
    assert {"count", "text_content", "inner_text"} <= web_locators.READS


def test_a_traced_action_sets_no_context_headers_only_the_held_requests_ones() -> None:
    # set_extra_http_headers replaced the context's extra headers (X-Feature-Flags was lost),
    # sent traceparent to third-party hosts and cost a round trip before each traced action:
    # the action's trace headers now go only on the target's held requests (web_trace)
    from harness.touchpoints.web_session import WebSession
    from harness.touchpoints.web_trace import TraceHeaders

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
    session.tracer = TraceHeaders(session.trace_origins)

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
