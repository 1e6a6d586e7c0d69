"""Playwright's errors as step errors that say what was awaited, where, and for how long."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Error, TimeoutError

from harness.touchpoints.web_errors import guard


def _raise(exc: BaseException) -> object:
    async def fail() -> None:
        raise exc

    return fail()


def _message(exc: BaseException, *, navigation: bool = False, what: str = "click #buy") -> str:
    with pytest.raises(Exception) as info:
        asyncio.run(guard(_raise(exc), what, "/cart", navigation=navigation))  # type: ignore[arg-type]
    return f"{type(info.value).__name__}: {info.value}"


def test_a_timeout_names_what_was_awaited_and_for_how_long() -> None:
    element = TimeoutError(
        'Locator.click: Timeout 5000ms exceeded.\nCall log:\n  - waiting for locator("#buy")\n'
    )
    assert _message(element) == (
        'ExpectationFailed: click #buy on /cart: timed out after 5 s (waiting for locator("#buy"))'
    )
    page = TimeoutError(
        "Page.goto: Timeout 15000ms exceeded.\nCall log:\n"
        '  - navigating to "http://shop.test/slow", waiting until "domcontentloaded"\n'
    )
    assert _message(page, navigation=True, what="open /slow") == (
        "StepTimeout: open /slow: page did not load after 15 s (navigating to "
        '"http://shop.test/slow", waiting until "domcontentloaded")'
    )


def test_assertions_keep_expected_and_actual_and_other_errors_are_classified() -> None:
    failed = AssertionError(
        "Locator expected to have text 'paid'\nActual value: pending \nCall log:\n  - Expect"
    )
    assert _message(failed, what="expect(x).to_have_text('paid')") == (
        "ExpectationFailed: expect(x).to_have_text('paid') on /cart: Locator expected to have "
        "text 'paid' · Actual value: pending"
    )
    timed_out = AssertionError(
        "Locator expected to be visible\nActual value: None\nError: element(s) not found \n"
        'Call log:\n  - Expect "to_be_visible" get_by_role("button", name="Buy") with timeout '
        '500ms\n  - waiting for get_by_role("button", name="Buy")\n\nAria snapshot:\n- main'
    )
    assert _message(timed_out, what="expect(b).to_be_visible()") == (
        "ExpectationFailed: expect(b).to_be_visible() on /cart: Locator expected to be visible · "
        "Actual value: None · Error: element(s) not found (timed out after 0.5 s, waiting for "
        'get_by_role("button", name="Buy"))'
    )
    refused = Error("Page.goto: net::ERR_CONNECTION_REFUSED at http://shop.test/")
    assert _message(refused).startswith("ConnectionFailed: click #buy: Page.goto")
    assert _message(Error("Target closed")) == "BrowserError: click #buy on /cart: Target closed"
