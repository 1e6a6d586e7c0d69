"""Playwright's own vocabulary in a step, against the sandbox in real Chromium: a snippet as
`playwright codegen --target python` records it (with `page` read as `j.web.page`, `expect` as
`j.web.expect`) passes; timeouts say what was awaited."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import journey
from harness.journey import journeys_in
from harness.records import Outcome
from harness.runtime import RunSettings
from harness.sandbox.process import SandboxUrls
from harness.targets import Target
from harness.testing import RecordingSink
from harness.touchpoints.web import BrowserHost
from harness.virtual_user import VirtualUser, browser_host_for


@journey
def codegen_buy(j):
    page, expect = j.web.page, j.web.expect
    with j.step("sign up", on="web"):
        # recorded by `playwright codegen --target python`, `page`/`expect` as above
        page.goto("/signup")
        page.get_by_label("Name").click()
        page.get_by_label("Name").fill(j.user.name)
        page.get_by_label("Email").fill(j.user.email)
        page.get_by_label("Password").fill(j.user.password)
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_test_id("user-name")).to_be_visible()
    with j.step("add to cart", on="web"):
        page.goto("/")
        page.get_by_test_id("product-link").first.click()
        page.get_by_role("button", name="Add to cart").click()
        expect(page.get_by_test_id("cart-notice")).to_contain_text("Added")
    with j.step("checkout", on="web"):
        page.get_by_test_id("cart-link").click()
        expect(page.get_by_test_id("cart-item")).to_have_count(1)
        page.get_by_role("link", name="Checkout").click()
        page.get_by_label("Card number").fill(j.synth.card.number)
        page.get_by_label("Expiry (MM/YY)").fill(j.synth.card.expiry)
        page.get_by_label("CVC").fill(j.synth.card.cvc)
        page.get_by_role("button", name="Place order").click()
        expect(page).to_have_url(re.compile(r".*/orders/\d+"))
        expect(page.get_by_test_id("order-status")).to_have_text("paid")
        # the harness's own helpers and locators mix with it
        assert j.web.locator("[data-testid=order-id]").count() == 1
        assert j.web.get_by_test_id("order-status").text_content() == "paid"


@journey
def wrong_url(j):
    with j.step("wait", on="web"):
        j.web.goto("/")
        j.web.expect_url("**/orders/*", timeout=0.5)


@journey
def missing_button(j):
    with j.step("click", on="web"):
        j.web.goto("/")
        j.web.page.get_by_role("button", name="Buy now").click(timeout=500)


@journey
def wrong_text(j):
    with j.step("expect", on="web"):
        j.web.goto("/")
        j.web.expect(j.web.page.locator("h1")).to_have_text("Shop", timeout=500)


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


def test_a_codegen_snippet_runs_in_a_step(
    sandbox: SandboxUrls, tmp_path: Path, browser: BrowserHost
) -> None:
    started = time.monotonic()
    sink = _run(sandbox, tmp_path, browser, codegen_buy)
    assert [s.outcome for s in sink.steps] == [Outcome.PASSED] * 3, [s.message for s in sink.steps]
    assert time.monotonic() - started < 60


def test_timeouts_say_what_was_awaited(
    sandbox: SandboxUrls, tmp_path: Path, browser: BrowserHost
) -> None:
    url = _run(sandbox, tmp_path, browser, wrong_url).steps[0]
    assert url.error_kind is not None and url.error_kind.value == "assertion"
    assert url.message is not None
    assert "URL wait for '**/orders/*' on /: timed out after 0.5 s" in url.message, url.message
    button = _run(sandbox, tmp_path, browser, missing_button).steps[0]
    assert button.message is not None
    assert "get_by_role('button', name='Buy now').click(timeout=500)" in button.message
    assert "timed out after 0.5 s" in button.message
    assert 'waiting for get_by_role("button", name="Buy now")' in button.message
    text = _run(sandbox, tmp_path, browser, wrong_text).steps[0]
    assert text.message is not None
    assert "expected to have text 'Shop'" in text.message and "Catalog" in text.message
