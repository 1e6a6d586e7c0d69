"""No product module exceeds `MAX_LINES` lines (issue 21): a module that grows past it is split
into cohesive modules with names of their own, not left to grow."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ("harness", "synth")
MAX_LINES = 400

#: Modules still over `MAX_LINES`, each with the most lines it may have until it is split (issue
#: 21 names what remains); a listed file that grows fails, and an entry goes when its file is
#: split.
STILL_OVER: dict[str, int] = {}


def line_counts() -> dict[str, int]:
    """Lines of every .py file under the product packages, by path relative to the repository."""
    counts = {}
    for package in PRODUCT:
        for path in sorted((REPO / package).rglob("*.py")):
            with path.open("rb") as file:
                counts[path.relative_to(REPO).as_posix()] = sum(1 for _ in file)
    return counts


def oversized(counts: dict[str, int]) -> list[str]:
    """`path: N lines` for each module over its limit (`MAX_LINES`, or its `STILL_OVER` ceiling)."""
    return [
        f"{path}: {lines} lines (limit {STILL_OVER.get(path, MAX_LINES)})"
        for path, lines in sorted(counts.items())
        if lines > max(MAX_LINES, STILL_OVER.get(path, 0))
    ]


def test_no_product_module_exceeds_the_limit() -> None:
    counts = line_counts()
    assert "harness/runtime.py" in counts and "synth/seeding.py" in counts  # the walk found them
    over = oversized(counts)
    assert not over, f"split these modules (at most {MAX_LINES} lines each): " + "; ".join(over)


def test_a_module_over_the_limit_is_named() -> None:
    counts = {"harness/big.py": MAX_LINES + 1, "synth/small.py": MAX_LINES}
    assert oversized(counts) == [f"harness/big.py: {MAX_LINES + 1} lines (limit {MAX_LINES})"]
