"""Parsing the values written in gate configs: durations, percentages, percentage points."""

from __future__ import annotations

import re

from harness.errors import SpecError

_NUMBER = r"(\d+(?:\.\d+)?)"


def parse_latency_ms(text: str | float, *, what: str) -> float:
    """`800ms`, `1.5s` or a number of milliseconds → milliseconds."""
    if isinstance(text, (int, float)):
        return float(text)
    match = re.fullmatch(_NUMBER + r"\s*(ms|s)?", text.strip())
    if match is None:
        raise SpecError(f"{what} = {text!r} is not a latency: write e.g. 800ms or 1.5s")
    value = float(match.group(1))
    return value * 1000.0 if match.group(2) == "s" else value


def parse_share(text: str | float, *, what: str) -> float:
    """`0.5%` → 0.005, `5pp` (percentage points) → 0.05, a bare number is a fraction."""
    if isinstance(text, (int, float)):
        return float(text)
    match = re.fullmatch(_NUMBER + r"\s*(%|pp)?", text.strip())
    if match is None:
        raise SpecError(f"{what} = {text!r} is not a share: write e.g. 0.5%, 5pp or 0.01")
    value = float(match.group(1))
    return value / 100.0 if match.group(2) else value
