"""What the history keeps of one run folder, read through the one reader (`read_run` over
`harness.results.read_folder`) and its statistics from `harness.telemetry.latency`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.records import Outcome
from harness.report.folder import RunFolder, read_run
from harness.report.summary import decision_of
from harness.telemetry.hdr import ITERATION, SeriesKey


@dataclass(frozen=True)
class SeriesRow:
    """One (target, journey, step) of a run; `step == ""` is the journey's whole iteration."""

    target: str
    journey: str
    step: str
    touchpoint: str
    iterations: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class GateRow:
    """One gate's outcome in a run's verdict."""

    name: str
    kind: str
    decision: str
    critical: bool
    summary: str


@dataclass(frozen=True)
class RunEntry:
    """One run as the history indexes it."""

    run_id: str
    mode: str
    started_at: datetime | None
    ended_at: datetime | None
    status: str
    decision: str
    seed: int | None
    targets: list[str]
    labels: dict[str, str]
    iterations: int
    failures: int
    path: str
    attempt: int = 1
    series: list[SeriesRow] = field(default_factory=list)
    gates: list[GateRow] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """The run's row of the `runs` table."""
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "status": self.status,
            "decision": self.decision,
            "seed": self.seed,
            "targets": self.targets,
            "labels": self.labels,
            "iterations": self.iterations,
            "failures": self.failures,
            "path": self.path,
            "attempt": self.attempt,
        }


def entry_of(path: Path) -> RunEntry:
    """The history's entry for the run folder at `path` (forgiving: what is missing is left
    out). Raises `UsageError` for a folder of a newer schema."""
    run = read_run(path)
    series = _series(run)
    journeys = [s for s in series if s.step == ITERATION]
    gates = []
    if run.verdict is not None:
        gates = [
            GateRow(g.name, g.kind, g.decision.value, g.critical, g.summary)
            for g in run.verdict.gates
        ]
    return RunEntry(
        run_id=run.run_id,
        mode=run.mode,
        started_at=_time(run.meta.get("started_at")),
        ended_at=_time(run.meta.get("ended_at")),
        status=run.status,
        decision=decision_of(run),
        seed=run.meta.get("seed") if isinstance(run.meta.get("seed"), int) else None,
        targets=run.targets,
        labels=_labels(run),
        iterations=sum(s.iterations for s in journeys),
        failures=sum(s.failures for s in journeys),
        path=str(path.resolve()),
        attempt=_attempt(run.meta),
        series=series,
        gates=gates,
    )


def _series(run: RunFolder) -> list[SeriesRow]:
    failed_steps: Counter[tuple[str, str, str]] = Counter()
    if run.counts is not None:
        for e in run.counts.get("errors", []):
            failed_steps[(e["target"], e["journey"], e["step"])] += int(e["count"])
    else:
        for s in run.steps:
            failed_steps[(s.target, s.journey, s.step)] += s.outcome is Outcome.FAILED
    rows = []
    for target in run.targets:
        for journey in run.journeys():
            tally = run.tally(target, journey)
            keys = [SeriesKey(target, journey, ITERATION, "")]
            keys += [SeriesKey(target, journey, s, tp) for s, tp in run.step_order(journey)]
            for key in keys:
                latency = run.distribution(key)
                if key.is_iteration:
                    if tally.iterations == 0 and latency.total == 0:
                        continue
                    iterations, failures = tally.iterations, tally.failures
                else:
                    iterations = run.count(key)
                    failures = failed_steps[(target, journey, key.step)]
                    if iterations == 0:
                        continue
                p = [
                    round(latency.percentile(q), 3) if latency.total else None for q in (50, 95, 99)
                ]
                rows.append(
                    SeriesRow(target, journey, key.step, key.touchpoint, iterations, failures, *p)
                )
    return rows


def _labels(run: RunFolder) -> dict[str, str]:
    """Role → release label: the target's name (baseline, candidate, or the one target)."""
    labels: dict[str, str] = {}
    declared = run.meta.get("targets") or {}
    for role, entry in declared.items() if isinstance(declared, dict) else ():
        if isinstance(entry, dict) and entry.get("name"):
            labels[str(role)] = str(entry.get("release") or entry["name"])
    return labels


def _attempt(meta: dict[str, Any]) -> int:
    """A monitor check's attempt, as its request recorded it (1 for every other run)."""
    request = meta.get("request")
    attempt = request.get("attempt") if isinstance(request, dict) else None
    return attempt if isinstance(attempt, int) and attempt >= 1 else 1


def _time(value: Any) -> datetime | None:
    """An ISO time of run.json as naive UTC (what both stores keep alike)."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when
