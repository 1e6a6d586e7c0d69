"""`summary.json`: the run in numbers, for machines (dashboards, bots, trend stores).

The shape is the same for every mode; what a mode does not record is `null` and named in
`not_recorded`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.report.folder import PERCENTILES, RunFolder
from harness.results import replace_file
from harness.telemetry.hdr import ITERATION, SeriesKey

SUMMARY_FILE = "summary.json"
SCHEMA_VERSION = 1
_DECISIONS = {"passed": "pass", "failed": "fail", "error": "error", "aborted": "fail"}


def decision_of(run: RunFolder) -> str:
    """pass, fail, inconclusive or error: the verdict's, else the run status's."""
    if run.verdict is not None:
        return run.verdict.decision.value
    if run.mode == "rehearse":
        return "error"  # a rehearsal that wrote no verdict decided nothing
    return _DECISIONS.get(run.status, "error")


def summary_data(run: RunFolder) -> dict[str, Any]:
    """The contents of summary.json."""
    journeys = []
    totals = {"iterations": 0, "failures": 0, "cut_off": 0}
    per_target: dict[str, dict[str, int]] = {}
    selected = set(run.meta.get("selected_journeys", []))
    for target in run.targets:
        for journey in run.journeys():
            tally = run.tally(target, journey)
            latency = run.distribution(SeriesKey(target, journey, ITERATION, ""))
            idle = tally.iterations == 0 and tally.cut_off == 0 and latency.total == 0
            if idle and journey not in selected:
                continue  # not a journey of this run; a selected one is listed with 0
            journeys.append(
                {
                    "target": target,
                    "journey": journey,
                    "iterations": tally.iterations,
                    "failures": tally.failures,
                    "cut_off": tally.cut_off,
                    **{
                        f"p{p:g}_ms": round(latency.percentile(p), 3) if latency.total else None
                        for p in PERCENTILES
                    },
                }
            )
            side = per_target.setdefault(target, {"iterations": 0, "failures": 0, "cut_off": 0})
            for counts in (totals, side):
                counts["iterations"] += tally.iterations
                counts["failures"] += tally.failures
                counts["cut_off"] += tally.cut_off
    gates = None
    if run.verdict is not None:
        gates = [
            {
                "name": g.name,
                "kind": g.kind,
                "decision": g.decision.value,
                "critical": g.critical,
                "summary": g.summary,
            }
            for g in run.verdict.gates
        ]
    return {
        "schema": SCHEMA_VERSION,
        "run_id": run.run_id,
        "mode": run.mode,
        "status": run.status,
        "decision": decision_of(run),
        "reasons": list(run.verdict.reasons) if run.verdict is not None else None,
        "started_at": run.meta.get("started_at"),
        "ended_at": run.meta.get("ended_at"),
        "seed": run.meta.get("seed"),
        "targets": run.targets,
        "counts": {
            **totals,
            "steps": len(run.steps),
            "failed_steps": sum(s.outcome.value == "failed" for s in run.steps),
            "per_target": per_target,
        },
        "journeys": journeys,
        "gates": gates,
        "not_recorded": sorted(run.missing),
    }


def write_summary_file(run: RunFolder) -> Path:
    """Write summary.json into the run folder and return its path."""
    path = run.path / SUMMARY_FILE
    replace_file(path, json.dumps(summary_data(run), indent=2) + "\n")
    return path
