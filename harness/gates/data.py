"""What gates read: one stored run folder (or the live aggregator) as a typed model.

Exact counts come from `counts.json` and the HDR histograms; per-window points, step order and
example trace ids come from `steps.jsonl`. Gates never read anything else, so `harness gates`
and `harness compare` work offline on stored runs.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.folder_io import shape_of
from harness.records import PAGE_MARK as PAGE_MARK  # the gates' name for it
from harness.records import IterationRecord, Outcome, StepRecord, page_step
from harness.results.reader import StoredFolder, read_folder
from harness.results.schema import RUN_FILE, config_hash
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey, recorded_values
from harness.telemetry.latency import Distribution

if TYPE_CHECKING:
    from harness.gates.metric_series import FetchedMetric
    from harness.telemetry.joins import TraceJoin

EXAMPLES = 3
#: iterations of a series kept in `RunData.iterations` (a step this frequent pairs by the second)
ITERATIONS_KEPT = 5000
#: (started_at, values) of one step in one iteration
Sample = tuple[float, list[float]]


@dataclass(frozen=True)
class StepCounts:
    """How many iterations reached a step, and how many failed there."""

    reached: int
    failed: int

    @property
    def passed(self) -> int:
        """Iterations that got through the step."""
        return self.reached - self.failed


@dataclass
class RunData:
    """The measurements of one run, per target; `baseline` is None for a single-target run."""

    candidate: str
    baseline: str | None
    hdr: HdrStore
    journeys: dict[tuple[str, str], tuple[int, int]]  #: (target, journey) → (iterations, failed)
    step_failures: dict[tuple[str, str, str, str], int]  #: (target, journey, step, touchpoint)
    step_order: dict[str, list[tuple[str, str]]]  #: journey → [(step, touchpoint)] in order
    windows: dict[tuple[str, str, str, str], dict[int, list[float]]]  #: series → second → values
    failed_traces: dict[tuple[str, str], list[str]]  #: (target, journey) → trace ids
    slow_traces: dict[tuple[str, str, str, str], list[tuple[float, str]]]
    timeline: list[dict[str, Any]]
    health: dict[str, Any] = field(default_factory=dict)
    #: Web Vitals of web steps, the metric (`lcp`, ...) in the touchpoint's place of each key
    vitals: HdrStore = field(default_factory=HdrStore)
    #: metric → (target, journey, step, "web") → second → values, as `windows` for latency;
    #: also each page of a step: (target, journey, `page_step(step, page)`, "page")
    vital_windows: dict[str, dict[tuple[str, str, str, str], dict[int, list[float]]]] = field(
        default_factory=dict
    )
    #: series → (worker, user, iteration) → (started_at, values): a step's values per iteration
    #: (the first `ITERATIONS_KEPT` of each series), which both sides run with the same person;
    #: the paired gate pairs sparse steps by them (`harness.gates.pairing`)
    iterations: dict[tuple[str, str, str, str], dict[tuple[int, int, int], Sample]] = field(
        default_factory=dict
    )
    #: metric → series → iteration → (started_at, values), as `iterations` for latency
    vital_iterations: dict[
        str, dict[tuple[str, str, str, str], dict[tuple[int, int, int], Sample]]
    ] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    run_dir: Path | None = None  #: the run folder, when read from one (span files live there)
    trace_joins: list[TraceJoin] | None = None  #: journey traces, read on demand from run_dir
    warnings: list[str] = field(default_factory=list)  #: what of the run folder was damaged
    folder: StoredFolder | None = None  #: what it was read from (`read_folder`), if a folder
    #: what metric providers gave (None: read `metrics.json` of run_dir when a gate asks)
    metrics: list[FetchedMetric] | None = None

    @property
    def targets(self) -> list[str]:
        """Baseline (if any) then candidate."""
        return [t for t in (self.baseline, self.candidate) if t is not None]

    def samples(self, target: str, journey: str, step: str, touchpoint: str) -> np.ndarray:
        """Every recorded duration (ms) of a series, rebuilt from its HDR histogram (exact to
        3 significant digits)."""
        key = SeriesKey(target, journey, step, touchpoint)
        if self.hdr.count(key) == 0:
            return np.empty(0)
        values, counts = recorded_values(self.hdr.histogram(key))
        return np.repeat(values, counts)

    def distribution(self, target: str, journey: str, step: str, touchpoint: str) -> Distribution:
        """A series' recorded durations and their counts, from its HDR histogram: what every
        statistic of it is computed from (`harness.telemetry.latency`)."""
        return self.hdr.distribution(SeriesKey(target, journey, step, touchpoint))

    def run_seconds(self) -> float | None:
        """The seconds of run these measurements span: from the first second in which an
        iteration started to the last (per-second step points when there is no timeline).
        None when nothing was recorded. Rates (samples per second) are over this."""
        seconds = [float(row["t"]) for row in self.timeline]
        if not seconds:
            seconds = [float(s) for points in self.windows.values() for s in points]
        if not seconds:
            return None
        return max(seconds) - min(seconds) + 1.0

    def step_series(self, target: str) -> list[SeriesKey]:
        """The step series (not whole iterations) of a target."""
        return [k for k in self.hdr if k.target == target and not k.is_iteration]

    def iteration_series(self, target: str) -> list[SeriesKey]:
        """The whole-iteration series of a target."""
        return [k for k in self.hdr if k.target == target and k.is_iteration]

    def step_counts(self, target: str, journey: str, step: str, touchpoint: str) -> StepCounts:
        """Reached and failed counts of one step."""
        reached = self.hdr.count(SeriesKey(target, journey, step, touchpoint))
        return StepCounts(reached, self.step_failures.get((target, journey, step, touchpoint), 0))

    def points(
        self, target: str, journey: str, step: str, touchpoint: str, statistic: str = "p50"
    ) -> np.ndarray:
        """One value per second of the run (the median, by default): the time series a canary
        judge such as Kayenta compares, rather than individual requests."""
        per_second = self.windows.get((target, journey, step, touchpoint), {})
        q = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0}.get(statistic, 50.0)
        if statistic == "p50":  # the same median, without numpy's per-call cost (~100 µs)
            return np.array([statistics.median(v) for _, v in sorted(per_second.items())])
        reduce = np.mean if statistic == "mean" else (lambda v: np.percentile(v, q))
        return np.array([float(reduce(np.array(v))) for _, v in sorted(per_second.items())])

    def examples(self, target: str, journey: str, step: str | None = None) -> list[str]:
        """Trace ids worth opening: failed iterations first, then the slowest ones."""
        found = list(self.failed_traces.get((target, journey), []))[:EXAMPLES]
        if step is not None:
            slow = self.slow_traces.get((target, journey, step, ""), [])
        else:
            slow = self.slow_traces.get((target, journey, ITERATION, ""), [])
        found += [t for _, t in sorted(slow, reverse=True) if t not in found]
        return found[:EXAMPLES]

    @property
    def config_hash(self) -> str:
        """A short hash of the run's configuration, for the decision record."""
        return config_hash(self.meta)

    @classmethod
    def load(cls, run_dir: Path) -> RunData:
        """Read a stored load or rehearsal run through the one reader (`read_folder`, judging):
        raises `UsageError` when it is not one (or of a newer schema), `DamagedRunFolder` when a
        file it needs is damaged (or steps.jsonl holds nothing readable), `UnreadableRunFolder`
        when one cannot be read. Damaged lines of steps.jsonl are skipped and said in
        `warnings`."""
        folder = read_folder(run_dir, judging=True)
        with shape_of(run_dir / RUN_FILE):
            candidate, baseline = _sides(folder.meta)
        counts = folder.counts or {"journeys": [], "errors": []}
        assert folder.hdr is not None  # judging: histograms/ is there, or read_folder raised
        data = cls(
            candidate=candidate,
            baseline=baseline,
            hdr=folder.hdr,
            journeys={
                (j["target"], j["journey"]): (j["iterations"], j["failures"])
                for j in counts["journeys"]
            },
            step_failures=_step_failures(counts["errors"]),
            step_order={},
            windows={},
            failed_traces={},
            slow_traces={},
            timeline=folder.timeline or [],
            health=(folder.health or {}).get("summary") or {},
            meta=folder.meta,
            run_dir=run_dir,
            folder=folder,
            vitals=folder.vitals or HdrStore(),
        )
        # without steps.jsonl, counts and latencies still come from counts.json and histograms/
        data._absorb_records(folder.records())
        data.warnings = folder.warnings
        return data

    def _absorb_records(self, records: Any) -> None:
        order: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
        windows: dict[tuple[str, str, str, str], dict[int, list[float]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for record in records:
            if isinstance(record, StepRecord):
                key = (record.target, record.journey, record.step, record.touchpoint.value)
                windows[key][int(record.started_at)].append(record.duration_ms)
                it = (record.worker, record.user, record.iteration)
                _keep(self.iterations, key, it, record.started_at, (record.duration_ms,))
                for name, values in (record.vitals or {}).items():
                    pages = (record.vital_pages or {}).get(name, ())
                    for series, these in _with_pages(key, values, pages):
                        by_second = self.vital_windows.setdefault(name, {}).setdefault(series, {})
                        by_second.setdefault(int(record.started_at), []).extend(these)
                        kept = self.vital_iterations.setdefault(name, {})
                        _keep(kept, series, it, record.started_at, these)
                order[record.journey].setdefault(
                    (record.step, record.touchpoint.value), record.index
                )
                if record.trace_id:
                    self._note_slow((record.target, record.journey, record.step, ""), record)
            elif isinstance(record, IterationRecord) and record.trace_id:
                if record.outcome is Outcome.FAILED:
                    self.failed_traces.setdefault((record.target, record.journey), []).append(
                        record.trace_id
                    )
                self._note_slow((record.target, record.journey, ITERATION, ""), record)
        self.windows = dict(windows)
        self.step_order = {j: sorted(steps, key=lambda s: steps[s]) for j, steps in order.items()}

    def _note_slow(
        self, key: tuple[str, str, str, str], record: StepRecord | IterationRecord
    ) -> None:
        slow = self.slow_traces.setdefault(key, [])
        assert record.trace_id is not None
        slow.append((record.duration_ms, record.trace_id))
        if len(slow) > 4 * EXAMPLES:
            slow.sort(reverse=True)
            del slow[EXAMPLES:]


def _with_pages(
    key: tuple[str, str, str, str], values: tuple[float, ...], pages: tuple[str, ...]
) -> list[tuple[tuple[str, str, str, str], tuple[float, ...]]]:
    """A step's vital samples as its own series and, when the record names the pages (one per
    sample), one series per page, the samples of each in the order they were taken."""
    out = [(key, values)]
    if len(pages) != len(values):
        return out
    by_page: dict[str, list[float]] = {}
    for value, page in zip(values, pages, strict=True):
        by_page.setdefault(page, []).append(value)
    target, journey, step, _ = key
    for page, these in by_page.items():  # touchpoint `page`: `harness.gates.vitals.PAGE`
        out.append(((target, journey, page_step(step, page), "page"), tuple(these)))
    return out


def _keep(
    into: dict[tuple[str, str, str, str], dict[tuple[int, int, int], Sample]],
    key: tuple[str, str, str, str],
    iteration: tuple[int, int, int],
    started_at: float,
    values: tuple[float, ...],
) -> None:
    per = into.setdefault(key, {})
    if iteration in per:
        per[iteration][1].extend(values)
    elif len(per) < ITERATIONS_KEPT:
        per[iteration] = (started_at, list(values))


def _step_failures(errors: list[dict[str, Any]]) -> dict[tuple[str, str, str, str], int]:
    found: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for e in errors:
        found[(e["target"], e["journey"], e["step"], e["touchpoint"])] += int(e["count"])
    return dict(found)


def _sides(meta: dict[str, Any]) -> tuple[str, str | None]:
    """(candidate, baseline) target names from run.json."""
    targets = meta.get("targets") or {}
    if "candidate" in targets:
        names = [targets["candidate"]["name"], targets["baseline"]["name"]]
    elif targets:
        names = [next(iter(targets.values()))["name"], None]
    else:
        raise ValueError("`targets` names no target")
    if not isinstance(names[0], str) or not isinstance(names[1], str | None):
        raise ValueError("a target has no name")
    return names[0], names[1]


def side_by_side(baseline: RunData, candidate: RunData) -> RunData:
    """Two stored runs as one baseline-vs-candidate comparison (for `harness compare`): the
    candidate side of each run is renamed `baseline` and `candidate`."""
    store = HdrStore()
    for run, name in ((baseline, "baseline"), (candidate, "candidate")):
        for key in run.hdr:
            if key.target == run.candidate:
                renamed = SeriesKey(name, key.journey, key.step, key.touchpoint)
                store.histogram(renamed).add(run.hdr.histogram(key))

    def both(field_name: str) -> dict[Any, Any]:
        merged: dict[Any, Any] = {}
        for run, name in ((baseline, "baseline"), (candidate, "candidate")):
            mapping: dict[Any, Any] = getattr(run, field_name)
            merged.update({(name, *k[1:]): v for k, v in mapping.items() if k[0] == run.candidate})
        return merged

    def described(run: RunData) -> dict[str, Any]:
        return {**run.meta.get("targets", {}).get("target", {}), "run": run.meta.get("run_id")}

    timeline = [r for r in candidate.timeline if r["target"] == candidate.candidate]
    return RunData(
        candidate="candidate",
        baseline="baseline",
        hdr=store,
        journeys=both("journeys"),
        step_failures=both("step_failures"),
        step_order={**baseline.step_order, **candidate.step_order},
        windows=both("windows"),
        failed_traces=both("failed_traces"),
        slow_traces=both("slow_traces"),
        timeline=[{**r, "target": "candidate"} for r in timeline],
        health=candidate.health if candidate.health.get("saturated") else baseline.health,
        meta={
            "run_id": None,
            "seed": candidate.meta.get("seed"),
            "config": candidate.meta.get("config", {}),
            "targets": {"baseline": described(baseline), "candidate": described(candidate)},
        },
    )
