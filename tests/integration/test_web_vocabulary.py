"""Playwright's own vocabulary in a step, against the sandbox in real Chromium: a snippet as
`playwright codegen --target python` records it (with `page` read as `j.web.page`, `expect` as
`j.web.expect`) passes; timeouts say what was awaited."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness import journey
from harness.journey import discover, journeys_in
from harness.records import Outcome
from harness.runtime import RunSettings
from harness.sandbox.process import SandboxProcess, SandboxUrls
from harness.targets import Target
from harness.testing import RecordingSink
from harness.touchpoints.web import BrowserHost
from harness.virtual_user import VirtualUser, browser_host_for
from tests.integration.conftest import only_run_dir, run_cli

CODEGEN = Path(__file__).parent / "codegen_journeys"

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@journey
def wrong_url(j):
    with j.step("wait", on="web"):
        j.web.goto("/")
        j.web.expect_url("**/orders/*", timeout=0.5)


@journey
def missing_button(j):
    with j.step("click", on="web"):
        j.web.goto("/")
        j.web.set_timeouts(action=0.5)
        j.web.page.get_by_role("button", name="Buy now").click()


@journey
def wrong_text(j):
    with j.step("expect", on="web"):
        j.web.goto("/")
        j.web.set_timeouts(action=0.5)
        j.web.expect(j.web.page.locator("h1")).to_have_text("Shop")


@journey
def short_expect(j):
    with j.step("expect", on="web"):
        j.web.goto("/")
        j.web.expect.set_options(timeout=600)
        j.web.expect(j.web.page.get_by_test_id("no-such-thing")).to_be_visible()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserHost]:
    with browser_host_for() as host:
        yield host()


def _run(sandbox: SandboxUrls, tmp_path: Path, browser: BrowserHost, fn: object) -> RecordingSink:
    sink = RecordingSink()
    settings = RunSettings(
        run_id="vocab",
        target=Target.from_base_url(sandbox.base, name="sandbox"),
        artifacts_dir=tmp_path,
        action_timeout=10.0,
        navigation_timeout=15.0,
        record_browser_trace=False,
    )
    user = VirtualUser(index=0, settings=settings, sink=sink, browser=lambda: browser)
    user.run_iteration(journeys_in({"j": fn})[0], 0)
    return sink


def test_a_codegen_snippet_runs_at_load_with_its_web_vitals(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    # the recorded snippet and the idioms under Locust (gevent, the cooperative waiter; the
    # idioms' handlers in greenlets), one iteration each
    done = run_cli(
        "load", "--target", sandbox.base, "--journeys", str(CODEGEN), "--users", "2",
        "--browser-users", "2", "--max-iterations", "2", "--duration", "20s", "--no-traces",
        "--results", str(tmp_path), timeout=120,
    )  # fmt: skip
    run_dir = only_run_dir(tmp_path)
    steps = [
        json.loads(line)
        for line in (run_dir / "steps.jsonl").read_text().splitlines()
        if '"kind":"step"' in line
    ]
    assert [s["outcome"] for s in steps] == ["passed"] * 4, done.out + done.err
    # each navigation's Web Vitals: sign-up 2 pages, add to cart 2, checkout 3
    shop = [s for s in steps if s["journey"] == "codegen_buy"]
    assert [len(s.get("vitals", {}).get("lcp", ())) for s in shop] == [2, 2, 3]
    assert {s["journey"] for s in steps} == {"codegen_buy", "playwright_idioms"}
    assert (run_dir / "vitals" / "index.json").is_file()
    assert "## Web Vitals" in (run_dir / "summary.md").read_text()


def test_timeouts_say_what_was_awaited(
    sandbox: SandboxUrls, tmp_path: Path, browser: BrowserHost
) -> None:
    url = _run(sandbox, tmp_path, browser, wrong_url).steps[0]
    assert url.error_kind is not None and url.error_kind.value == "assertion"
    assert url.message is not None
    assert "URL wait for '**/orders/*' on /: timed out after 0.5 s" in url.message, url.message
    button = _run(sandbox, tmp_path, browser, missing_button).steps[0]
    assert button.message is not None
    assert "get_by_role('button', name='Buy now').click() on /" in button.message
    assert "timed out after 0.5 s" in button.message
    assert 'waiting for get_by_role("button", name="Buy now")' in button.message
    text = _run(sandbox, tmp_path, browser, wrong_text).steps[0]
    assert text.message is not None
    assert "expected to have text 'Shop'" in text.message and "Catalog" in text.message
    # expect.set_options' timeout, and how long a failed assertion waited and for what
    expected = _run(sandbox, tmp_path, browser, short_expect).steps[0]
    assert expected.message is not None and expected.artifacts, expected
    assert "to_be_visible() on /: Locator expected to be visible" in expected.message
    assert (
        '(timed out after 0.6 s, waiting for get_by_test_id("no-such-thing"))' in expected.message
    ), expected.message


def test_callbacks_and_expect_options_run_as_playwrights_docs_write_them(
    sandbox: SandboxUrls, tmp_path: Path, browser: BrowserHost
) -> None:
    # before: the dialog handler got an async Dialog and the page hung on it (an action timed
    # out); `expect.set_options` and `if page.query_selector(...)` were journey errors
    idioms = discover([CODEGEN / "playwright_idioms.py"])
    sink = RecordingSink()
    settings = RunSettings(
        run_id="idioms",
        target=Target.from_base_url(sandbox.base, name="sandbox"),
        artifacts_dir=tmp_path,
        record_browser_trace=False,
    )
    user = VirtualUser(index=0, settings=settings, sink=sink, browser=lambda: browser)
    user.run_iteration(idioms[0], 0)
    assert [(s.outcome, s.message) for s in sink.steps] == [(Outcome.PASSED, None)]


@journey
def open_product(j):
    with j.step("open product", on="web"):
        j.web.goto("/products/1")
        j.web.expect_visible("[data-testid=product-name]")


def test_a_page_painted_later_moves_its_lcp_not_its_ttfb(
    sandbox: SandboxUrls, tmp_path: Path, browser: BrowserHost
) -> None:
    # the same page from the baseline and from a candidate that keeps the product page's
    # content hidden for 400 ms after it loads (`render:`), alternated; compared on each
    # side's fastest, as a busy machine only adds time (a cold first load beside the suite's
    # other workers once put the baseline's LCP at 664 ms against 96 ms the next time)
    found: dict[str, dict[str, list[float]]] = {
        side: {"lcp": [], "ttfb": []} for side in ("baseline", "candidate")
    }
    with SandboxProcess(regressions=["render:web.product=+400ms"]) as slow:
        for _ in range(3):
            for side, urls in (("baseline", sandbox), ("candidate", slow.urls)):
                step = _run(urls, tmp_path, browser, open_product).steps[0]
                assert step.outcome is Outcome.PASSED, step.message
                assert step.vitals is not None
                assert {"ttfb", "fcp", "lcp", "cls"} <= set(step.vitals), step.vitals
                for name in ("lcp", "ttfb"):
                    found[side][name] += step.vitals[name]

    def moved(name: str) -> float:
        return min(found["candidate"][name]) - min(found["baseline"][name])

    assert moved("lcp") > 200, found
    assert moved("ttfb") < moved("lcp") - 150, found  # the server answered as fast


class _SlowBody(BaseHTTPRequestHandler):
    """`/`: a link to `/orders/1`, whose headers come at once and its rows 0.4 s later."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        if self.path == "/":
            self.wfile.write(b'<a id="go" href="/orders/1">order</a>')
            return
        self.wfile.write(b"<html><body><h1>Order</h1>")
        self.wfile.flush()
        time.sleep(0.4)
        self.wfile.write(b"<table>" + b'<tr class="row"><td>x</td></tr>' * 3 + b"</table>")

    def log_message(self, *args: object) -> None:
        pass


