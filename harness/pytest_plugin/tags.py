"""Journey tags as pytest markers, so that `-m` selects by tag where pytest's grammar can name it.

pytest's `-m` reads a name as letters, digits and `_ - . + / [ ] \\ :` (its expression grammar's
`ident`), with `and`, `or` and `not` as operators; `--strict-markers` (and `-m` under it) knows
only the names of the `markers` option, whose lines end a name at the first `:` or `(`; and a
marker name may not start with `_`. A tag that breaks one of these is kept out of the markers
(it used to make its whole module a collection error under `--strict-markers`), still selects
with `-k` where `-k` can spell it, and `-m` naming it is refused with what to write instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pytest

__all__ = ["check_mark_expression", "marker_problem", "message", "selectable_spelling"]

#: the characters of a name `-m` reads (pytest's `ident`, without the `:` the markers option
#: cannot register)
_NAME = re.compile(r"[\w+\-.\[\]\\/]+")
_NAME_CHARS = r"\w:+\-.\[\]\\/"
_OPERATORS = frozenset({"and", "or", "not"})


def marker_problem(tag: str) -> str | None:
    """Why `-m` cannot select `tag` under `--strict-markers`, or None when it can."""
    if tag in _OPERATORS:
        return f"`-m` reads {tag!r} as its operator"
    if tag.startswith("_"):
        return "pytest refuses marker names that start with '_'"
    if ":" in tag:
        return "pytest's `markers` option ends a marker's name at ':', so it never knows it"
    if not _NAME.fullmatch(tag):
        bad = sorted({c for c in tag if not _NAME.fullmatch(c)})
        shown = " ".join(repr(c) for c in bad)
        return f"`-m` cannot spell {shown} (it reads letters, digits and _ - . + / [ ] \\)"
    return None


def selectable_spelling(tag: str) -> str:
    """A spelling of `tag` that `-m` selects: each character it cannot read becomes `-`."""
    spelled = re.sub(r"[^\w+\-.\[\]\\/]+", "-", tag).strip("-_") or "tag"
    return f"{spelled}-tag" if spelled in _OPERATORS else spelled


def _k_spelling(tag: str) -> str | None:
    """How `-k` selects `tag` (a keyword of its items), where its grammar can spell it."""
    if tag in _OPERATORS or not re.fullmatch(f"[{_NAME_CHARS}]+", tag):
        return None
    return f"-k '{tag}'"


def message(tag: str, journey: str, problem: str) -> str:
    """One paragraph: the tag, its journey, why, and what to write instead."""
    instead = f"write the tag as {selectable_spelling(tag)!r} to select it with -m"
    k = _k_spelling(tag)
    if k is not None:
        instead = f"select it with {k}, or {instead}"
    return (
        f"journey tag {tag!r} of journey `{journey}` is not a pytest marker, so -m cannot "
        f"select it: {problem}; {instead}"
    )


def check_mark_expression(expression: str, tagged: Iterable[tuple[str, str]]) -> None:
    """Refuse a `-m` expression that names a tag `-m` cannot select (`tagged`: journey, tag),
    with what to write instead (`pytest.UsageError`)."""
    stripped = expression.strip()
    for journey, tag in tagged:
        problem = marker_problem(tag)
        if problem is None:
            continue
        if tag in _OPERATORS:
            named = stripped == tag
        else:
            edge = f"[{_NAME_CHARS}]"
            named = re.search(f"(?<!{edge}){re.escape(tag)}(?!{edge})", expression) is not None
        if named:
            raise pytest.UsageError(message(tag, journey, problem))
