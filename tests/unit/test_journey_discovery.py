"""Journey declaration, discovery from files and `-k` selection."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.errors import JourneyLoadError, UsageError
from harness.journey import discover, journey, select

REPO = Path(__file__).resolve().parents[2]


def write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def test_decorator_with_and_without_options() -> None:
    @journey
    def plain(j):
        pass

    @journey(weight=3, tags=["web"], name="named-one", device="iPhone 13")
    def configured(j):
        """First line.

        More."""

    assert plain.__harness_journey__.weight == 1
    spec = configured.__harness_journey__
    assert (spec.name, spec.weight, spec.tags, spec.device) == (
        "named-one",
        3,
        {"web"},
        "iPhone 13",
    )
    assert spec.description == "First line."
    assert spec.location.endswith(f"test_journey_discovery.py:{configured.__code__.co_firstlineno}")


@pytest.mark.parametrize("kwargs", [{"weight": 0}, {"weight": 1.5}, {"name": "has space"}])
def test_invalid_declarations_are_refused(kwargs) -> None:
    with pytest.raises(JourneyLoadError):

        @journey(**kwargs)
        def bad(j):
            pass


def test_discovers_the_sample_journeys() -> None:
    names = {j.name for j in discover([REPO / "journeys"])}
    assert names == {
        "browse_and_buy",
        "mobile_reorder",
        "api_catalog_and_orders",
        "web_mobile_api_order",
    }


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "broken.py", "from harness import journey\n\ndef oops(:\n    pass\n")
    with pytest.raises(JourneyLoadError, match=r"broken\.py:3 has a syntax error"):
        discover([tmp_path])


def test_import_error_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "bad_import.py", "x = 1\nimport does_not_exist_anywhere\n")
    with pytest.raises(
        JourneyLoadError, match=r"bad_import\.py:2 failed to import: ModuleNotFound"
    ):
        discover([tmp_path])


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    body = "from harness import journey\n@journey\ndef same(j):\n    pass\n"
    write(tmp_path, "a.py", body)
    write(tmp_path, "b.py", body)
    with pytest.raises(JourneyLoadError, match="two journeys are named 'same'"):
        discover([tmp_path])


def test_private_modules_are_skipped_but_importable(tmp_path: Path) -> None:
    write(tmp_path, "_helpers.py", "VALUE = 41\n")
    write(
        tmp_path,
        "uses.py",
        "from _helpers import VALUE\nfrom harness import journey\n"
        "@journey(name=f'j{VALUE + 1}')\ndef f(j):\n    pass\n",
    )
    assert [j.name for j in discover([tmp_path])] == ["j42"]


def test_missing_path() -> None:
    with pytest.raises(JourneyLoadError, match="does not exist"):
        discover([Path("/nonexistent/journeys")])


def test_keyword_selection() -> None:
    journeys = discover([REPO / "journeys"])
    assert {j.name for j in select(journeys, "mobile and not cross")} == {"mobile_reorder"}
    assert {j.name for j in select(journeys, "checkout or catalog")} == {
        "browse_and_buy",
        "api_catalog_and_orders",
    }
    assert select(journeys, None) == journeys


@pytest.mark.parametrize("expression", ["a +", "len(x)", "a == b"])
def test_bad_keyword_expressions(expression: str) -> None:
    with pytest.raises(UsageError, match="-k"):
        select([], expression)
