"""`--browser-context reuse` and per-target `block` patterns, with real Chromium against the
sandbox: a reused context carries no cookie, storage or cached response into the next
iteration, and blocked requests are refused and counted. One Chromium for the module."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page

from harness import journey, virtual_user
from harness.journey import journeys_in
from harness.records import Outcome
from harness.runtime import RunSettings
from harness.sandbox.process import SandboxUrls
from harness.targets import Target
from harness.testing import RecordingSink
from harness.touchpoints.web import BrowserHost
from harness.virtual_user import VirtualUser
from tests.integration.conftest import only_run_dir, run_cli

pytestmark = pytest.mark.integration

LEFT = """async () => {
  addEventListener("pagehide", () => {  // run when the page is left: cleared all the same
    document.cookie = "unload=1; path=/";
    localStorage.setItem("unload", "1");
  });
  document.cookie = "left=1; path=/";
  localStorage.setItem("left", "1");
  sessionStorage.setItem("left", "1");
  await new Promise((done) => {
    const open = indexedDB.open("left", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("s");
    open.onsuccess = () => { open.result.close(); done(); };
  });
  await (await caches.open("left")).put("/left", new Response("1"));
}"""

SEEN = """async () => ({
  cookie: document.cookie,
  local: localStorage.getItem("left") || localStorage.getItem("unload"),
  session: sessionStorage.getItem("left"),
  idb: (await indexedDB.databases()).map((d) => d.name),
  caches: await caches.keys(),
})"""

found: list[dict[str, object]] = []


#: a response the HTTP cache keeps for 10 minutes (served by `_cacheable`)
CACHED: list[str] = []
FETCH_CACHED = "(url) => fetch(url).then((r) => r.text())"


@journey
def leave_state(j):
    with j.step("open", on="web"):
        j.web.goto("/")
        j.web.run(lambda page: page.evaluate(LEFT))
        j.web.run(lambda page: page.evaluate(FETCH_CACHED, CACHED[0]))
        found.append(j.web.run(lambda page: page.evaluate(SEEN)))


@journey
def look_for_state(j):
    with j.step("open", on="web"):
        j.web.goto("/")
        j.web.run(lambda page: page.evaluate(FETCH_CACHED, CACHED[0]))
        found.append(j.web.run(lambda page: page.evaluate(SEEN)))


class _Cacheable(BaseHTTPRequestHandler):
    """Answers with a body the HTTP cache may keep for 10 minutes; counts the requests."""

    asked = 0

    def do_GET(self) -> None:
        type(self).asked += 1
        self.send_response(200)
        self.send_header("Cache-Control", "public, max-age=600")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", "1")
        self.end_headers()
        self.wfile.write(b"1")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def cacheable() -> Iterator[type[_Cacheable]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Cacheable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Cacheable.asked = 0
    CACHED[:] = [f"http://127.0.0.1:{server.server_address[1]}/logo.json"]
    try:
        yield _Cacheable
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def host() -> Iterator[BrowserHost]:
    browser = BrowserHost()
    try:
        yield browser
    finally:
        browser.close()


def _user(host: BrowserHost, target: Target, tmp_path: Path, context: str) -> VirtualUser:
    settings = RunSettings(
        run_id="context",
        target=target,
        artifacts_dir=tmp_path,
        action_timeout=5.0,
        navigation_timeout=10.0,
        record_browser_trace=False,
        browser_context=context,
    )
    return VirtualUser(index=0, settings=settings, sink=RecordingSink(), browser=lambda: host)


def test_a_reused_context_starts_each_iteration_without_the_last_ones_state(
    host: BrowserHost, sandbox: SandboxUrls, tmp_path: Path, cacheable: type[_Cacheable]
) -> None:
    found.clear()
    user = _user(host, Target.from_base_url(sandbox.base, name="sandbox"), tmp_path, "reuse")
    leave, look = journeys_in({"a": leave_state, "b": look_for_state})
    try:
        first = user.run_iteration(leave, 0)
        kept = user._web
        second = user.run_iteration(look, 1)
        assert user._web is kept is not None  # the same context, not a new one
    finally:
        user.close()
    assert first.outcome is Outcome.PASSED, first.message
    assert second.outcome is Outcome.PASSED, second.message
    left, seen = found
    assert left == {
        "cookie": "left=1",
        "local": "1",
        "session": "1",
        "idb": ["left"],
        "caches": ["left"],
    }
    assert seen == {"cookie": "", "local": None, "session": None, "idb": [], "caches": []}
    assert cacheable.asked == 2  # the HTTP cache was cleared: asked again, not served from it


FETCHES = """async () => Promise.all(
  ["https://www.example.com/collect", "/static/brand.woff2", "/api/v1/health"].map(
    (url) => fetch(url).then((r) => r.status, () => "refused")))"""


@journey
def open_home(j):
    with j.step("open", on="web"):
        j.web.goto("/")
        found.append(j.web.run(lambda page: page.evaluate(FETCHES)))
        found.append({"blocked": j.web.blocker.blocked if j.web.blocker else None})


def test_block_patterns_refuse_and_count_requests(
    host: BrowserHost, sandbox: SandboxUrls, tmp_path: Path
) -> None:
    found.clear()
    target = Target.from_base_url(sandbox.base, name="sandbox").model_copy(
        update={"block": ("*.example.com", "fonts")}
    )
    before = host.blocked
    user = _user(host, target, tmp_path, "fresh")
    try:
        record = user.run_iteration(journeys_in({"h": open_home})[0], 0)
    finally:
        user.close()
    assert record.outcome is Outcome.PASSED, record.message
    assert found == [["refused", "refused", 200], {"blocked": 2}]
    assert host.blocked - before == 2


BEACON = """
from harness import journey

@journey
def beacon(j):
    with j.step("open", on="web"):
        j.web.goto("/")
        j.web.run(lambda page: page.evaluate(
            "fetch('https://www.example.com/collect').catch(() => 0)"))
"""


def test_a_load_reuses_contexts_and_counts_the_requests_its_block_patterns_refused(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    (tmp_path / "journeys").mkdir()
    (tmp_path / "journeys" / "beacon.py").write_text(BEACON)
    (tmp_path / "harness.toml").write_text(
        f'browser_context = "reuse"\n[targets.box]\nurl = "{sandbox.base}"\n'
        'block = ["*.example.com"]\n'
    )
    result = run_cli(
        "load", "--target", "box", "--users", "1", "--spawn-rate", "1", "--duration", "10s",
        "--browser-users", "1", "--max-error-rate", "100", "--no-traces",
        "--results", str(tmp_path / "results"), cwd=tmp_path,
    )  # fmt: skip
    run = only_run_dir(tmp_path / "results")
    meta = json.loads((run / "run.json").read_text())
    assert meta["iterations"] >= 1, result.out + result.err
    assert meta["browser_blocked"] >= meta["iterations"]
    assert "requests refused by `block` patterns" in result.out
    assert "**Blocked requests:**" in (run / "summary.md").read_text()


def test_web_vitals_watch_the_targets_pages_not_the_blank_page_between_iterations(
    host: BrowserHost, sandbox: SandboxUrls, tmp_path: Path
) -> None:
    # a reused context waits on about:blank between iterations: the Web Vitals init script
    # sets nothing up there (five observers and a pagehide handler per blank page, for nothing)
    session = host.new_session(base_url=sandbox.web, artifacts_dir=tmp_path, reuse=True)
    watching = "() => typeof window.__harnessVitals"
    try:
        host.call(session._goto("/", None))
        on_page = host.call(session.page_async.evaluate(watching))
        host.call(session.page_async.goto("about:blank"))
        on_blank = host.call(session.page_async.evaluate(watching))
    finally:
        session.close()
    assert (on_page, on_blank) == ("function", "undefined")


#: a page on another origin that keeps its own storage and, while open, writes a cookie
POPUP_PAGE = b"""<html><body><script>
  window.cookieAtLoad = document.cookie;
  localStorage.setItem("visits", String(Number(localStorage.getItem("visits") || 0) + 1));
  setInterval(() => { document.cookie = "popup=1; path=/"; }, 20);
</script><p id=ok>ok</p></body></html>"""


class _PopupPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(POPUP_PAGE)))
        self.end_headers()
        self.wfile.write(POPUP_PAGE)

    def log_message(self, *args: object) -> None:
        pass


POPUP: list[str] = []


async def _open_popup(page):  # type: ignore[no-untyped-def]
    """Open the other origin's page as a popup and leave it open: its cookies as it loaded, and
    its count of visits to its origin."""
    async with page.expect_popup() as info:
        await page.evaluate("(url) => { window.open(url); }", POPUP[0])
    popup = await info.value
    await popup.wait_for_load_state()
    seen = "() => ({cookie: window.cookieAtLoad, visits: localStorage.getItem('visits')})"
    return await popup.evaluate(seen)


@journey
def open_a_popup(j):
    with j.step("open", on="web"):
        j.web.goto("/")
        found.append(j.web.run(_open_popup))
        j.web.run(lambda page: page.wait_for_timeout(100))  # the popup writes its cookie


def test_a_reused_context_closes_the_iterations_popups_and_clears_their_origins(
    host: BrowserHost, sandbox: SandboxUrls, tmp_path: Path
) -> None:
    found.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PopupPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    POPUP[:] = [f"http://localhost:{server.server_address[1]}/popup"]
    user = _user(host, Target.from_base_url(sandbox.base, name="sandbox"), tmp_path, "reuse")
    (popup,) = journeys_in({"p": open_a_popup})
    try:
        first = user.run_iteration(popup, 0)
        second = user.run_iteration(popup, 1)
        pages = len(user._web._context.pages) if user._web and user._web._context else None
    finally:
        user.close()
        server.shutdown()
        server.server_close()
    assert first.outcome is Outcome.PASSED, first.message
    assert second.outcome is Outcome.PASSED, second.message
    # the second iteration starts as the first did: no cookie from the first one's popup (it
    # was closed, so it wrote no more), and the popup's origin's storage cleared
    assert found == [{"cookie": "", "visits": "1"}, {"cookie": "", "visits": "1"}]
    assert pages == 1  # the iteration's popup closed as it ended


@journey
def just_open(j):
    with j.step("open", on="web"):
        j.web.goto("/")


def test_a_reused_context_is_replaced_after_its_limit_of_iterations(
    host: BrowserHost, sandbox: SandboxUrls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Playwright keeps every request of a context until it closes (about 150 kB an iteration of
    # `browse_and_buy`): a reused context serves REUSE_LIMIT iterations, then another opens
    monkeypatch.setattr(virtual_user, "REUSE_LIMIT", 2, raising=False)
    user = _user(host, Target.from_base_url(sandbox.base, name="sandbox"), tmp_path, "reuse")
    (opens,) = journeys_in({"o": just_open})
    contexts = []
    try:
        for iteration in range(5):
            record = user.run_iteration(opens, iteration)
            assert record.outcome is Outcome.PASSED, record.message
            contexts.append(id(user._web._context) if user._web and user._web._context else None)
    finally:
        user.close()
    # after iterations 1 and 2 of a context: kept, then closed (none kept until the next opens)
    first, second, third, fourth, fifth = contexts
    assert first is not None and second is None
    assert third is not None and fourth is None and fifth is not None


@journey
def route_and_emulate(j):
    with j.step("open", on="web"):
        page = j.web.page
        page.route("**/leak-probe", lambda route: route.fulfill(status=200, body="iteration 1"))
        page.set_extra_http_headers({"x-left-by": "iteration 1"})
        page.goto("/leak-probe")
        found.append({"text": page.locator("body").inner_text()})


@journey
def probe_again(j):
    with j.step("open", on="web"):
        page = j.web.page
        answer = page.goto("/leak-probe")
        found.append({"status": answer.status, "text": page.locator("body").inner_text()})


def test_a_route_or_emulation_set_through_the_page_never_reaches_the_next_iteration(
    host: BrowserHost, sandbox: SandboxUrls, tmp_path: Path
) -> None:
    # Clearing cookies, storage and cache undoes no page listener, route, header or emulation a
    # journey set through j.web.page: a reused context that got one is replaced, so the next
    # iteration starts as a new person would (the route fulfilled iteration 2's page before)
    found.clear()
    user = _user(host, Target.from_base_url(sandbox.base, name="sandbox"), tmp_path, "reuse")
    set_up, probe = journeys_in({"a": route_and_emulate, "b": probe_again})
    contexts = []
    try:
        for iteration, which in enumerate((set_up, probe, probe)):
            record = user.run_iteration(which, iteration)
            assert record.outcome is Outcome.PASSED, record.message
            contexts.append(user._web)
    finally:
        user.close()
    assert found[0] == {"text": "iteration 1"}
    assert found[1]["status"] == 404 and found[1]["text"] != "iteration 1", found[1]
    # replaced after the iteration that set them; kept after one that set nothing lasting
    assert contexts[0] is None and contexts[1] is not None and contexts[2] is contexts[1]


async def answer_iteration_1(route):
    await route.fulfill(status=200, body="iteration 1")


async def route_raw(page):
    # Playwright's async page as `j.web.run` gives it, with a route set on it
    await page.route("**/leak-probe", answer_iteration_1)
    return isinstance(page, Page) and isinstance(page.context, BrowserContext)


async def route_raw_through_a_new_page(page):
    # the same context, reached through another page the run opens (closed before the next
    # iteration; the route set on its context stays with the context)
    other = await page.context.new_page()
    await other.context.route("**/leak-probe", answer_iteration_1)
    return type(page) is Page and other.context is page.context


@journey
def route_through_run(j):
    with j.step("open", on="web"):
        found.append({"raw page": j.web.run(ROUTE_RAW[0])})
        j.web.goto("/leak-probe")
        found.append({"text": j.web.page.locator("body").inner_text()})


ROUTE_RAW = [route_raw]


@pytest.mark.parametrize("setter", [route_raw, route_raw_through_a_new_page])
def test_a_route_set_on_the_raw_page_inside_run_never_reaches_the_next_iteration(
    setter: Any, host: BrowserHost, sandbox: SandboxUrls, tmp_path: Path
) -> None:
    # `j.web.run(async_fn)` hands Playwright's own async page over: a route set on it (or on
    # its context through a page the run opened) in one iteration of a reused context answered
    # the next one's pages (200 'iteration 1' where the sandbox answers 404), as one set
    # through j.web.page did before it was noted
    found.clear()
    ROUTE_RAW[:] = [setter]
    user = _user(host, Target.from_base_url(sandbox.base, name="sandbox"), tmp_path, "reuse")
    set_up, probe = journeys_in({"a": route_through_run, "b": probe_again})
    contexts = []
    try:
        for iteration, which in enumerate((set_up, probe, probe)):
            record = user.run_iteration(which, iteration)
            assert record.outcome is Outcome.PASSED, record.message
            contexts.append(user._web)
    finally:
        user.close()
    assert found[0] == {"raw page": True} and found[1] == {"text": "iteration 1"}
    assert found[2]["status"] == 404 and found[2]["text"] != "iteration 1", found[2]
    assert contexts[0] is None and contexts[1] is not None and contexts[2] is contexts[1]


@journey
def open_with_a_url_in_the_query(j):
    with j.step("open", on="web"):
        found.append({"status": j.web.goto("/?next=https://www.example.com/")})


class _Paths(BaseHTTPRequestHandler):
    """Answers every GET with a page; notes the paths asked for."""

    asked: list[str] = []

    def do_GET(self) -> None:
        type(self).asked.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def test_a_path_whose_query_holds_a_url_is_opened_under_the_base(
    host: BrowserHost, tmp_path: Path
) -> None:
    # `/?next=https://...` is a path, as requests, httpx and j.api read it: under a web base
    # with a path of its own (`/app/`) it opens /app/?next=...; j.web.goto took any "://" for
    # an absolute URL and Chromium opened /?next=... at the server's root
    found.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Paths)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Paths.asked = []
    base = f"http://127.0.0.1:{server.server_address[1]}/app/"
    user = _user(host, Target.from_base_url(base, name="app"), tmp_path, "fresh")
    (opens,) = journeys_in({"o": open_with_a_url_in_the_query})
    try:
        record = user.run_iteration(opens, 0)
    finally:
        user.close()
        server.shutdown()
        server.server_close()
    assert record.outcome is Outcome.PASSED, record.message
    assert found == [{"status": 200}]
    assert _Paths.asked[0] == "/app/?next=https://www.example.com/", _Paths.asked
