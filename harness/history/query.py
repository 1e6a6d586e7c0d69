"""Reading the history back: runs and their series, filtered by target, journey, step and
age, in one order on every store (start time, then run id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harness.history.store import HistoryStore


@dataclass(frozen=True)
class Filters:
    """What `harness history` was asked for; None matches everything."""

    target: str | None = None
    journey: str | None = None
    step: str | None = None
    since: datetime | None = None  #: naive UTC
    mode: str | None = None


@dataclass(frozen=True)
class RunRow:
    """One indexed run."""

    run_id: str
    mode: str
    started_at: datetime | None
    status: str
    decision: str
    seed: int | None
    targets: list[str]
    labels: dict[str, str]
    iterations: int
    failures: int
    attempt: int = 1


@dataclass(frozen=True)
class SeriesPoint:
    """One (target, journey, step) series of one run, with its run's start and labels."""

    run_id: str
    mode: str
    started_at: datetime | None
    label: str
    target: str
    journey: str
    step: str
    touchpoint: str
    iterations: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


def runs_of(store: HistoryStore, filters: Filters = Filters()) -> list[RunRow]:
    """The runs that match `filters` (a journey or step filter: runs that measured it)."""
    from sqlalchemy import select

    from harness.history.tables import runs, series

    query = select(runs)
    if filters.since is not None:
        query = query.where(runs.c.started_at >= filters.since)
    if filters.mode is not None:
        query = query.where(runs.c.mode == filters.mode)
    if filters.journey is not None or filters.step is not None:
        measured = select(series.c.run_id)
        if filters.journey is not None:
            measured = measured.where(series.c.journey == filters.journey)
        if filters.step is not None:
            measured = measured.where(series.c.step == filters.step)
        query = query.where(runs.c.run_id.in_(measured))
    query = query.order_by(runs.c.started_at, runs.c.run_id)
    with store.connect() as connection:
        found = [_run_row(r._mapping) for r in connection.execute(query)]
    if filters.target is not None:
        found = [r for r in found if filters.target in r.targets]
    return found


def series_of(store: HistoryStore, filters: Filters = Filters()) -> list[SeriesPoint]:
    """Every series of the matching runs (steps and whole iterations, step ""), in run
    order."""
    from sqlalchemy import select

    from harness.history.tables import runs, series

    query = select(series, runs.c.mode, runs.c.started_at, runs.c.labels).join(
        runs, runs.c.run_id == series.c.run_id
    )
    if filters.since is not None:
        query = query.where(runs.c.started_at >= filters.since)
    if filters.mode is not None:
        query = query.where(runs.c.mode == filters.mode)
    if filters.target is not None:
        query = query.where(series.c.target == filters.target)
    if filters.journey is not None:
        query = query.where(series.c.journey == filters.journey)
    if filters.step is not None:
        query = query.where(series.c.step == filters.step)
    query = query.order_by(
        runs.c.started_at, runs.c.run_id, series.c.target, series.c.journey, series.c.id
    )
    with store.connect() as connection:
        rows = [r._mapping for r in connection.execute(query)]
    return [
        SeriesPoint(
            run_id=r["run_id"],
            mode=r["mode"],
            started_at=r["started_at"],
            label=_label_of(r["labels"], r["target"]),
            target=r["target"],
            journey=r["journey"],
            step=r["step"],
            touchpoint=r["touchpoint"],
            iterations=r["iterations"],
            failures=r["failures"],
            p50_ms=r["p50_ms"],
            p95_ms=r["p95_ms"],
            p99_ms=r["p99_ms"],
        )
        for r in rows
    ]


def last_runs(store: HistoryStore, target: str, before: str, count: int = 10) -> list[RunRow]:
    """The last `count` runs against `target` that started before the run `before` (by run
    id order, which is start order), newest last."""
    earlier = [r for r in runs_of(store, Filters(target=target)) if r.run_id != before]
    own = [r for r in runs_of(store) if r.run_id == before]
    if own and own[0].started_at is not None:
        earlier = [r for r in earlier if r.started_at and r.started_at <= own[0].started_at]
    return earlier[-count:]


def _run_row(r: Any) -> RunRow:
    return RunRow(
        run_id=r["run_id"],
        mode=r["mode"],
        started_at=r["started_at"],
        status=r["status"],
        decision=r["decision"],
        seed=r["seed"],
        targets=list(r["targets"] or []),
        labels=dict(r["labels"] or {}),
        iterations=r["iterations"],
        failures=r["failures"],
        attempt=r["attempt"],
    )


def _label_of(labels: dict[str, str] | None, target: str) -> str:
    for label in (labels or {}).values():
        if label == target:
            return label
    return target
