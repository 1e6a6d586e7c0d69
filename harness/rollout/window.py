"""One stage's window as the `RunData` the gates read: the records of the iterations that
started during the stage, measured exactly as a run folder holding only them would be."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from harness.gates.data import RunData
from harness.records import IterationRecord, Outcome, StepRecord
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey


class WindowData(RunData):
    """`RunData` of records held in memory: a series' samples are its recorded durations
    themselves (exact, and read at once rather than walked out of an HDR histogram, which
    took seconds per stage in pure Python while the users waited)."""

    raw: dict[tuple[str, str, str, str], list[float]]

    def samples(self, target: str, journey: str, step: str, touchpoint: str) -> np.ndarray:
        """Every recorded duration (ms) of a series."""
        return np.array(self.raw.get((target, journey, step, touchpoint), ()), dtype=float)


def window_data(
    records: Iterable[StepRecord | IterationRecord],
    *,
    baseline: str | None,
    candidate: str,
    meta: dict[str, Any] | None = None,
) -> WindowData:
    """HDR histograms, per-journey and per-second tallies, step failures, per-second points,
    step order and example traces of `records`, for baseline against candidate."""
    kept = list(records)
    hdr = HdrStore()
    raw: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    journeys: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    failures: dict[tuple[str, str, str, str], int] = defaultdict(int)
    seconds: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for record in kept:
        if isinstance(record, StepRecord):
            key = SeriesKey(record.target, record.journey, record.step, record.touchpoint.value)
            hdr.record(key, record.duration_ms)
            raw[(key.target, key.journey, key.step, key.touchpoint)].append(record.duration_ms)
            if record.outcome is Outcome.FAILED:
                failures[(key.target, key.journey, key.step, key.touchpoint)] += 1
            continue
        hdr.record(SeriesKey(record.target, record.journey, ITERATION, ""), record.duration_ms)
        raw[(record.target, record.journey, ITERATION, "")].append(record.duration_ms)
        failed = int(record.outcome is Outcome.FAILED)
        for tally in (
            journeys[(record.target, record.journey)],
            seconds[(record.target, int(record.started_at))],
        ):
            tally[0] += 1
            tally[1] += failed
    data = WindowData(
        candidate=candidate,
        baseline=baseline,
        hdr=hdr,
        journeys={k: (n, f) for k, (n, f) in journeys.items()},
        step_failures=dict(failures),
        step_order={},
        windows={},
        failed_traces={},
        slow_traces={},
        timeline=[
            {"target": target, "t": second, "iterations": n, "failures": f}
            for (target, second), (n, f) in sorted(seconds.items(), key=lambda kv: kv[0][1])
        ],
        meta=meta or {},
    )
    data.raw = dict(raw)
    # The same reading of step records as a stored run's (points, order, example traces).
    data._absorb_records(kept)
    return data


class StageWindow:
    """A `RunSink` keeping the records of iterations that started since `since` (epoch s)."""

    def __init__(self) -> None:
        self.since = time.time()
        self.records: list[StepRecord | IterationRecord] = []

    def restart(self, since: float) -> None:
        """Forget everything before `since`: a new stage begins."""
        self.since = since
        self.records = [r for r in self.records if r.started_at >= since]

    def step_finished(self, record: StepRecord) -> None:
        """Keep the step if it started in the window."""
        if record.started_at >= self.since:
            self.records.append(record)

    def iteration_finished(self, record: IterationRecord) -> None:
        """Keep the iteration if it started in the window."""
        if record.started_at >= self.since:
            self.records.append(record)
