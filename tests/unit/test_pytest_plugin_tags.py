"""Which journey tags pytest's `-m` can select (its grammar, `--strict-markers`' registry)."""

from __future__ import annotations

import pytest

from harness.pytest_plugin.tags import check_mark_expression, marker_problem, selectable_spelling


@pytest.mark.parametrize("tag", ["api", "smoke-test", "v1.2", "ütf", "a/b", "[x]", "a+b", "True"])
def test_tags_pytest_reads_as_one_name_are_markers(tag: str) -> None:
    assert marker_problem(tag) is None


@pytest.mark.parametrize(
    ("tag", "why", "spelled"),
    [
        ("team:checkout", "ends a marker's name at ':'", "team-checkout"),
        ("_private", "start with '_'", "private"),
        ("two words", "cannot spell ' '", "two-words"),
        ("p95<800ms", "cannot spell '<'", "p95-800ms"),
        ("or", "as its operator", "or-tag"),
    ],
)
def test_the_other_tags_say_why_and_how_to_spell_them(tag: str, why: str, spelled: str) -> None:
    problem = marker_problem(tag)
    assert problem is not None and why in problem
    assert selectable_spelling(tag) == spelled
    assert marker_problem(spelled) is None


def test_only_an_expression_that_names_such_a_tag_is_refused() -> None:
    tagged = [("checkout", "team:checkout"), ("browse", "or")]
    check_mark_expression("api or smoke", tagged)  # names neither
    check_mark_expression("team", tagged)  # a prefix is another name
    with pytest.raises(pytest.UsageError, match="-k 'team:checkout'"):
        check_mark_expression("not team:checkout", tagged)
    with pytest.raises(pytest.UsageError, match="'or-tag'"):
        check_mark_expression("or", tagged)
