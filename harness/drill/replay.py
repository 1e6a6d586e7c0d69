"""When did a gate first see the fault, and when did it let go: the gates replayed on windows of
a stored drill run.

Detection: the tripped gates are judged on the run's records from its start up to t, for t
stepping through the run; the first t at which a gate fails, minus the fault's onset, is its
time to detect — what the gate would have said had the rehearsal been judged at t.
Recovery (faults with a window): the gates are judged on the records since the window closed,
up to t; the first t at which a gate passes again, minus the window's end, is its time to
recover. Both are on a grid of `step_s` seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.gates.config import Gate
from harness.gates.data import RunData
from harness.gates.metric_series import FetchedMetric, read_metrics
from harness.gates.outcome import Decision
from harness.gates.traces import read_trace_joins
from harness.records import IterationRecord, StepRecord
from harness.results.reader import read_folder
from harness.rollout.window import window_data
from harness.telemetry.joins import TraceJoin

Record = StepRecord | IterationRecord


@dataclass
class StoredRun:
    """A drill run's records and journey traces, read once and cut into windows."""

    records: list[Record]
    joins: list[TraceJoin]
    baseline: str
    candidate: str
    meta: dict[str, Any]
    #: the metric gates' points over the whole run (`metrics.json`), cut with each window
    metrics: list[FetchedMetric] = field(default_factory=list)

    @classmethod
    def read(cls, run_dir: Path, data: RunData) -> StoredRun:
        """The records of `run_dir` (whose full-run data is `data`)."""
        folder = data.folder if data.folder is not None else read_folder(run_dir, judging=True)
        records = sorted(folder.records(), key=lambda r: r.started_at)
        joins = data.trace_joins if data.trace_joins is not None else read_trace_joins(run_dir)
        assert data.baseline is not None
        metrics = data.metrics if data.metrics is not None else read_metrics(run_dir)
        return cls(records, joins, data.baseline, data.candidate, data.meta, metrics)

    @property
    def start(self) -> float:
        """Epoch of the first record (the run's start as the gates see it)."""
        return self.records[0].started_at if self.records else 0.0

    @property
    def end(self) -> float:
        """Epoch of the last record's start."""
        return self.records[-1].started_at if self.records else 0.0

    def window(self, start: float, end: float) -> RunData:
        """`RunData` of the records (and journey traces) that started in [start, end), as a run
        folder holding only them would read."""
        kept = [r for r in self.records if start <= r.started_at < end]
        data = window_data(kept, baseline=self.baseline, candidate=self.candidate, meta=self.meta)
        data.trace_joins = [j for j in self.joins if start <= j.started_at < end]
        data.metrics = [_cut(m, start, end) for m in self.metrics]
        return data


def _cut(metric: FetchedMetric, start: float, end: float) -> FetchedMetric:
    """`metric` with only the points in [start, end) on each side."""
    sides = {name: side.within(start, end) for name, side in metric.sides.items()}
    return metric.model_copy(update={"sides": sides, "start": start, "end": end})


def detection_times(
    run: StoredRun, gates: Sequence[Gate], onset: float, *, step_s: float = 1.0
) -> dict[str, float | None]:
    """For each gate (by title), seconds from `onset` (epoch) until it first failed on the
    run's records so far; None when it never did.

    Judging the growing run every `step_s` is many looks at one candidate: at the full alpha
    each look, Kayenta's judge false-alarmed 9.2% of the time instead of 2.5% (issue 22). So
    look k of the K the replay plans spends `(2k - 1)/K²` of each comparing gate's alpha
    (`family.spent`), and the looks together keep it. Give the gates with their verdict
    shares set (`family.split_alpha` over every gate of the verdict)."""
    found: dict[str, float | None] = {g.title(): None for g in gates}
    waiting = list(gates)
    t = max(onset, run.start) + step_s
    looks = max(int((run.end + step_s - t) // step_s) + 1, 1)
    look = 0
    while waiting and t <= run.end + step_s:
        look += 1
        data = run.window(run.start, t)
        for gate in list(waiting):
            if _decision(at_look(gate, look, looks), data) is Decision.FAIL:
                found[gate.title()] = round(t - onset, 1)
                waiting.remove(gate)
        t += step_s
    return found


def at_look(gate: Gate, look: int, looks: int) -> Gate:
    """`gate` with the part of its alpha that look `look` of `looks` may spend (comparing gates;
    a gate on the candidate alone is judged on its own limit, an anytime-valid one at its whole
    alpha at every look, as the live abort watch judges it)."""
    from harness.gates.family import gate_alpha, spent

    if not getattr(gate, "comparing", False) or getattr(gate, "anytime_valid", False):
        return gate
    alpha = gate_alpha(gate, getattr(gate, "level", None))
    return gate.model_copy(update={"alpha": alpha * spent(look, looks)})


def recovery_times(
    run: StoredRun, gates: Sequence[Gate], window_end: float, *, step_s: float = 1.0
) -> dict[str, float | None]:
    """For each gate, seconds from the fault's end (epoch) until it passed again on the records
    since then; None when it did not within the run."""
    found: dict[str, float | None] = {g.title(): None for g in gates}
    waiting = list(gates)
    t = window_end + step_s
    while waiting and t <= run.end + step_s:
        data = run.window(window_end, t)
        for gate in list(waiting):
            if _decision(gate, data) is Decision.PASS:
                found[gate.title()] = round(t - window_end, 1)
                waiting.remove(gate)
        t += step_s
    return found


def _decision(gate: Gate, data: RunData) -> Decision:
    try:
        return gate.evaluate(data).decision
    except Exception:  # a gate that cannot judge a thin window has not decided
        return Decision.ERROR
