"""A run's metric gates' queries fetched from their providers (`harness.providers`) over the
run's window once it has finished, and kept in the run folder (`metrics.json`) for the gates
and for `harness gates RUN_DIR`."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from harness.gates.metric_series import METRICS_FILE, FetchedMetric, MetricsFile
from harness.providers import check_providers, fetch_metrics, metric_gates
from harness.results import replace_file
from harness.run.request import RunRequest
from harness.targets import Target

if TYPE_CHECKING:
    from harness.engine.collector import LoadAggregator
    from harness.engine.outcome import Watch
    from harness.results import RunDirectory

__all__ = [
    "announce_sandbox",
    "check_metric_gates",
    "record_metrics",
    "sides_of",
    "window_fetcher",
    "with_metric_watch",
]


def check_metric_gates(request: RunRequest) -> None:
    """Refuse (exit 2, before anything starts) a metric gate whose provider is not configured."""
    check_providers(request.gates(), request.config)


def announce_sandbox(
    request: RunRequest, stack: ExitStack, *, run_id: str, role: str, release: str, base_url: str
) -> None:
    """List a sandbox the harness started (on a random port) in every provider's `file_sd`
    folder, as Prometheus' `file_sd_configs` reads it, with `side`, `release` and
    `harness_run` labels; the file is removed when `stack` closes, so Prometheus stops
    scraping it. A folder that cannot be written is said once and the run goes on."""
    folders = {p.file_sd for p in request.config.providers.values() if p.file_sd}
    if not folders:
        return
    host = base_url.split("://", 1)[-1].rstrip("/")
    labels = {"side": role, "release": release, "harness_run": run_id}
    text = json.dumps([{"targets": [host], "labels": labels}], indent=2) + "\n"
    for folder in sorted(folders):
        path = Path(folder).expanduser() / f"{run_id}-{role}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            replace_file(path, text)
        except OSError as exc:
            print(f"file_sd: could not list the {role} sandbox in {folder}: {exc}", flush=True)
            continue
        stack.callback(_forget, path)


def _forget(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def sides_of(targets: list[Target]) -> dict[str, Target]:
    """`{"baseline": ..., "candidate": ...}`, or `{"target": ...}` for one target."""
    if len(targets) == 1:
        return {"target": targets[0]}
    return {"baseline": targets[0], "candidate": targets[-1]}


def record_metrics(
    request: RunRequest, run: RunDirectory, targets: list[Target], aggregator: LoadAggregator
) -> None:
    """Fetch every metric gate's query over the seconds the run measured and write
    `metrics.json`; nothing when the request has no metric gate. Never raises for a provider:
    its failure is the gate's `error`."""
    gates = metric_gates(request.gates())
    if not gates:
        return
    seconds = [second for _, second in aggregator.seconds]
    end = float(max(seconds)) + 1.0 if seconds else time.time()
    start = float(min(seconds)) if seconds else end - 1.0
    started = time.perf_counter()
    fetched = fetch_metrics(gates, request.config, sides_of(targets), start, end)
    replace_file(run.path / METRICS_FILE, MetricsFile(metrics=fetched).model_dump_json(indent=2))
    errors = sum(1 for m in fetched for s in m.sides.values() if s.error)
    print(
        f"metrics: {len(fetched)} quer{'y' if len(fetched) == 1 else 'ies'} fetched in "
        f"{time.perf_counter() - started:.1f} s" + (f" ({errors} failed)" if errors else ""),
        flush=True,
    )


def window_fetcher(
    request: RunRequest, targets: list[Target], *, retry: bool = True
) -> Callable[[float, float], list[FetchedMetric]] | None:
    """What a rollout's stage looks call for the metric gates' points over the stage's window
    (start, end); None when the request has no metric gate. `retry=False` for the live watch,
    whose next look comes anyway."""
    gates = metric_gates(request.gates())
    if not gates:
        return None
    sides = sides_of(targets)

    def fetch(start: float, end: float) -> list[FetchedMetric]:
        return fetch_metrics(gates, request.config, sides, start, end, retry=retry)

    return fetch


def with_metric_watch(
    inner: Watch | None, gates: Sequence[object], request: RunRequest, targets: list[Target]
) -> Watch | None:
    """`inner` (the rehearsal's live watch) and the metric gates marked `abort = true`
    (`harness.run.metric_watch`); the first reason to stop wins."""
    from harness.run.metric_watch import MetricAbortWatch

    watched = [g for g in metric_gates(gates) if g.abort]
    fetch = window_fetcher(request, targets, retry=False)
    if not watched or fetch is None or len(targets) < 2:
        return inner
    metric = MetricAbortWatch(watched, fetch, baseline=targets[0].name, candidate=targets[-1].name)

    def watch(aggregator: LoadAggregator, elapsed: float) -> str | None:
        reason = inner(aggregator, elapsed) if inner is not None else None
        return reason if reason is not None else metric(aggregator, elapsed)

    return watch
