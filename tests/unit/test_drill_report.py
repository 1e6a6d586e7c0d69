"""The drill's records and coverage matrix, offline: caught or blind, times in each cell, the
false-alarm rate, and a report.html that stands alone."""

from __future__ import annotations

from pathlib import Path

from harness.drill.findings import AaRun, DrillRecord, FaultFinding, GateHit
from harness.drill.report import aa_lines, fault_lines, matrix_lines, summary_markdown, write_report

GATES = ["error rate vs baseline", "tail latency per step (p95, p99)"]


def _finding(fault: str, tail: str, detected: float | None, *, caught: bool) -> FaultFinding:
    return FaultFinding(
        fault=fault,
        run_id=f"run-{fault[:5]}",
        decision="fail" if caught else "pass",
        caught=caught,
        caught_by=[GATES[1]] if caught else [],
        gates=[
            GateHit(name=GATES[0], kind="relative", decision="pass", summary="within limits"),
            GateHit(
                name=GATES[1],
                kind="tail_shift",
                decision=tail,
                summary="p95 of step `pay` rose 1251%",
                detected_after_s=detected,
                recovered_after_s=4.0 if caught else None,
            ),
        ],
        onset_s=0.0,
        window_s=10.0 if caught else None,
        run_s=20.0,
        wall_s=31.0,
        proxy_requests=10_000,
        proxy_applied=40,
    )


def _record() -> DrillRecord:
    return DrillRecord(
        drill_id="drill-1",
        target="sandbox",
        gates=GATES,
        faults=[
            _finding("latency:api.orders.create=+300ms@10%", "fail", 9.0, caught=True),
            _finding("jitter:api=1ms", "pass", None, caught=False),
        ],
        aa=[
            AaRun(run_id="a1", decision="pass", failed=[], inconclusive=[], wall_s=30),
            AaRun(run_id="a2", decision="fail", failed=[GATES[0]], inconclusive=[], wall_s=30),
        ],
    )


def test_matrix_has_one_row_per_fault_with_the_time_to_detect() -> None:
    lines = matrix_lines(_record())
    assert "relative" in lines[1] and "tail_shift" in lines[1]
    assert lines[2].startswith("latency:api.orders.create=+300ms@10%") and "✗ 9 s" in lines[2]
    assert lines[3].startswith("jitter:api=1ms") and "✗" not in lines[3]


def test_fault_lines_say_caught_or_blind_with_detection_and_recovery() -> None:
    caught, blind = (fault_lines(f) for f in _record().faults)
    assert "caught" in caught[0] and "applied to 40 of 10,000 requests" in caught[1]
    assert any("detected after 9 s, passed again 4 s after the window" in line for line in caught)
    assert "the gates are blind to jitter:api=1ms (expected: any gate)" in blind[-1]


def test_false_alarm_rate_overall_and_per_gate() -> None:
    record = _record()
    assert record.false_alarm_rate() == 0.5
    assert record.false_alarm_rate(GATES[0]) == 0.5 and record.false_alarm_rate(GATES[1]) == 0
    assert [f.fault for f in record.blind] == ["jitter:api=1ms"]
    lines = aa_lines(record)
    assert lines[0].startswith("A/A: 2 runs") and "1 FAIL" in lines[0]
    assert f"{GATES[0]}: 1/2 false alarms (50%)" in lines[1]


def test_summary_and_report_show_the_matrix(tmp_path: Path) -> None:
    record = _record()
    markdown = summary_markdown(record)
    assert "| fault | error rate vs baseline |" in markdown and "✗ 9 s" in markdown
    page = write_report(tmp_path, record).read_text()
    assert page.startswith("<!DOCTYPE html>") and "Coverage: faults × gates" in page
    assert "run-laten/report.html" in page and "A/A calibration" in page
    assert "<script" not in page and "http" not in page.replace("https://", "")


def test_a_drill_whose_baseline_failed_most_iterations_is_inconclusive(tmp_path: Path) -> None:
    """Against a dead target both sides fail every iteration; the drill once printed "PASS:
    every fault was caught". A baseline that fails most of its iterations cannot tell."""
    from harness.drill.findings import conclusion, unhealthy_baseline
    from tests.unit.test_gates_rules import lognormal, make_data

    values = lognormal(200, 1)
    dead = make_data(values, values, iterations=(200, 200), failures=(190, 200))
    why = unhealthy_baseline(dead)
    assert why is not None and "failed 190 of 200 iterations (95%)" in why
    assert unhealthy_baseline(make_data(values, values, failures=(5, 5))) is None
    caught = _finding("errors:api=100%", "fail", 1.0, caught=True)
    record = DrillRecord(
        drill_id="d",
        target="t",
        gates=GATES,
        faults=[caught.model_copy(update={"caught": False, "caught_by": [], "unjudgeable": why})],
    )
    assert record.blind == [] and record.unjudgeable == [why]
    code, line = conclusion(record)
    assert code == 4 and line.startswith("INCONCLUSIVE: the baseline side failed")
