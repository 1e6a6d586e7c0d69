"""Which headers a held request goes on with (`web_trace`), with fake CDP sessions: documents
are held browser-wide and matched to their context by frame (a page met, a popup Playwright
has not reported, an iframe, another context's page), fetch and XHR by each page's session."""

from __future__ import annotations

import asyncio
from typing import Any

from harness.touchpoints.web_trace import DocumentHold, TraceHeaders


class FakeCdp:
    """Answers each method from `answers` (a value, or a function of the params that may
    raise), and records what was sent."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.handlers: dict[str, Any] = {}

    def on(self, event: str, handler: Any) -> None:
        self.handlers[event] = handler

    async def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        self.sent.append((method, params or {}))
        answer = self.answers.get(method, {})
        return answer(params or {}) if callable(answer) else answer

    def pause(self, request_id: str, frame: str) -> None:
        event = {"requestId": request_id, "frameId": frame, "request": {"headers": {"A": "b"}}}
        self.handlers["Fetch.requestPaused"](event)

    def continued(self) -> dict[str, dict[str, str]]:
        """Each continued request's trace headers ({} when it went on without any)."""
        return {
            params["requestId"]: {
                h["name"]: h["value"] for h in params.get("headers", []) if h["name"] != "A"
            }
            for method, params in self.sent
            if method == "Fetch.continueRequest"
        }


class FakeBrowser:
    def __init__(self, cdp: FakeCdp) -> None:
        self.cdp = cdp

    async def new_browser_cdp_session(self) -> FakeCdp:
        return self.cdp


class FakePage:
    def __init__(self, context: FakeContext) -> None:
        self.context = context

    def is_closed(self) -> bool:
        return False

    def on(self, event: str, handler: Any) -> None:
        pass


class FakeContext:
    def __init__(self, cdp: FakeCdp) -> None:
        self.cdp = cdp

    def on(self, event: str, handler: Any) -> None:
        pass

    async def new_cdp_session(self, page: FakePage) -> FakeCdp:
        return self.cdp


def _target(frame: str, context: str) -> dict[str, Any]:
    return {"targetInfo": {"targetId": frame, "type": "page", "browserContextId": context}}


def _browser_target(params: dict[str, Any]) -> dict[str, Any]:
    contexts = {"POPUP": "OURS", "THEIRS": "ANOTHER"}
    if params["targetId"] not in contexts:
        raise RuntimeError("No target with given id")  # an iframe is no target
    return _target(params["targetId"], contexts[params["targetId"]])


def _frame_owner(params: dict[str, Any]) -> dict[str, Any]:
    if params["frameId"] != "IFRAME":
        raise RuntimeError("Frame with the given id was not found")
    return {"backendNodeId": 5}


async def _settle(*pending: set[asyncio.Task[None]]) -> None:
    while any(pending):
        await asyncio.gather(*(task for tasks in pending for task in tuple(tasks)))


def test_documents_go_on_with_their_contexts_action_and_others_without() -> None:
    browser_cdp = FakeCdp({"Target.getTargetInfo": _browser_target})
    page_cdp = FakeCdp(
        {"Target.getTargetInfo": _target("PAGE", "OURS"), "DOM.getFrameOwner": _frame_owner}
    )
    hold = DocumentHold(FakeBrowser(browser_cdp))  # type: ignore[arg-type]
    tracer = TraceHeaders(["http://shop.test"], hold)
    context = FakeContext(page_cdp)

    async def scenario() -> None:
        await tracer.install(context, FakePage(context))  # type: ignore[arg-type]
        tracer.headers = {"traceparent": "T"}
        for frame in ("PAGE", "POPUP", "IFRAME", "THEIRS"):
            browser_cdp.pause(frame, frame)
        page_cdp.pause("FETCH", "PAGE")
        await _settle(hold._tasks._pending, tracer._tasks._pending)
        browser_cdp.pause("POPUP-AGAIN", "POPUP")
        await _settle(hold._tasks._pending)

    asyncio.run(scenario())
    traced = {"traceparent": "T"}
    assert browser_cdp.continued() == {
        "PAGE": traced,  # the page's own document, matched by its target id
        "POPUP": traced,  # a popup's first document, before Playwright reports the popup
        "IFRAME": traced,  # an iframe of one of the context's pages
        "THEIRS": {},  # another browser context's page: untouched
        "POPUP-AGAIN": traced,
    }
    assert page_cdp.continued() == {"FETCH": traced}
    # a page met costs no round trip; a popup's target is asked once, then remembered
    asked = [p["targetId"] for m, p in browser_cdp.sent if m == "Target.getTargetInfo"]
    assert sorted(asked) == ["IFRAME", "POPUP", "THEIRS"]
    # documents are held browser-wide, fetch and XHR by the page: each request once
    enabled = {
        name: {p["resourceType"] for m, params in cdp.sent if m == "Fetch.enable"
               for p in params["patterns"]}
        for name, cdp in (("browser", browser_cdp), ("page", page_cdp))
    }  # fmt: skip
    assert enabled == {"browser": {"Document"}, "page": {"XHR", "Fetch"}}


def test_a_closed_context_leaves_the_hold_and_another_origin_is_held_once() -> None:
    browser_cdp = FakeCdp({"Target.getTargetInfo": _browser_target})
    hold = DocumentHold(FakeBrowser(browser_cdp))  # type: ignore[arg-type]
    first = TraceHeaders(["http://shop.test"], hold)
    second = TraceHeaders(["http://shop.test", "http://api.shop.test"], hold)

    async def scenario() -> None:
        await hold.add(first)
        await hold.add(first)
        await hold.add(second)
        hold.page(first, _target("PAGE", "OURS")["targetInfo"])
        hold.remove(first)
        first.headers = {"traceparent": "T"}
        browser_cdp.pause("PAGE", "PAGE")
        await _settle(hold._tasks._pending)

    asyncio.run(scenario())
    patterns = [
        sorted({p["urlPattern"] for p in params["patterns"]})
        for method, params in browser_cdp.sent
        if method == "Fetch.enable"
    ]
    assert patterns == [
        ["http://shop.test/*"],
        ["http://api.shop.test/*", "http://shop.test/*"],
    ]
    assert browser_cdp.continued() == {"PAGE": {}}  # its context closed: nobody's page
