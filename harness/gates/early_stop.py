"""Stopping a rehearsal as soon as a step is clearly slower: the sequential latency test
(`harness.gates.sequential`) fed each second from the live run's HDR histograms.

Each look takes, per step in the paired gate's scope and per side, the bucket counts recorded
since the last look (the cumulative histogram's counts minus those seen before), and gives them
to that step's `SequentialLatency`. Blocks of `BLOCK_S` seconds, a decision possible after
`MIN_BLOCKS` of them; each side's own drift, learned across the steps every 10 s, widens the
error (`block_inflation`). The test is anytime-valid at its share of the paired gate's alpha
(`stop_early`, split equally over the steps seen so far), so looking every second costs no
false FAILs beyond it: the paired gate judges the rest of its alpha at the end.

Only FAIL stops a run: a PASS needs every gate decided, and even at the paired gate's 10%
margin the sequential test passes an identical candidate's steps in a median 190 s on the
bench's replay (bench/gates_power.py), so `--duration` bounds a clean run as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.gates.base import GateBase
from harness.gates.family import gate_alpha, split_alpha
from harness.gates.paired import PairedGate
from harness.gates.sequential import SequentialLatency, block_inflation, weighted_median
from harness.gates.values import parse_share
from harness.telemetry.hdr import SeriesKey, bucket_values

if TYPE_CHECKING:  # the live aggregator is read, never imported: gates sit above the engine
    from harness.engine.collector import LoadAggregator

#: seconds per block and blocks before a decision. On the bench's replayed sandbox noise
#: (/tmp experiments of 2026-12-07, 200 runs, at this test's share of the default alpha,
#: 0.22%), 3 s blocks with 8 before a decision failed 0.5% of identical candidates under strong
#: arm drift and decided the demo's +120 ms in a median 24 s; 5 s blocks with 4 decided in 20 s
#: but failed 3.0%, 2 s with 6 (at 1.1%) 5%.
BLOCK_S = 3
MIN_BLOCKS = 8
INFLATION_EVERY_S = 10


class _Step:
    """One step's sequential test and what it has seen."""

    def __init__(self, test: SequentialLatency) -> None:
        self.test = test
        self.seen: dict[str, np.ndarray] = {}
        self.seconds: list[float] = []  #: per-second log(candidate / baseline median)

    def new_counts(self, side: str, histogram: Any) -> tuple[Any, Any]:
        """(values in ms, counts) recorded on `side` since the last look."""
        counts = np.ctypeslib.as_array(histogram.counts)[: histogram.counts_len].astype(np.int64)
        before = self.seen.get(side)
        self.seen[side] = counts
        delta = counts if before is None else counts - before
        index = np.nonzero(delta > 0)[0]
        return bucket_values(histogram, index), delta[index]


class LatencyWatch:
    """The `watch` callback of the Locust driver for a paired gate with `stop_early` > 0."""

    def __init__(
        self, gate: PairedGate, *, baseline: str, candidate: str, alpha: float, margin: float
    ) -> None:
        self.gate = gate
        self.baseline = baseline
        self.candidate = candidate
        self.alpha = alpha
        self.margin = margin
        self.steps: dict[SeriesKey, _Step] = {}
        self._looks = 0

    def __call__(self, aggregator: LoadAggregator, elapsed: float) -> str | None:
        """A reason to stop now (a step is slower beyond doubt), or None."""
        self._looks += 1
        hdr = aggregator.hdr
        keys = set(hdr)
        for key in sorted(keys):
            if key.target != self.candidate or key.is_iteration or not self.gate.matches(key):
                continue
            base_key = key._replace(target=self.baseline)
            if base_key not in keys:
                continue
            step = self.steps.get(key)
            if step is None:
                test = SequentialLatency(margin=self.margin, block_s=BLOCK_S, min_blocks=MIN_BLOCKS)
                step = self.steps[key] = _Step(test)
            base = step.new_counts("baseline", hdr.histogram(base_key))
            cand = step.new_counts("candidate", hdr.histogram(key))
            b, c = weighted_median(*base), weighted_median(*cand)
            if b and c and b > 0 and c > 0:
                step.seconds.append(math.log(c / b))
            step.test.alpha = self.alpha / len(self.steps)  # shrinks as steps appear
            if step.test.add_second(base, cand) == "fail":
                return self._reason(key, step, elapsed)
        if self._looks % INFLATION_EVERY_S == 0:
            inflation = block_inflation(
                [np.asarray(s.seconds) for s in self.steps.values()], block_s=BLOCK_S
            )
            for s in self.steps.values():
                s.test.inflation = inflation
        return None

    def _reason(self, key: SeriesKey, step: _Step, elapsed: float) -> str:
        low, high = step.test.interval()
        mean = float(np.mean(step.test.diffs))
        return (
            f"typical latency of step `{key.step}` of `{key.journey}` on {key.touchpoint} "
            f"{math.expm1(mean):+.0%} after {elapsed:.0f} s (anytime-valid interval "
            f"{math.expm1(low):+.0%} to {math.expm1(high):+.0%}, over {len(step.test.diffs)} "
            f"blocks of {BLOCK_S} s; sequential test at α {step.test.alpha:.3%})"
        )


def rehearsal_watch(
    gates: Sequence[GateBase], *, baseline: str, candidate: str
) -> Callable[[LoadAggregator, float], str | None] | None:
    """The live watch of a rehearsal: the abort gates (`AbortWatch`) and, for each paired gate
    with `stop_early`, its sequential latency test; the first reason to stop wins. None when
    no gate watches the run."""
    from harness.gates.abort import AbortWatch

    watches: list[Callable[[LoadAggregator, float], str | None]] = []
    abort = AbortWatch(gates, baseline=baseline, candidate=candidate)
    if abort.gates:
        watches.append(abort)
    for gate in split_alpha(gates)[0]:
        # the live test reads latency histograms: a gate judging a Web Vital is judged at the end
        if isinstance(gate, PairedGate) and gate.stop_early > 0 and gate.metric is None:
            margin = parse_share(gate.margin, what=f"{gate.title()}: margin")
            alpha = gate_alpha(gate, gate.level) * gate.stop_early
            watches.append(
                LatencyWatch(
                    gate, baseline=baseline, candidate=candidate, alpha=alpha, margin=margin
                )
            )
    if not watches:
        return None

    def watch(aggregator: LoadAggregator, elapsed: float) -> str | None:
        for one in watches:
            reason = one(aggregator, elapsed)
            if reason is not None:
                return reason
        return None

    return watch
