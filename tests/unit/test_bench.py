"""The benches' shared library (bench/lib), their scripts' start-up and their size limits.

Speed itself is measured by the benches, never asserted here (shared, noisy machines)."""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.lib import output
from bench.lib.runs import wrk_ms
from bench.lib.stats import alternated, fit, median_interval, pct, ratios
from bench.load.stall import ideal_open_p99_ms

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def test_paired_rounds_alternate_and_pair_their_ratios() -> None:
    assert [alternated(("a", "b"), i) for i in range(3)] == [("a", "b"), ("b", "a"), ("a", "b")]
    assert ratios([2.0, 3.0, 1.0], [1.0, 0.0, 2.0]) == [0.5, 2.0]  # a zero bottom is left out


def test_median_interval_is_seeded_and_brackets_the_median() -> None:
    values = [0.83, 0.85, 0.87, 0.93, 0.97, 1.01, 1.02, 1.03, 1.05, 1.09]
    low, high = median_interval(values)
    assert (low, high) == median_interval(values)
    assert low <= 0.99 <= high
    assert median_interval([1.0, 2.0]) == (1.0, 2.0)


def test_percentile_fit_and_wrk_units() -> None:
    assert pct([1.0, 2.0, 3.0, 4.0], 0.5) == 3.0
    assert pct([], 0.5) != pct([], 0.5)  # nan
    assert fit([1, 3], [10.0, 14.0]) == (2.0, 8.0)
    assert [wrk_ms(t) for t in ("812.00us", "1.5ms", "2s")] == [0.812, 1.5, 2000.0]


def test_ideal_open_model_p99_as_bench_readme_gives_it() -> None:
    assert ideal_open_p99_ms(20.0, 10.0, 1.0) == pytest.approx(900.0)
    assert ideal_open_p99_ms(20.0, 60.0, 1.0) == pytest.approx(400.0)


def test_table_and_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [output.Row("a measurement", "1.00", ">= 0.9", True), output.Row("info", "x", "—", None)]
    output.to_stderr(True)
    try:
        output.print_table(rows, 90.0)
        output.print_json(rows, quick=True)
    finally:
        output.to_stderr(False)
    captured = capsys.readouterr()
    assert "a measurement  1.00  >= 0.9  OK" in captured.err
    record = json.loads(captured.out)
    assert record["meets_goals"] is True
    assert [r["status"] for r in record["rows"]] == ["OK", None]


def test_a_failed_part_becomes_a_miss_row() -> None:
    def broken() -> list[output.Row]:
        raise RuntimeError("hung")

    output._Out.stream = io.StringIO()
    try:
        (row,) = output.guarded("(x)", broken)
    finally:
        output.to_stderr(False)
    assert (row.measurement, row.ok, row.data) == ("(x) did not complete", False, {"error": "hung"})


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_each_script_starts_from_any_folder(script: Path, tmp_path: Path) -> None:
    """`python bench/<script>.py --help` imports its package (bench.lib and all) from anywhere,
    with no PYTHONPATH: what run_all and the README do."""
    done = subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def _functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text())
    return [
        (f"{path.relative_to(BENCH)}:{node.lineno} {node.name}", node.end_lineno - node.lineno + 1)  # type: ignore[operator]
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def test_no_bench_function_over_80_lines_and_one_place_touches_sys_path() -> None:
    files = sorted(BENCH.rglob("*.py"))
    long = [(name, n) for f in files for name, n in _functions(f) if n > 80]
    assert long == []
    touching = [f.name for f in files if "sys.path" in f.read_text().replace("`sys.path`", "")]
    assert touching == ["_script.py"]


def test_browser_bench_rates_count_only_the_steady_part() -> None:
    from bench.browser.__main__ import steady_rate

    # 4 journeys between t=10 and t=12: start-up before the first is not counted
    assert steady_rate([(10.0, 11.0), (10.0, 11.0), (11.0, 12.0), (11.0, 12.0)]) == 2.0
    assert steady_rate([(1.0, 2.0)]) == 0.0
