"""Generated cards are Luhn-valid, inside published test prefixes and varied."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from synth.cards import (
    CARD_FAMILIES,
    TEST_CARD_PREFIXES,
    family_of,
    luhn_check_digit,
    luhn_valid,
    random_number,
)
from synth.factory import SynthSource


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4242424242424242", True),
        ("5555555555554444", True),
        ("378282246310005", True),
        ("79927398713", True),  # the textbook example
        ("79927398710", False),
        ("4242424242424241", False),
        ("", False),
        ("42424242424242a2", False),
        ("٤٢٤٢", False),  # Arabic-Indic digits are digits, but not card digits
    ],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


def test_published_numbers_belong_to_their_family() -> None:
    for family in CARD_FAMILIES:
        assert luhn_valid(family.published)
        assert family_of(family.published) is family
    assert sum(f.weight for f in CARD_FAMILIES) == 100


def test_generated_cards_are_valid_test_cards() -> None:
    source = SynthSource(seed=5)
    cards = [source.scope(u, 0).card for u in range(600)]
    for card in cards:
        family = family_of(card.number)
        assert family is not None and card.number.startswith(TEST_CARD_PREFIXES)
        assert luhn_valid(card.number)
        assert family.brand == card.brand and len(card.cvc) == family.cvc_length
    numbers = [c.number for c in cards]
    assert len(set(numbers)) > 500  # varied, not the one published number over and over
    brands = Counter(c.brand for c in cards)
    assert set(brands) == {"visa", "mastercard", "amex"}
    assert brands["visa"] > brands["amex"]


def test_check_digit_fixes_any_partial_number() -> None:
    rng = random.Random(0)
    for family in CARD_FAMILIES:
        for _ in range(50):
            number = random_number(rng, family)
            assert len(number) == family.length and luhn_valid(number)
            assert luhn_check_digit(number[:-1]) == number[-1]