@journey
def rows_after_url(j):
    with j.step("rows", on="web"):
        j.web.goto("/")
        j.web.click("#go")
        j.web.expect_url("**/orders/*")
        assert j.web.count("tr.row") == 3, "no rows shown"


def test_expect_url_returns_once_the_page_has_loaded(tmp_path: Path, browser: BrowserHost) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowBody)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        urls = SandboxUrls.from_base(f"http://127.0.0.1:{server.server_address[1]}")
        step = _run(urls, tmp_path, browser, rows_after_url).steps[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert step.outcome is Outcome.PASSED, step.message


class _LateContent(BaseHTTPRequestHandler):
    """`/`: a page whose only content is hidden until 0.3 s after it loads."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(
            b'<html><body><p id="late" style="visibility:hidden">Order 1 paid</p><script>'
            b"addEventListener('load', () => setTimeout(() => "
            b"document.getElementById('late').style.visibility = 'visible', 300));"
            b"</script></body></html>"
        )

    def log_message(self, *args: object) -> None:
        pass


@journey
def late_paint(j):
    with j.step("open", on="web"):
        j.web.goto("/")  # ends before the content shows
    with j.step("again", on="web"):
        j.web.goto("/")
        j.web.expect_visible("#late")


def test_a_largest_paint_after_the_step_ended_still_counts_in_that_step(
    tmp_path: Path, browser: BrowserHost
) -> None:
    # the first step's page paints its content 0.3 s after the step ended: its end waits for
    # that paint, so the page's LCP is not lost, nor counted in the next step's
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LateContent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        urls = SandboxUrls.from_base(f"http://127.0.0.1:{server.server_address[1]}")
        steps = _run(urls, tmp_path, browser, late_paint).steps
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert [s.outcome for s in steps] == [Outcome.PASSED] * 2, [s.message for s in steps]
    counts = [{k: len(v) for k, v in (s.vitals or {}).items()} for s in steps]
    assert [c.get("ttfb") for c in counts] == [1, 1], counts
    assert [c.get("lcp") for c in counts] == [1, 1], counts
    assert steps[0].vitals is not None and steps[0].vitals["lcp"][0] >= 250, steps[0].vitals


@journey
def buy_one(j):
    with j.step("sign up", on="web"):
        j.web.goto("/signup")
        j.web.fill("input[name=name]", j.user.name)
        j.web.fill("input[name=email]", j.user.email)
        j.web.fill("input[name=password]", j.user.password)
        j.web.click("[data-testid=signup-submit]")
        j.web.expect_visible("[data-testid=user-name]")
    with j.step("add to cart", on="web"):
        j.web.goto("/products/1")
        j.web.click("[data-testid=add-to-cart]")
        j.web.expect_text("[data-testid=cart-notice]", "Added")
    with j.step("checkout", on="web"):
        card = j.synth.card
        j.web.goto("/cart")
        j.web.click("[data-testid=go-checkout]")
        j.web.fill("input[name=card_number]", card.number)
        j.web.fill("input[name=card_expiry]", card.expiry)
        j.web.fill("input[name=card_cvc]", card.cvc)
        j.web.click("[data-testid=place-order]")
        j.web.expect_url("**/orders/*")


def test_each_vital_names_its_page_and_a_slow_page_moves_only_its_own(
    sandbox: SandboxUrls, tmp_path: Path, browser: BrowserHost
) -> None:
    # the checkout step's three pages from the baseline and from a candidate whose checkout
    # page answers 300 ms later, alternated; each iteration a new person; compared on each
    # side's fastest, as a busy machine only adds time
    lcp: dict[tuple[str, str], list[float]] = {}
    with SandboxProcess(regressions=["latency:web.checkout=+300ms"]) as slow:
        for iteration in range(3):
            for side, urls in (("baseline", sandbox), ("candidate", slow.urls)):
                sink = RecordingSink()
                settings = RunSettings(
                    run_id="pages",
                    target=Target.from_base_url(urls.base, name=side),
                    artifacts_dir=tmp_path,
                    record_browser_trace=False,
                )
                user = VirtualUser(index=7, settings=settings, sink=sink, browser=lambda: browser)
                user.run_iteration(journeys_in({"j": buy_one})[0], iteration)
                checkout = sink.steps[-1]
                assert checkout.outcome is Outcome.PASSED, checkout.message
                assert checkout.vitals is not None and checkout.vital_pages is not None
                pages = checkout.vital_pages["lcp"]
                assert pages == ("/cart", "/checkout", "/orders/{id}"), checkout.vital_pages
                for page, value in zip(pages, checkout.vitals["lcp"], strict=True):
                    lcp.setdefault((side, page), []).append(value)

    def moved(page: str) -> float:
        return min(lcp[("candidate", page)]) - min(lcp[("baseline", page)])

    assert moved("/checkout") > 200, lcp
    assert moved("/cart") < 150 and moved("/orders/{id}") < 150, lcp


class _TwoPaints(BaseHTTPRequestHandler):
    """`/`: a small heading shown at once, and a large paragraph hidden until a step shows it."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        words = b"Your order has been paid and will ship tomorrow. " * 40
        self.wfile.write(
            b'<html><body><h1>Hi</h1><p id="big" style="visibility:hidden">'
            + words
            + b"</p></body></html>"
        )

    def log_message(self, *args: object) -> None:
        pass


@journey
def shown_at_the_end(j):
    with j.step("show", on="web"):
        j.web.goto("/")
        j.web.expect_visible("h1")
        j.web.page.wait_for_timeout(300)  # the heading's paint is the largest so far
        j.web.page.evaluate(
            "() => { document.getElementById('big').style.visibility = 'visible'; }"
        )


def test_content_shown_as_a_step_ends_is_its_pages_lcp(
    tmp_path: Path, browser: BrowserHost
) -> None:
    # the step ends right after it shows the page's largest element: its end waits the frames
    # that paint it, so the page's LCP is that element's (before: the heading's, painted first)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TwoPaints)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        urls = SandboxUrls.from_base(f"http://127.0.0.1:{server.server_address[1]}")
        (step,) = _run(urls, tmp_path, browser, shown_at_the_end).steps
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert step.outcome is Outcome.PASSED, step.message
    assert step.vitals is not None and len(step.vitals["lcp"]) == 1, step.vitals
    assert step.vitals["lcp"][0] >= step.vitals["fcp"][0] + 250, step.vitals
