"""Predicates given to Playwright's event waits through `j.web.page`, in real Chromium against a
local page: they get the sync API's objects and may ask the browser from inside (read a body,
a header, a console argument, a popup's title), as sync Playwright's do; one that raises fails
the step with its error at once, not at the wait's timeout."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness import journey
from harness.journey import journeys_in
from harness.records import Outcome, StepRecord
from harness.runtime import RunSettings
from harness.targets import Target
from harness.testing import RecordingSink
from harness.touchpoints.web import BrowserHost
from harness.virtual_user import VirtualUser, browser_host_for

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PAGE = b"""<!doctype html><title>probe</title><body>
<button id="fetch" onclick="fetch('/api', {method: 'POST', body: JSON.stringify({a: 1}),
  headers: {'content-type': 'application/json'}})">fetch</button>
<button id="log" onclick="console.log('hello', 42)">log</button>
<button id="pop" onclick="window.open('/popup')">pop</button>
</body>"""


class _Probe(BaseHTTPRequestHandler):
    """`/`: buttons that post JSON to `/api`, log to the console and open `/popup`."""

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("X-Probe", "yes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/popup"):
            self._send(b"<title>popup</title>popup", "text/html")
        else:
            self._send(PAGE, "text/html")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._send(json.dumps({"ok": True}).encode(), "application/json")

    def log_message(self, *args: object) -> None:
        pass


seen: list[object] = []


@journey
def predicates(j):
    page = j.web.page
    with j.step("wait", on="web"):
        page.goto("/")
        # each predicate asks the browser from inside (a body, a header, a JS value, a title)
        with page.expect_response(lambda r: r.json()["ok"] is True) as answer:
            page.click("#fetch")
        seen.append(answer.value.json())
        with page.expect_response(lambda r: r.header_value("x-probe") == "yes") as answer:
            page.click("#fetch")
        seen.append(answer.value.all_headers()["x-probe"])
        with page.expect_request(lambda r: r.post_data_json == {"a": 1}) as asked:
            page.click("#fetch")
        seen.append(asked.value.method)
        with page.expect_request_finished(lambda r: r.response().status == 200) as done:
            page.click("#fetch")
        seen.append(done.value.url.rsplit("/", 1)[-1])
        with page.expect_event("response", predicate=lambda r: r.text() == '{"ok": true}'):
            page.click("#fetch")
        with page.expect_console_message(lambda m: m.args[1].json_value() == 42) as message:
            page.click("#log")
        seen.append(message.value.text)
        with page.expect_popup(lambda p: (p.wait_for_load_state(), p.title())[1] == "popup") as pop:
            page.click("#pop")
        seen.append(pop.value.title())
        pop.value.close()
        page.evaluate("setTimeout(() => document.querySelector('#fetch').click(), 100)")
        answered = page.wait_for_event("response", lambda r: r.json() == {"ok": True})
        seen.append(answered.status)


def refuse(response: Any) -> bool:
    raise ValueError(f"not this one: x-probe {response.header_value('x-probe')}")


@journey
def raising_predicate(j):
    page = j.web.page
    with j.step("wait", on="web"):
        page.goto("/")
        with page.expect_response(refuse, timeout=20_000):
            page.click("#fetch")


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserHost]:
    with browser_host_for() as host:
        yield host()


@pytest.fixture(scope="module")
def probe_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Probe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _run(url: str, tmp_path: Path, browser: BrowserHost, fn: object) -> StepRecord:
    sink = RecordingSink()
    settings = RunSettings(
        run_id="predicates",
        target=Target.from_base_url(url, name="probe"),
        artifacts_dir=tmp_path,
        action_timeout=10.0,
        navigation_timeout=15.0,
        record_browser_trace=False,
    )
    user = VirtualUser(index=0, settings=settings, sink=sink, browser=lambda: browser)
    try:
        user.run_iteration(journeys_in({"j": fn})[0], 0)
    finally:
        user.close()
    (step,) = sink.steps
    return step


def test_predicates_get_sync_objects_and_may_ask_the_browser(
    probe_url: str, tmp_path: Path, browser: BrowserHost
) -> None:
    # before: each predicate got Playwright's async objects, so `r.json()` was a coroutine
    # ("'coroutine' object is not subscriptable") and `r.header_value(...) == "yes"` never held
    # (the wait ran out its timeout)
    seen.clear()
    step = _run(probe_url, tmp_path, browser, predicates)
    assert step.outcome is Outcome.PASSED, step.message
    assert seen == [{"ok": True}, "yes", "POST", "api", "hello 42", "popup", 200]


def test_a_predicate_that_raises_fails_the_step_with_its_error_at_once(
    probe_url: str, tmp_path: Path, browser: BrowserHost
) -> None:
    started = time.monotonic()
    step = _run(probe_url, tmp_path, browser, raising_predicate)
    took = time.monotonic() - started
    assert step.outcome is not Outcome.PASSED
    assert step.message is not None
    # its error is the step's, long before the 20 s wait ran out, and it could read a header
    # (before: "x-probe <coroutine object Response.header_value ...>")
    assert "not this one: x-probe yes" in step.message, step.message
    assert took < 10, took
