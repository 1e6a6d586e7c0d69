"""One simulated rehearsal as the real `RunData`, judged by the real `evaluate` with the default
gates: noise drawn from the recorded run (`noise`), a regression injected into the candidate."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from bench.power.noise import Series, draw
from harness.gates.config import DEFAULT_GATES, parse_gates
from harness.gates.data import RunData
from harness.gates.verdict import Verdict, evaluate
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey

#: the base error rate of every journey, both sides
BASE_ERRORS = 0.005
START = 1_000


@dataclass(frozen=True)
class Shift:
    """A regression of the candidate: on the key step's latency, or on one journey's errors."""

    name: str
    median: float = 1.0  #: every candidate value of the key step times this
    tail: float = 0.0  #: values above the key step's p90 + this times its p95 (p95 rises by it)
    errors: float | None = None  #: every journey's candidate error rate
    key_n: int | None = None  #: samples per side of the key step (under-sampled), else n


AA = Shift("A/A")


def apply(shift: Shift, values: np.ndarray) -> np.ndarray:
    """The candidate's key-step values under `shift`."""
    out = values * shift.median
    if shift.tail:
        p90, p95 = np.quantile(values, [0.90, 0.95])
        out = np.where(values > p90, out + shift.tail * p95, out)
    return out


def build(
    rng: np.random.Generator,
    series: list[Series],
    n: int,
    seconds: int,
    model: str,
    shift: Shift,
) -> RunData:
    """A rehearsal of `n` iterations per side per journey over `seconds`: every series of the
    noise, the first one (the key step) shifted."""
    store = HdrStore()
    windows: dict[tuple[str, str, str, str], dict[int, list[float]]] = {}
    order: dict[str, list[tuple[str, str]]] = {}
    totals: dict[tuple[str, str], np.ndarray] = {}
    key_journey = series[0].journey
    for index, s in enumerate(series):
        size = shift.key_n if index == 0 and shift.key_n else n
        second, base, cand = draw(rng, s, size, seconds, model)
        if index == 0:
            cand = apply(shift, cand)
        order.setdefault(s.journey, []).append((s.step, s.touchpoint))
        for target, values in (("baseline", base), ("candidate", cand)):
            key = SeriesKey(target, s.journey, s.step, s.touchpoint)
            store.record_many(key, values.tolist())
            per: dict[int, list[float]] = {}
            for t, v in zip((second + START).tolist(), values.tolist(), strict=True):
                per.setdefault(t, []).append(v)
            windows[(target, s.journey, s.step, s.touchpoint)] = per
            if size == n:
                total = totals.setdefault((target, s.journey), np.zeros(n))
                total += values
    for (target, journey), total in totals.items():
        store.record_many(SeriesKey(target, journey, ITERATION, ""), total.tolist())
    return _counts(rng, store, windows, order, n, seconds, shift, key_journey)


def _counts(
    rng: np.random.Generator,
    store: HdrStore,
    windows: dict[tuple[str, str, str, str], dict[int, list[float]]],
    order: dict[str, list[tuple[str, str]]],
    n: int,
    seconds: int,
    shift: Shift,
    key_journey: str,
) -> RunData:
    journeys: dict[tuple[str, str], tuple[int, int]] = {}
    step_failures: dict[tuple[str, str, str, str], int] = {}
    timeline: dict[tuple[str, int], list[int]] = {}
    for journey, steps in order.items():
        for target in ("baseline", "candidate"):
            rate = BASE_ERRORS
            if target == "candidate" and shift.errors is not None:
                rate = shift.errors
            failed = int(rng.binomial(n, rate))
            journeys[(target, journey)] = (n, failed)
            last_step, touchpoint = steps[-1]
            step_failures[(target, journey, last_step, touchpoint)] = failed
            per_second = np.bincount(rng.integers(0, seconds, n), minlength=seconds)
            fails = np.bincount(rng.integers(0, seconds, failed), minlength=seconds)
            for t in range(seconds):
                row = timeline.setdefault((target, START + t), [0, 0])
                row[0] += int(per_second[t])
                row[1] += int(fails[t])
    return RunData(
        candidate="candidate",
        baseline="baseline",
        hdr=store,
        journeys=journeys,
        step_failures=step_failures,
        step_order=order,
        windows=windows,
        failed_traces={},
        slow_traces={},
        timeline=[
            {"target": target, "t": t, "iterations": i, "failures": f}
            for (target, t), (i, f) in sorted(timeline.items(), key=lambda kv: kv[0][1])
        ],
        health={"saturated": False},
        meta={"run_id": "sim", "seed": 0, "targets": {}},
    )


GATES = [g for g in DEFAULT_GATES if g["kind"] != "trace_completeness"]


def judge(data: RunData) -> tuple[Verdict, float]:
    """The verdict of the default gates (trace completeness left out: no spans are simulated)
    and the seconds `evaluate` took."""
    started = time.perf_counter()
    verdict = evaluate(data, parse_gates(GATES))
    return verdict, time.perf_counter() - started
