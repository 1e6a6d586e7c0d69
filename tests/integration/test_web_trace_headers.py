"""Trace headers in the browser, with real Chromium and two real HTTP servers on loopback (the
target and a third-party host): a traced action's `traceparent` and `baggage` reach the
target's documents (a popup's first one and an iframe's too) and fetches, never the third-party
host; the context's own extra headers (`X-Feature-Flags`) stay on every request; no action sets
the context's headers again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.touchpoints.web import BrowserHost

pytestmark = pytest.mark.integration

FIRST = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
SECOND = "00-" + "3" * 32 + "-" + "4" * 16 + "-01"
THIRD = "00-" + "5" * 32 + "-" + "6" * 16 + "-01"


class _Recorder(BaseHTTPRequestHandler):
    """Answers every request (CORS allowed) and records its method, path and headers."""

    seen: list[tuple[str, str, dict[str, str]]]

    def _answer(self) -> None:
        self.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        page = b"<html><body><p id=ok>ok</p><a id=blank href=/popup-link target=_blank>new</a>"
        body = page + b"</body></html>" if self.path == "/" else b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if self.path == "/" else "application/json")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_OPTIONS = _answer

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _server() -> Iterator[tuple[str, list[tuple[str, str, dict[str, str]]]]]:
    seen: list[tuple[str, str, dict[str, str]]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserHost]:
    host = BrowserHost()
    try:
        yield host
    finally:
        host.close()


def test_trace_headers_reach_the_target_only_and_keep_the_contexts_own(
    tmp_path: Path, browser: BrowserHost
) -> None:
    with _server() as (target, at_target), _server() as (other, at_other):
        session = browser.new_session(
            base_url=target,
            artifacts_dir=tmp_path,
            extra_headers={"X-Feature-Flags": "new_checkout=on"},
        )
        calls: list[object] = []
        context = session._context
        assert context is not None
        real = context.set_extra_http_headers

        async def counted(headers: dict[str, str]) -> None:
            calls.append(headers)
            await real(headers)

        context.set_extra_http_headers = counted  # type: ignore[method-assign]
        fetches = (
            f"() => Promise.all([fetch('/data').then((r) => r.status),"
            f" fetch('{other}/beacon').then((r) => r.status, () => 'refused')])"
        )
        try:
            first = {"traceparent": FIRST, "baggage": "harness.journey=checkout"}
            browser.call(session._with_headers(first, session._goto("/", None)))
            second = {"traceparent": SECOND}
            statuses = browser.call(
                session._with_headers(second, session.page_async.evaluate(fetches))
            )
            untraced = browser.call(session._with_headers(None, session.page_async.evaluate(
                "() => fetch('/later').then((r) => r.status)"
            )))  # fmt: skip
        finally:
            session.close()
    assert statuses == [200, 200] and untraced == 200
    assert calls == []  # a traced action costs no round trip to set the context's headers
    by_path = {path: headers for method, path, headers in at_target if method == "GET"}
    assert by_path["/"]["traceparent"] == FIRST
    assert by_path["/"]["baggage"] == "harness.journey=checkout"
    assert by_path["/data"]["traceparent"] == SECOND
    assert "baggage" not in by_path["/data"]
    assert "traceparent" not in by_path["/later"]
    for headers in by_path.values():
        assert headers["x-feature-flags"] == "new_checkout=on"
    assert at_other, "the third-party host was not asked"
    for _method, _path, headers in at_other:
        assert "traceparent" not in headers and "baggage" not in headers
        assert "traceparent" not in headers.get("access-control-request-headers", "")


def test_a_popup_the_page_opens_sends_the_actions_trace_headers_too(
    tmp_path: Path, browser: BrowserHost
) -> None:
    with _server() as (target, at_target):
        session = browser.new_session(base_url=target, artifacts_dir=tmp_path)

        async def open_popup() -> Any:
            async with session.page_async.expect_popup() as info:
                await session.page_async.evaluate("() => { window.open('/'); }")
            return await info.value

        fetch = "() => fetch('/from-popup').then((r) => r.status)"
        try:
            browser.call(session._with_headers({"traceparent": FIRST}, session._goto("/", None)))
            popup = browser.call(session._with_headers({"traceparent": SECOND}, open_popup()))
            # the next action, in the popup: its requests carry that action's headers
            third = {"traceparent": THIRD}
            status = browser.call(session._with_headers(third, popup.evaluate(fetch)))
        finally:
            session.close()
    assert status == 200
    by_path = {path: headers for method, path, headers in at_target if method == "GET"}
    assert by_path["/from-popup"]["traceparent"] == THIRD


_OPENS = {
    "window.open": "() => { window.open('/popup-opened'); }",
    "target=_blank": "() => document.getElementById('blank').click()",
}


@pytest.mark.parametrize("how", sorted(_OPENS))
def test_a_popups_first_document_carries_the_trace_headers_of_the_action_that_opened_it(
    tmp_path: Path, browser: BrowserHost, how: str
) -> None:
    # Playwright reports a popup only once its first document has arrived: the popup's own
    # session came too late for that request, which went without trace headers
    with _server() as (target, at_target), _server() as (other, at_other):
        session = browser.new_session(base_url=target, artifacts_dir=tmp_path)

        async def open_popup(script: str) -> Any:
            async with session.page_async.expect_popup() as info:
                await session.page_async.evaluate(script)
            return await info.value

        framed = (
            "() => new Promise((loaded) => { const frame = document.createElement('iframe');"
            " frame.onload = loaded; frame.src = '/framed'; document.body.append(frame); })"
        )
        away = f"() => {{ window.open('{other}/away'); }}"
        opening = {"traceparent": SECOND, "baggage": "harness.step=open"}
        try:
            browser.call(session._with_headers({"traceparent": FIRST}, session._goto("/", None)))
            browser.call(session._with_headers(opening, open_popup(_OPENS[how])))
            browser.call(session._with_headers({"traceparent": THIRD}, open_popup(away)))
            browser.call(
                session._with_headers({"traceparent": THIRD}, session.page_async.evaluate(framed))
            )
        finally:
            session.close()
    by_path = {path: headers for method, path, headers in at_target if method == "GET"}
    first = by_path["/popup-opened" if how == "window.open" else "/popup-link"]
    assert first.get("traceparent") == SECOND
    assert first.get("baggage") == "harness.step=open"
    assert by_path["/framed"].get("traceparent") == THIRD  # an iframe's document, too
    assert [path for _method, path, _headers in at_other if path == "/away"] == ["/away"]
    for _method, _path, headers in at_other:  # a popup on another host: none
        assert "traceparent" not in headers and "baggage" not in headers
