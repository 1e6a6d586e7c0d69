"""One definition of each statistic (issue 21): from one run folder, the terminal summary,
summary.md, summary.json, report.html and the threshold gate show the same p50, p95 and p99,
and the pytest plugin's gates compute them the same way.

The durations are chosen so that the usual definitions disagree visibly: for 13 values
10, 20, ... 130 ms, HDR's rank rule gives p95 = 120 ms, nearest rank 130 ms and numpy's
interpolation 124 ms. The figures are written alike too (`1,191 ms`). steps.jsonl is thinned
(sample rate 0.25): the histograms count every step, so a figure computed from the records
would differ too.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from harness.engine.collector import LoadAggregator, LoadCollector
from harness.engine.summary import assess_health, latency_rows, table
from harness.gates.data import RunData
from harness.gates.rules import ThresholdGate
from harness.pytest_plugin.gates import parse_gate
from harness.records import IterationRecord, Outcome, StepRecord, Touchpoint
from harness.report import write_all
from harness.report.folder import read_run
from harness.report.summary_md import load_summary
from harness.results import RunDirectory
from harness.results.reader import read_folder
from harness.telemetry.hdr import ITERATION, SeriesKey
from harness.telemetry.latency import SHOWN, Distribution, format_ms

T0 = 1_795_000_000.0
TARGET = "shop"
#: journey → its iterations last k times this, k = 1..13 (pay's p50 is over a second: 1,191 ms)
SPREAD = {"browse": 10.0, "checkout": 37.0, "pay": 170.0}


def _step(journey: str, k: int, ms: float) -> StepRecord:
    return StepRecord(
        run_id="r",
        target=TARGET,
        journey=journey,
        step="open",
        index=0,
        touchpoint=Touchpoint.API,
        worker=0,
        user=0,
        iteration=k,
        started_at=T0 + k,
        duration_ms=ms,
        outcome=Outcome.PASSED,
    )


def _iteration(journey: str, k: int, ms: float) -> IterationRecord:
    return IterationRecord(
        run_id="r",
        target=TARGET,
        journey=journey,
        worker=0,
        user=0,
        iteration=k,
        started_at=T0 + k,
        duration_ms=ms,
        outcome=Outcome.PASSED,
        steps_passed=1,
        steps_total=1,
    )


def _load_folder(root: Path) -> tuple[Path, str]:
    """A load run's folder written by the real writer (what `write_measurements` and
    `write_results` in harness/commands/load_measurements.py write, which imports Locust), and
    the terminal's closing table."""
    run = RunDirectory(root, "20261206-000000-load-abcd")
    run.start(mode="load", target={"target": {"name": TARGET}}, seed=1, config={})
    aggregator = LoadAggregator(run)
    collector = LoadCollector(sample_rate=0.25, seed=3)
    for journey, spread in SPREAD.items():
        for k in range(1, 14):
            collector.step_finished(_step(journey, k, spread * k * 0.6))
            collector.iteration_finished(_iteration(journey, k, spread * k))
    aggregator.absorb("local", collector.take_delta(), final=True)
    aggregator.hdr.write(run.path / "histograms")
    run.write_json("timeline.json", aggregator.timeline())
    run.write_json("counts.json", aggregator.counts())
    health = assess_health(aggregator, aggregator.iterations)
    run.write_json("health.json", {"summary": health.as_dict(), "samples": aggregator.health})
    markdown = load_summary(
        read_folder(run.path), target=TARGET, plan_text="13 iterations a journey", elapsed_s=13.0
    )
    run.write_text("summary.md", markdown)
    terminal = "\n".join(table(latency_rows(aggregator.hdr, aggregator.journeys)))
    run.close()
    run.finish("passed")
    write_all(run.path)
    return run.path, terminal


def _row(text: str, start: str) -> str:
    """The first line of `text` that starts with `start` (after white space)."""
    found = [line for line in text.splitlines() if line.lstrip().startswith(start)]
    assert found, f"no row starting {start!r} in:\n{text}"
    return found[0]


def _figures(row: str) -> list[str]:
    """The latencies of a row, in order: `12.3 ms`, `1,204 ms`, `1.9 s`."""
    return re.findall(r"\d[\d,]*(?:\.\d+)? m?s\b", row)


