"""Per-process measurement (`LoadCollector`) and its merge on the master (`LoadAggregator`).

Each load process records every step and iteration into HDR histograms and counters, and keeps
the JSON lines of failed steps plus a sample of passed ones. The driver periodically takes a
*delta* (everything since the last one) and ships it to the aggregator — over Locust's
`report_to_master` on workers, directly in a local run — so every value is counted exactly once.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.records import IterationRecord, Outcome, StepRecord, page_samples, record_json
from harness.results import RunDirectory
from harness.results.schema import VITALS
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey, encode_series, new_histogram

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

Delta = dict[str, Any]
#: passed executions of a step (per process) whose line lists its requests (method, URL,
#: status, duration): enough for the report's impact map; a failed step always lists them, and
#: every kept trace has them. At load the lists were a quarter of steps.jsonl.
REQUESTS_SHOWN = 20
CHECKPOINT_S = 10.0  #: how often a running load writes its merged histograms


@dataclass
class Tally:
    """Iterations, failures and late starts of one journey (or of a one-second bucket), and the
    iterations still running when the load stopped (`cut_off`: they finished no record)."""

    iterations: int = 0
    failures: int = 0
    late: int = 0
    cut_off: int = 0

    def add(self, other: Tally) -> None:
        """Add another tally into this one."""
        self.iterations += other.iterations
        self.failures += other.failures
        self.late += other.late
        self.cut_off += other.cut_off

    def as_list(self) -> list[int]:
        """Compact wire form (a worker of an older release sends the first three only)."""
        return [self.iterations, self.failures, self.late, self.cut_off]


class LoadCollector:
    """A `RunSink` for one load process: records into histograms and hands out deltas."""

    def __init__(self, *, sample_rate: float = 1.0, late_after_ms: float = 10.0, seed: int = 0):
        self.sample_rate = sample_rate
        self.late_after_ms = late_after_ms
        self._rng = random.Random(seed)
        self._requests_shown: Counter[SeriesKey] = Counter()  #: passed lines with requests
        self._reset()
        self.total_iterations = 0
        self._last_health: dict[str, Any] | None = None  #: the newest health sample, shipped or not
        self._scratch: HdrHistogram | None = None  #: what each delta is encoded through

    def _reset(self) -> None:
        #: durations since the last delta, recorded into histograms in one batch per series
        #: (`HdrStore.record_many`) when the delta is taken
        self._durations: dict[SeriesKey, list[float]] = defaultdict(list)
        #: Web Vitals samples, keyed with the metric's name in place of the touchpoint
        self._vitals: dict[SeriesKey, list[float]] = defaultdict(list)
        self._journeys: dict[tuple[str, str], Tally] = defaultdict(Tally)
        self._seconds: dict[tuple[str, int], Tally] = defaultdict(Tally)
        self._errors: Counter[tuple[str, str, str, str, str]] = Counter()
        self._lines: list[str] = []
        self._dropped = 0
        self._health: list[dict[str, Any]] = []

    def step_finished(self, record: StepRecord) -> None:
        """Record a step's duration; keep its line if it failed or was sampled."""
        key = SeriesKey(record.target, record.journey, record.step, record.touchpoint.value)
        self._durations[key].append(record.duration_ms)
        if record.vitals:
            for name, values in record.vitals.items():
                vital = SeriesKey(record.target, record.journey, record.step, name)
                self._vitals[vital].extend(values)
            for (step, metric), samples in page_samples(record).items():
                self._vitals[SeriesKey(record.target, record.journey, step, metric)].extend(samples)
        failed = record.outcome is Outcome.FAILED
        if failed:
            kind = record.error_kind.value if record.error_kind else "unknown"
            where = (record.target, record.journey, record.step, record.touchpoint.value, kind)
            self._errors[where] += 1
        if failed or self._sampled():
            shown = self._requests_shown[key]
            if failed or shown < REQUESTS_SHOWN:
                self._requests_shown[key] = shown + 1
                self._lines.append(record_json(record))
            else:  # passing and seen often enough: its requests are in its trace, if kept
                self._lines.append(record_json(record, requests=False))

    def iteration_finished(self, record: IterationRecord) -> None:
        """Record an iteration's duration (from its scheduled start in open-model runs)."""
        self.total_iterations += 1
        key = SeriesKey(record.target, record.journey, ITERATION, "")
        self._durations[key].append(record.duration_ms)
        failed = record.outcome is Outcome.FAILED
        late = int((record.late_ms or 0.0) > self.late_after_ms)
        for tally in (  # counted in place: a `Tally` made per iteration cost 1 µs of ~50
            self._journeys[(record.target, record.journey)],
            self._seconds[(record.target, int(record.started_at))],
        ):
            tally.iterations += 1
            tally.failures += int(failed)
            tally.late += late
        if failed or self._sampled():
            self._lines.append(record_json(record))

    def iteration_cut_off(self, target: str, journey: str) -> None:
        """Count an iteration that the end of the load stopped before it finished: its finished
        steps are recorded under `journey`, the iteration itself is not."""
        self._journeys[(target, journey)].add(Tally(cut_off=1))

    def dropped(self, count: int = 1) -> None:
        """Count arrivals that were never started because no user was free in time."""
        self._dropped += count

    def health(self, sample: dict[str, Any]) -> None:
        """Keep one generator-health sample."""
        self._health.append(sample)
        self._last_health = sample

    def browser_blocked(self, total: int) -> None:
        """The process's final count of requests refused by `block` patterns (health samples
        carry it each second): on the newest sample, or a copy of the last one shipped."""
        last = self._health[-1] if self._health else self._last_health
        if last is None or not total:
            return
        if not self._health:
            self._health.append(dict(last))
        self._health[-1]["browser_blocked"] = total

    def _sampled(self) -> bool:
        return self.sample_rate >= 1.0 or self._rng.random() < self.sample_rate

    def take_delta(self, *, encoded: bool = True) -> Delta:
        """Everything recorded since the previous call, in a msgpack/JSON-friendly form: the
        durations as HDR payloads for the wire (`encoded`, a worker's report), or as they were
        measured for an aggregator in this process (a local run), which records them into its
        own histograms; neither makes a histogram per series (see `encode_series`)."""
        delta: Delta = {
            **self._durations_delta(encoded),
            "journeys": [[*k, *v.as_list()] for k, v in self._journeys.items()],
            "seconds": [[*k, *v.as_list()] for k, v in self._seconds.items()],
            "errors": [[*k, n] for k, n in self._errors.items()],
            "lines": self._lines,
            "dropped": self._dropped,
            "health": self._health,
        }
        if self._vitals:  # raw samples (a few a second): the aggregator keeps the histograms
            delta["vitals"] = [[*key, values] for key, values in self._vitals.items()]
        self._reset()
        return delta

    def _durations_delta(self, encoded: bool) -> Delta:
        if not encoded:
            return {"durations": [[*key, values] for key, values in self._durations.items()]}
        if self._scratch is None:
            self._scratch = new_histogram()
        return {"hdr": encode_series(self._durations, self._scratch)}


