"""A rehearsal's "compared with the last 10 runs against this target": written into its run
folder as `history.json` when the run is indexed, and shown by its report (which reads only
the folder)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from harness.history.entry import RunEntry
from harness.history.query import Filters, last_runs, series_of
from harness.history.store import HistoryStore
from harness.history.trends import when
from harness.report.folder import COMPARED_FILE
from harness.results import replace_file

LAST = 10


def comparison(store: HistoryStore, entry: RunEntry, last: int = LAST) -> dict[str, Any] | None:
    """This run's p95 per step on its candidate (or only) target, beside the median p95 of the
    last `last` runs against that target; None when the run has no target."""
    target = entry.labels.get("candidate") or entry.labels.get("target")
    if target is None:
        return None
    earlier = last_runs(store, target, entry.run_id, last)
    ids = {r.run_id for r in earlier}
    before: dict[tuple[str, str], list[float]] = {}
    for p in series_of(store, Filters(target=target)):
        if p.run_id in ids and p.p95_ms is not None:
            before.setdefault((p.journey, p.step), []).append(p.p95_ms)
    steps = []
    for s in entry.series:
        if s.target != target:
            continue
        history = before.get((s.journey, s.step), [])
        median = statistics.median(history) if history else None
        steps.append(
            {
                "journey": s.journey,
                "step": s.step,
                "p95_ms": s.p95_ms,
                "median_p95_ms": median,
                "runs": len(history),
                "ratio": round(s.p95_ms / median, 3) if s.p95_ms and median else None,
            }
        )
    return {
        "target": target,
        "last": last,
        "runs": [
            {
                "run_id": r.run_id,
                "mode": r.mode,
                "started": when(r.started_at),
                "decision": r.decision,
                "iterations": r.iterations,
                "failures": r.failures,
            }
            for r in earlier
        ],
        "steps": steps,
    }


def write_comparison(store: HistoryStore, entry: RunEntry, run_path: Path) -> Path | None:
    """Write `history.json` into the run folder; None when there is nothing to compare."""
    found = comparison(store, entry)
    if found is None:
        return None
    return replace_file(run_path / COMPARED_FILE, json.dumps(found, indent=2) + "\n")