def test_the_terminal_summary_md_summary_json_report_and_gate_show_the_same_figures(
    tmp_path: Path,
) -> None:
    folder, terminal = _load_folder(tmp_path)
    summary = json.loads((folder / "summary.json").read_text())
    markdown = (folder / "summary.md").read_text()
    page = html.unescape((folder / "report.html").read_text())
    page_rows = re.sub(r"</tr>", "\n", re.sub(r"<(?!/tr)[^>]*>", " ", page))
    data = RunData.load(folder)
    seen = {}
    for journey in SPREAD:
        entry = next(j for j in summary["journeys"] if j["journey"] == journey)
        exact = [entry[f"p{p:g}_ms"] for p in SHOWN]
        shown = [format_ms(v) for v in exact]
        seen[journey] = shown
        # terminal: journey, touchpoint, count, failed, cut off, p50, p95, p99, max
        assert _figures(_row(terminal, journey))[:3] == shown, terminal
        assert _figures(_row(markdown, f"| {journey} |"))[:3] == shown, markdown
        report_row = _row(page_rows, journey)
        assert _figures(report_row)[:3] == shown, report_row
    for journey in SPREAD:
        entry = next(j for j in summary["journeys"] if j["journey"] == journey)
        exact = [entry[f"p{p:g}_ms"] for p in SHOWN]
        # the threshold gate judges the same p95 (and says it in the same words)
        gate = ThresholdGate(metric="p95", value="10s", min_samples=1, journey=journey)
        (evidence,) = gate.evaluate(data).evidence
        assert evidence.candidate == exact[1]
        assert evidence.n_candidate == 13
        # what the reports read is the histogram, not the thinned records
        report = read_run(folder).distribution(SeriesKey(TARGET, journey, ITERATION, ""))
        assert [report.percentile(p) for p in SHOWN] == exact
    # the rank rule, not nearest rank (130 ms) nor interpolation (124 ms); one way to write it
    assert seen["browse"][1] == "120 ms"
    assert seen["pay"][0] == "1,191 ms"


def test_the_plugins_gates_use_the_same_percentile_as_the_reports() -> None:
    durations = [10.0 * k for k in range(1, 14)]
    iterations = [_iteration("browse", k, ms) for k, ms in enumerate(durations, start=1)]
    for metric, percentile in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0)):
        result = parse_gate(f"{metric}<=10s").evaluate([], iterations)
        assert result.value == Distribution.of(durations).percentile(percentile)
    assert parse_gate("p95<=10s").evaluate([], iterations).value == 120.0


def test_load_summary_md_is_rendered_from_the_folder_alone(tmp_path: Path) -> None:
    """summary.md reads counts.json, histograms/ and health.json through the one reader: the
    failures and the generator's verdict it shows are the folder's, escaped."""
    folder, _ = _load_folder(tmp_path)
    counts = json.loads((folder / "counts.json").read_text())
    counts["errors"] = [
        {"target": TARGET, "journey": "pay", "step": "<b>card</b>", "touchpoint": "api",
         "kind": "http_status", "count": 1204},
    ]  # fmt: skip
    (folder / "counts.json").write_text(json.dumps(counts))
    health = json.loads((folder / "health.json").read_text())
    health["summary"].update(saturated=True, reasons=["generator CPU median 97% of a core"])
    (folder / "health.json").write_text(json.dumps(health))
    markdown = load_summary(read_folder(folder), target=TARGET, plan_text="p", elapsed_s=13.0)
    assert "39 iterations in 13.0 s (3.0/s), 0 failed (0.00%)." in markdown
    assert "| http_status | 1,204 (shop) |" in markdown and "<b>" not in markdown
    assert "**SATURATED** — generator CPU median 97% of a core" in markdown
    (folder / "health.json").unlink()
    (folder / "counts.json").unlink()
    bare = load_summary(read_folder(folder), target=TARGET, plan_text="p", elapsed_s=0.0)
    assert "0 iterations in 0.0 s" in bare and "| browse |" in bare  # histograms/ alone