@dataclass
class SourceTotals:
    """What one process (a worker, or the local runner) has reported so far."""

    hdr: HdrStore = field(default_factory=HdrStore)
    iterations: int = 0
    deltas: int = 0
    final: bool = False
    spent: bool = False  #: its share of `--max-iterations` is spent, its last iteration over


class LoadAggregator:
    """Merges deltas from every load process; writes step lines to the run folder as they come."""

    def __init__(self, run: RunDirectory | None = None) -> None:
        self.run = run
        self.hdr = HdrStore()
        self.vitals = HdrStore()  #: Web Vitals per (target, journey, step, metric)
        self.journeys: dict[tuple[str, str], Tally] = defaultdict(Tally)  #: (target, journey)
        self.seconds: dict[tuple[str, int], Tally] = defaultdict(Tally)  #: (target, epoch second)
        #: failed steps by (target, journey, step, touchpoint, error kind)
        self.errors: Counter[tuple[str, str, str, str, str]] = Counter()
        self.dropped = 0
        self.health: list[dict[str, Any]] = []
        self.sources: dict[str, SourceTotals] = defaultdict(SourceTotals)
        self._lines_file = None
        self._checkpointed = time.monotonic()

    def expect(self, targets: Sequence[str], journeys: Sequence[str]) -> None:
        """List every selected journey on every target from the start, so that one that never
        runs shows as 0 iterations in every summary instead of vanishing from them."""
        for target in targets:
            for journey in journeys:
                self.journeys[(target, journey)].add(Tally())

    def never_ran(self) -> list[tuple[str, str]]:
        """(target, journey) of the expected journeys that finished no iteration (including
        those whose every iteration was cut off by the end of the load)."""
        return sorted(k for k, t in self.journeys.items() if t.iterations == 0)

    @property
    def cut_off(self) -> int:
        """Iterations still running when the load stopped, all processes."""
        return sum(t.cut_off for t in self.journeys.values())

    def absorb(self, source: str, delta: Delta, *, final: bool = False) -> None:
        """Merge one delta from `source` (a worker id, or `local`)."""
        for target, journey, step, name, values in delta.get("vitals", []):
            self.vitals.record_many(SeriesKey(target, journey, step, name), values)
        totals = self.sources[source]
        if "durations" in delta:
            # this process's own collector, a local run's only source: its histograms are the
            # merged ones (not a copy of 184 KiB per series)
            totals.hdr = self.hdr
            for target, journey, step, touchpoint, values in delta["durations"]:
                self.hdr.record_many(SeriesKey(target, journey, step, touchpoint), values)
        else:
            part = HdrStore.decode(delta.get("hdr", {}))
            self.hdr.merge(part)
            totals.hdr.merge(part)
            part.discard()
        totals.deltas += 1
        totals.final = totals.final or final
        totals.spent = totals.spent or bool(delta.get("spent"))
        for target, journey, *values in delta.get("journeys", []):
            tally = Tally(*values)
            self.journeys[(target, journey)].add(tally)
            totals.iterations += tally.iterations
        for target, second, *values in delta.get("seconds", []):
            self.seconds[(target, int(second))].add(Tally(*values))
        for target, journey, step, touchpoint, kind, count in delta.get("errors", []):
            self.errors[(target, journey, step, touchpoint, kind)] += int(count)
        self.dropped += int(delta.get("dropped", 0))
        for sample in delta.get("health", []):
            self.health.append({**sample, "source": source})
        if self.run is not None:
            self.run.append_lines(delta.get("lines", []))
            if not final and time.monotonic() - self._checkpointed >= CHECKPOINT_S:
                self.checkpoint()

    def checkpoint(self) -> None:
        """Write the merged histograms so far (replacing the previous checkpoint), so that a
        run killed without a chance to finish can still be judged from its folder."""
        self._checkpointed = time.monotonic()
        if self.run is not None and self.run.write_error is None:
            try:
                self.hdr.replace_folder(self.run.path / "histograms")
                if len(self.vitals):
                    self.vitals.replace_folder(self.run.path / VITALS)
            except OSError as exc:
                self.run.failed_to_write("histograms", exc)

    def spent(self, sources: Sequence[str]) -> bool:
        """True once each of `sources` (worker ids, or `local`) has spent its iteration budget."""
        return bool(sources) and all(s in self.sources and self.sources[s].spent for s in sources)

    @property
    def iterations(self) -> int:
        """Iterations finished so far, all processes."""
        return sum(t.iterations for t in self.journeys.values())

    @property
    def failures(self) -> int:
        """Failed iterations so far, all processes."""
        return sum(t.failures for t in self.journeys.values())

    @property
    def late(self) -> int:
        """Late iteration starts so far (open model)."""
        return sum(t.late for t in self.journeys.values())

    def rate(self, window_s: float = 5.0, now: float | None = None) -> float:
        """Iterations per second over the last `window_s` complete seconds."""
        end = int(now if now is not None else time.time())
        start = end - int(window_s)
        return (
            sum(t.iterations for (_, s), t in self.seconds.items() if start <= s < end) / window_s
        )

    def counts(self) -> dict[str, Any]:
        """Exact iteration tallies per (target, journey) and failed steps by kind, for gates."""
        return {
            "journeys": [
                {"target": t, "journey": j, **_tally_dict(tally)}
                for (t, j), tally in sorted(self.journeys.items())
            ],
            "errors": [
                {"target": t, "journey": j, "step": s, "touchpoint": tp, "kind": k, "count": n}
                for (t, j, s, tp, k), n in sorted(self.errors.items())
            ],
            "dropped": self.dropped,
        }

    def timeline(self) -> list[dict[str, Any]]:
        """Iterations, failures and late starts per target and second, in time order."""
        return [
            {
                "target": target,
                "t": second,
                "iterations": t.iterations,
                "failures": t.failures,
                "late": t.late,
            }
            for (target, second), t in sorted(
                self.seconds.items(), key=lambda kv: (kv[0][1], kv[0][0])
            )
        ]


def _tally_dict(tally: Tally) -> dict[str, int]:
    return {
        "iterations": tally.iterations,
        "failures": tally.failures,
        "late": tally.late,
        "cut_off": tally.cut_off,
    }
