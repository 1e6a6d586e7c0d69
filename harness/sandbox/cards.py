"""The sandbox's pretend payment check: a card is accepted when it passes Luhn and has not expired.

No card data is stored; only these checks decide between `paid` and `card_declined`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

__all__ = ["card_accepted", "expiry_is_past", "luhn_valid"]

_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")


def luhn_valid(number: str) -> bool:
    """True when `number` (spaces and dashes allowed) has 12-19 digits and a valid Luhn sum."""
    digits = number.replace(" ", "").replace("-", "")
    if not digits.isascii() or not digits.isdigit() or not 12 <= len(digits) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def expiry_is_past(expiry: str, today: dt.date | None = None) -> bool:
    """True when `expiry` (`MM/YY` or `MM/YYYY`) is malformed or its month has ended."""
    match = _EXPIRY.match(expiry)
    if match is None:
        return True
    month = int(match.group(1))
    year = int(match.group(2))
    if year < 100:
        year += 2000
    if not 1 <= month <= 12:
        return True
    now = today or dt.datetime.now(dt.UTC).date()
    return (year, month) < (now.year, now.month)


def card_accepted(card: Mapping[str, object], today: dt.date | None = None) -> bool:
    """True when `card` has a Luhn-valid `number`, an unexpired `expiry` and a 3-4 digit `cvc`."""
    number, expiry, cvc = card.get("number"), card.get("expiry"), card.get("cvc")
    if not isinstance(number, str) or not isinstance(expiry, str):
        return False
    cvc_text = str(cvc) if isinstance(cvc, str | int) and not isinstance(cvc, bool) else ""
    if not (cvc_text.isdigit() and 3 <= len(cvc_text) <= 4):
        return False
    return luhn_valid(number) and not expiry_is_past(expiry, today)
