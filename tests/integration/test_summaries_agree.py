"""One definition of each statistic, end to end (issue 21): a real `harness load --sandbox` with
steps.jsonl thinned to a fifth prints its closing table and writes summary.md, summary.json
and report.html; every journey's p50, p95 and p99 read the same in all four."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from harness.telemetry.latency import SHOWN, format_ms
from tests.integration.conftest import only_run_dir, run_cli

pytestmark = pytest.mark.integration


def _figures(row: str) -> list[str]:
    """The latencies of a row, in order: `12.3 ms`, `1,204 ms`, `1.9 s`."""
    return re.findall(r"\d[\d,]*(?:\.\d+)? m?s\b", row)


def _row(text: str, journey: str, before: str = "", after: str = " ") -> str:
    """The first line of `text` naming `journey` at its start (after `before`)."""
    start = before + journey + after
    found = [line for line in text.splitlines() if line.lstrip().startswith(start)]
    assert found, f"no row for {journey!r} in:\n{text[-4000:]}"
    return found[0]


def test_a_load_runs_four_summaries_show_the_same_percentiles(tmp_path: Path) -> None:
    done = run_cli(
        "load", "--sandbox", "--duration", "6s", "--users", "4", "--browser-users", "0",
        "-k", "not browse and not cross", "--step-sample-rate", "0.2",
        "--results", str(tmp_path), timeout=240, html=True,
    )  # fmt: skip
    assert done.code in (0, 1, 4), done.out[-3000:] + done.err[-3000:]
    folder = only_run_dir(tmp_path)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    markdown = (folder / "summary.md").read_text(encoding="utf-8").replace("\\", "")
    page = html.unescape((folder / "report.html").read_text(encoding="utf-8"))
    page_rows = re.sub(r"</tr>", "\n", re.sub(r"<(?!/tr)[^>]*>", " ", page))
    page_rows = re.sub(r" +", " ", page_rows)
    measured = [j for j in summary["journeys"] if j["iterations"]]
    assert measured, summary
    for entry in measured:
        journey = entry["journey"]
        shown = [format_ms(entry[f"p{p:g}_ms"]) for p in SHOWN]
        assert _figures(_row(done.out, journey))[:3] == shown, done.out[-4000:]
        assert _figures(_row(markdown, journey, "| ", " |"))[:3] == shown, markdown
        assert _figures(_row(page_rows, journey))[:3] == shown, journey
