"""Test payment card numbers: published test ranges only, Luhn-valid, varied.

Every number starts with a *test prefix*: the leading digits of a card number that the card
networks' sandboxes publish for testing (the Stripe, Adyen and Braintree test-card lists). The
digits after the prefix vary per card and the last digit is the Luhn check digit, so numbers are
varied and pass Luhn, and none can belong to a real issuer's BIN. `PaymentCard` refuses any
number outside these prefixes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class CardFamily:
    """A published test card number reduced to a prefix; `length` counts all digits."""

    brand: str
    prefix: str
    length: int
    cvc_length: int
    weight: int
    published: str  # the published test number this family is derived from


CARD_FAMILIES: Final[tuple[CardFamily, ...]] = (
    CardFamily("visa", "424242424242", 16, 3, 35, "4242424242424242"),
    CardFamily("visa", "400005665566", 16, 3, 15, "4000056655665556"),
    CardFamily("mastercard", "555555555555", 16, 3, 20, "5555555555554444"),
    CardFamily("mastercard", "222300312200", 16, 3, 10, "2223003122003222"),
    CardFamily("amex", "37828224631", 15, 4, 12, "378282246310005"),
    CardFamily("amex", "37144963539", 15, 4, 8, "371449635398431"),
)
"""The test families, with the share of generated cards each gets (weights sum to 100)."""

TEST_CARD_PREFIXES: Final[tuple[str, ...]] = tuple(f.prefix for f in CARD_FAMILIES)
BRANDS: Final[tuple[str, ...]] = ("amex", "mastercard", "visa")
_CUM_WEIGHTS: Final[tuple[int, ...]] = tuple(
    sum(f.weight for f in CARD_FAMILIES[: i + 1]) for i in range(len(CARD_FAMILIES))
)


def luhn_check_digit(partial: str) -> str:
    """The digit that makes `partial + digit` pass the Luhn check."""
    total = 0
    # Walking from the right of the partial number, every first digit gets doubled.
    for i, ch in enumerate(reversed(partial)):
        d = ord(ch) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) check."""
    if len(number) < 2 or not number.isascii() or not number.isdigit():
        return False
    return luhn_check_digit(number[:-1]) == number[-1]


def family_of(number: str) -> CardFamily | None:
    """The test family a number belongs to, or None if it is outside every test prefix."""
    for family in CARD_FAMILIES:
        if number.startswith(family.prefix) and len(number) == family.length:
            return family
    return None


def random_family(rng: random.Random) -> CardFamily:
    """Pick a test family according to the weights."""
    return rng.choices(CARD_FAMILIES, cum_weights=_CUM_WEIGHTS)[0]


def random_number(rng: random.Random, family: CardFamily) -> str:
    """A Luhn-valid number inside `family`'s test prefix."""
    free = family.length - len(family.prefix) - 1
    partial = family.prefix + str(rng.randrange(10**free)).zfill(free)
    return partial + luhn_check_digit(partial)
