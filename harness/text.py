"""Small text helpers for what the harness prints and writes."""

from __future__ import annotations


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """`1 journey`, `2 journeys`, `1,204 iterations`: a count with its noun in the right number
    (`plural_form` when adding `s` is wrong, e.g. `plural(2, "process", "processes")`)."""
    word = noun if count == 1 else (plural_form or f"{noun}s")
    return f"{count:,} {word}"
