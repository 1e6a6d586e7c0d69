"""Card checks, contract transforms, release profiles and HTML test-id removal (no server)."""

from __future__ import annotations

import datetime as dt
import random
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from harness.sandbox import pages
from harness.sandbox.cards import card_accepted, expiry_is_past, luhn_valid
from harness.sandbox.contract import ContractMode, ContractRule, ContractRules, apply_mode
from harness.sandbox.pages import TESTIDS, PageContext
from harness.sandbox.profile import ReleaseProfile, funnel_bucket
from harness.sandbox.regressions import parse_regressions
from harness.sandbox.uifilter import strip_testids

TODAY = dt.date(2026, 6, 15)


@pytest.mark.parametrize(
    "number",
    ["4111111111111111", "4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005"],
)
def test_luhn_accepts_valid_numbers(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize(
    "number", ["4111111111111112", "1234", "", "abcdabcdabcdabcd", "4111111111111111111111"]
)
def test_luhn_rejects_invalid_numbers(number: str) -> None:
    assert not luhn_valid(number)


@pytest.mark.parametrize(
    ("expiry", "past"),
    [
        ("06/26", False),  # valid through the end of its month
        ("05/26", True),
        ("12/2030", False),
        ("1/27", False),
        ("13/27", True),
        ("0626", True),
        ("", True),
    ],
)
def test_expiry(expiry: str, past: bool) -> None:
    assert expiry_is_past(expiry, TODAY) is past


def test_card_accepted_needs_luhn_expiry_and_cvc() -> None:
    good = {"number": "4111111111111111", "expiry": "12/30", "cvc": "123"}
    assert card_accepted(good, TODAY)
    assert not card_accepted({**good, "number": "4111111111111112"}, TODAY)
    assert not card_accepted({**good, "expiry": "01/20"}, TODAY)
    assert not card_accepted({**good, "cvc": "12"}, TODAY)
    assert not card_accepted({**good, "number": 4111111111111111}, TODAY)
    assert card_accepted({**good, "cvc": 1234}, TODAY)


@pytest.mark.parametrize(
    ("value", "mode", "expected"),
    [
        (12.3, ContractMode.STRING, "12.30"),
        (7, ContractMode.STRING, "7"),
        (12.3, ContractMode.NULL, None),
        ("paid", ContractMode.NULL, None),
    ],
)
def test_apply_mode(value: Any, mode: ContractMode, expected: Any) -> None:
    payload = {"x": value, "other": 1}
    apply_mode(payload, "x", mode)
    assert payload == {"x": expected, "other": 1}


def test_apply_mode_missing_removes_the_key_and_ignores_absent_keys() -> None:
    payload = {"x": 1, "y": 2}
    apply_mode(payload, "x", ContractMode.MISSING)
    apply_mode(payload, "nope", ContractMode.NULL)
    assert payload == {"y": 2}


def test_contract_rules_map_to_mobile_compact_keys() -> None:
    rules = ContractRules(
        [
            ContractRule("order", "total", ContractMode.STRING),
            ContractRule("order", "user_id", ContractMode.MISSING),  # no mobile key
        ]
    )
    api = rules.api("order", {"id": 1, "user_id": 2, "total": 12.5})
    assert api == {"id": 1, "total": "12.50"}
    assert rules.mobile("order", {"id": 1, "t": 1250, "s": "paid"}) == {
        "id": 1,
        "t": "1250",
        "s": "paid",
    }
    assert rules.api("cart", {"total": 1.0}) == {"total": 1.0}
    assert not ContractRules()


def test_funnel_bucket_is_stable_case_insensitive_and_spread() -> None:
    assert funnel_bucket("checkout", "Ada@Example.com") == funnel_bucket(
        "checkout", "ada@example.com"
    )
    buckets = [funnel_bucket("checkout", f"user{i}@example.com") for i in range(2000)]
    assert all(0.0 <= b < 1.0 for b in buckets)
    share = sum(b < 0.2 for b in buckets) / len(buckets)
    assert 0.15 < share < 0.25


def test_profile_effects() -> None:
    specs = [
        "latency:api.orders.create=+200ms",
        "latency:*.orders.create=+1s@50%",
        "errors:api.health=100%",
        "funnel:cart=100%",
        "ui:place-order",
    ]
    profile = ReleaseProfile("candidate", parse_regressions(specs), random.Random(7))
    effects = profile.route("api.orders.create")
    delays = [profile.delay(effects) for _ in range(400)]
    assert {round(d, 6) for d in delays} == {0.2, 1.2}
    assert 0.35 < sum(d > 1 for d in delays) / len(delays) < 0.65
    assert profile.delay(profile.route("mobile.orders.create")) in (0.0, 1.0)
    assert profile.route("api.products.list").delays == ()
    assert profile.inject_error(profile.route("api.health"))
    assert not profile.inject_error(profile.route("api.orders.create"))
    assert profile.step_blocked("cart", "anyone@example.com")
    assert not profile.step_blocked("checkout", "anyone@example.com")
    assert profile.hidden_testids == frozenset({"place-order"})


class _TestIds(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        testid = dict(attrs).get("data-testid")
        if testid:
            self.ids.add(testid)
        if tag not in ("meta", "input", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack.pop() == tag  # every element is closed, in order


def _all_pages() -> list[str]:
    out = PageContext("candidate")
    ctx = PageContext("candidate", "Ada <b>", 3)
    lines = [(1, "Mug & <Co>", 2, 1299)]
    return [
        pages.catalog_page(out, [(1, "Mug", 1299)]),
        pages.product_page(ctx, 1, "Mug", "tableware", 1299, blocked=False),
        pages.product_page(ctx, 1, "Mug", "tableware", 1299, blocked=True),
        pages.signup_page(out, next_url="/checkout", error="bad", name="A", email="a@b.c"),
        pages.login_page(out, next_url="/", error="bad"),
        pages.cart_page(ctx, lines),
        pages.cart_page(ctx, []),
        pages.checkout_page(ctx, 2598, blocked=False),
        pages.order_page(ctx, 42, "paid", 2598, "web", lines),
        pages.error_page(ctx, 404),
        pages.error_page(ctx, 500),
    ]


def test_pages_are_well_formed_and_use_only_known_testids() -> None:
    seen: set[str] = set()
    for html in _all_pages():
        parser = _TestIds()
        parser.feed(html)
        assert parser.stack == []
        seen |= parser.ids
    assert seen == TESTIDS  # TESTIDS lists exactly what pages can carry


def test_pages_escape_user_text_and_show_the_release() -> None:
    html = pages.cart_page(PageContext("candidate", "Ada <b>", 3), [(1, "Mug & <Co>", 2, 1299)])
    assert "Ada &lt;b&gt;" in html and "Mug &amp; &lt;Co&gt;" in html
    assert '<footer data-testid="release">release candidate</footer>' in html
    assert '<strong data-testid="cart-total">€25.98</strong>' in html


def test_strip_testids_removes_the_element_and_its_content_only() -> None:
    html = pages.checkout_page(PageContext("baseline", "Ada", 1), 1299, blocked=False)
    stripped = strip_testids(html, frozenset({"place-order", "card-expiry"}))
    assert 'data-testid="place-order"' not in stripped and "Place order" not in stripped
    assert 'data-testid="card-expiry"' not in stripped
    assert 'data-testid="card-number"' in stripped and "Expiry (MM/YY)" in stripped
    assert "q('place-order')" in stripped  # scripts are kept verbatim
    assert strip_testids(html, frozenset()) is html
    # removing nothing that exists changes nothing but may normalise nothing either
    assert re.sub(r"\s", "", strip_testids(html, frozenset({"absent"}))) == re.sub(r"\s", "", html)
