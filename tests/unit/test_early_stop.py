"""The live sequential latency test stops a rehearsal whose step is clearly slower, and never
an identical candidate, fed each second from the run's cumulative HDR histograms."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.gates.config import DEFAULT_GATES, parse_gates
from harness.gates.early_stop import BLOCK_S, MIN_BLOCKS, rehearsal_watch
from harness.telemetry.hdr import HdrStore, SeriesKey

STEPS = ("log in", "browse", "pay", "place order")


@dataclass
class LiveRun:
    """What the watch reads of the live aggregator: its cumulative histograms (and, for the
    abort gates, its per-second tallies: none here)."""

    hdr: HdrStore = field(default_factory=HdrStore)
    seconds: dict[tuple[str, int], object] = field(default_factory=dict)

    def second(self, rng: np.random.Generator, slower: dict[str, float]) -> None:
        shared = rng.normal(0.0, 0.3)  # the machine's load, felt by both sides
        for step in STEPS:
            for side in ("baseline", "candidate"):
                factor = slower.get(step, 1.0) if side == "candidate" else 1.0
                values = 20.0 * factor * np.exp(shared + rng.normal(0.0, 0.4, size=12))
                self.hdr.record_many(SeriesKey(side, "shop", step, "api"), values.tolist())


def _watch():  # the default gates, as a rehearsal builds its watch
    watch = rehearsal_watch(parse_gates(DEFAULT_GATES), baseline="baseline", candidate="candidate")
    assert watch is not None
    return watch


def test_a_step_twice_as_slow_stops_the_run_once_enough_blocks_are_in() -> None:
    rng = np.random.default_rng(1)
    run, watch = LiveRun(), _watch()
    for second in range(1, 61):
        run.second(rng, {"pay": 2.0})
        reason = watch(run, float(second))
        if reason is not None:
            break
    assert reason is not None and "step `pay`" in reason and "anytime-valid" in reason
    assert BLOCK_S * MIN_BLOCKS <= second <= 30, second


def test_an_identical_candidate_is_never_stopped() -> None:
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        run, watch = LiveRun(), _watch()
        for second in range(1, 121):
            run.second(rng, {})
            assert watch(run, float(second)) is None, (seed, second)


def test_no_paired_stop_early_no_latency_watch() -> None:
    gates = [{**g, "stop_early": 0.0} if g["kind"] == "paired" else g for g in DEFAULT_GATES]
    watch = rehearsal_watch(parse_gates(gates), baseline="baseline", candidate="candidate")
    rng = np.random.default_rng(1)
    run = LiveRun()
    for second in range(1, 61):
        run.second(rng, {"pay": 2.0})
        assert watch is None or watch(run, float(second)) is None


def test_a_paired_gate_on_a_web_vital_is_not_watched_live() -> None:
    # the live test reads latency histograms: a vital gate with stop_early would judge latency
    vital = parse_gates([{"kind": "paired", "metric": "lcp", "stop_early": 0.2}])
    assert rehearsal_watch(vital, baseline="baseline", candidate="candidate") is None
