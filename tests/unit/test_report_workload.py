"""The report's workload section: the mix, arrivals and think times of a `load --workload`
run against those recorded, escaped; a placeholder for any other run."""

from __future__ import annotations

from pathlib import Path

from harness.report.folder import RunFolder
from harness.report.workload import workload_section


def test_used_against_recorded(tmp_path: Path) -> None:
    run = RunFolder(
        path=tmp_path,
        workload={
            "mix": {"buy<script>": {"recorded": 60.0, "used": 58.5}},
            "think": {"buy<script>": {"recorded": [1.0, 4.0], "used": None}},
            "rate_per_minute": {"recorded": 600.0, "used": 590.0},
            "arrivals": {"recorded": [6, 4], "used": [6, 3]},
            "bucket_s": 60.0,
            "speed": 2.0,
        },
    )
    html = str(workload_section(run))
    assert "buy&lt;script&gt;" in html and "<script>" not in html
    assert "60.0%" in html and "58.5%" in html and "1 s / 4 s" in html and "none" in html
    assert "recorded 600.0, used 590.0" in html and "6, 3" in html


def test_other_runs_have_no_workload(tmp_path: Path) -> None:
    assert "workload model only" in str(workload_section(RunFolder(path=tmp_path)))
