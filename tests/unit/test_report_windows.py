"""Step latency and errors per time window (harness/report/windows.py) and the report section
that charts them: every record read, bounded windows, a mid-run change visible."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from harness.errors import ErrorKind
from harness.records import Outcome, StepRecord, Touchpoint
from harness.report import write_report
from harness.report.folder import PASSED_KEPT
from harness.report.windows import MAX_WINDOWS, read_windows, shifts
from harness.telemetry.hdr import SeriesKey

T0 = 1_795_000_000.0


def _step(target: str, at: float, ms: float, *, failed: ErrorKind | None = None) -> str:
    return StepRecord(
        run_id="r",
        target=target,
        journey="buy",
        step="pay",
        index=0,
        touchpoint=Touchpoint.API,
        worker=0,
        user=0,
        iteration=0,
        started_at=T0 + at,
        duration_ms=ms,
        outcome=Outcome.FAILED if failed else Outcome.PASSED,
        error_kind=failed,
    ).model_dump_json()


def _rehearsal(path: Path, seconds: int = 120, per_second: int = 10) -> Path:
    """Both sides 20 ms, until the candidate's `pay` takes 100 ms from half-way on (and
    fails with a timeout in 1 of 10 steps after 90 s)."""
    path.mkdir()
    run = {"run_id": "r", "mode": "rehearse", "status": "passed"}
    run["targets"] = {"baseline": {"name": "live"}, "candidate": {"name": "next"}}
    (path / "run.json").write_text(json.dumps(run))
    lines = []
    for second in range(seconds):
        for k in range(per_second):
            at = second + k / per_second
            lines.append(_step("live", at, 20.0 + k % 3))
            slow = second >= seconds // 2
            late_timeout = second >= 90 and k == 0
            lines.append(
                _step(
                    "next",
                    at,
                    (100.0 if slow else 20.0) + k % 3,
                    failed=ErrorKind.TIMEOUT if late_timeout else None,
                )
            )
    (path / "steps.jsonl").write_text("\n".join(lines) + "\n")
    return path


def test_windows_show_when_the_candidate_slowed_down(tmp_path: Path) -> None:
    windows = read_windows(_rehearsal(tmp_path / "run"))
    assert windows is not None
    assert windows.windows == MAX_WINDOWS and windows.width_s == 2.0
    assert windows.records == 2 * 120 * 10
    candidate = windows.percentile(SeriesKey("next", "buy", "pay", "api"), 95.0)
    baseline = windows.percentile(SeriesKey("live", "buy", "pay", "api"), 95.0)
    # log buckets: within 4% of the exact values (22 ms, then 102 ms)
    assert np.allclose(candidate[:30], 22.0, rtol=0.04), candidate[:30]
    assert np.allclose(candidate[30:], 102.0, rtol=0.04), candidate[30:]
    assert np.allclose(baseline, 22.0, rtol=0.04)
    moved = shifts(windows)
    assert [(s.key.target, s.from_s) for s in moved] == [("next", 60.0)]
    assert 4.2 < moved[0].ratio < 5.0
    timeouts = windows.errors[("next", "timeout")]
    assert timeouts.sum() == 30 and timeouts[:45].sum() == 0 and (timeouts[45:] == 2).all()


def test_every_record_is_read_and_the_windows_stay_bounded(tmp_path: Path) -> None:
    """An hour of steps, more passed records than the report's sample keeps: 60 windows of
    60 s, and every record counted."""
    path = tmp_path / "run"
    path.mkdir()
    count = PASSED_KEPT + 5_000
    with open(path / "steps.jsonl", "w") as out:
        for i in range(count):
            out.write(_step("t", i * 3600 / count, 10.0) + "\n")
        out.write(_step("t", 3601, 10.0)[:40])  # a torn last line, skipped
    windows = read_windows(path)
    assert windows is not None
    assert windows.records == count
    assert windows.windows == MAX_WINDOWS and windows.width_s == 60.0
    assert int(windows.counts(SeriesKey("t", "buy", "pay", "api")).sum()) == count
    assert windows.latency[SeriesKey("t", "buy", "pay", "api")].shape == (MAX_WINDOWS, 512)


def test_a_short_run_gets_one_second_windows(tmp_path: Path) -> None:
    path = tmp_path / "run"
    path.mkdir()
    (path / "steps.jsonl").write_text(
        "\n".join(_step("t", s, 5.0) for s in (0.0, 0.5, 3.9, 7.2)) + "\n"
    )
    windows = read_windows(path)
    assert windows is not None and (windows.windows, windows.width_s) == (8, 1.0)
    assert windows.counts(SeriesKey("t", "buy", "pay", "api")).tolist() == [2, 0, 0, 1, 0, 0, 0, 1]
    assert read_windows(tmp_path / "nothing") is None


def test_the_report_charts_a_mid_run_regression(tmp_path: Path) -> None:
    run = _rehearsal(tmp_path / "run")
    html = write_report(run).read_text(encoding="utf-8")
    section = html[html.index("<section id=over-time>") :]
    section = section[: section.index("</section>")]
    assert section.count("<svg") == 2  # latency per window, failed steps by kind
    assert "buy › pay [api]" in section
    assert "from all 2,400 step records" in section
    assert re.search(
        r"<td>buy › pay</td><td>api</td><td>next</td><td>2\d\.\d ms</td>"
        r"<td>10\d\.\d ms</td><td>\+\d{3}%</td>",
        section,
    ), section[-800:]
    assert "<td>live</td>" not in section  # the baseline did not move
    assert "timeout (next)" in section


def test_a_windows_percentile_takes_the_rank_every_summary_takes(tmp_path: Path) -> None:
    """13 steps of 10, 20, ... 130 ms in one window: p95 is the 12th (120 ms, within a
    bucket), as in summary.json and the closing table, not the 13th (nearest rank)."""
    path = tmp_path / "run"
    path.mkdir()
    (path / "run.json").write_text(json.dumps({"run_id": "r", "mode": "load", "status": "passed"}))
    steps = [_step("live", 0.05 * k, 10.0 * k) for k in range(1, 14)]
    (path / "steps.jsonl").write_text("\n".join(steps) + "\n")
    windows = read_windows(path)
    assert windows is not None
    p95 = windows.percentile(SeriesKey("live", "buy", "pay", "api"), 95.0)[0]
    assert abs(p95 - 120.0) < 0.03 * 120.0
