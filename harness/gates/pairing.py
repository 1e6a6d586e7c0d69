"""The paired unit of the paired gate: a second, an iteration, or a short block of seconds.

Both sides of a rehearsal run the same iteration with the same person, one after the other. An
API step runs many times a second on each side: most seconds hold both, and one paired
difference per second (log of the candidate's median over the baseline's) cancels the noise both
sides share that second. A web step of several seconds runs once per iteration on each side, one
side's whole journey after the other's (the order alternating), so its two values lie a journey
apart and almost never in the same second: such a step had "0 paired seconds" and was never
judged. It is paired by iteration instead: the two sides' values of one iteration (the same
virtual user, iteration number and synthetic person) give one difference. Where the records say
no iteration (a live view, two stored runs compared), the unit is the shortest block of
`BLOCKS_S` seconds in which most of the blocks that hold the step hold it on both sides.

A step's unit depends only on when and where its values fell, never on their size, so the
choice does not bias the test. Each side's own drift is what the error must cover: the drift
learned across steps (`harness.gates.drift`) assumes one-second units, so only steps paired by
the second are pooled there; a step paired by iteration or by blocks keeps its own Newey-West
error over its units in time order, with the fixed-b t reference of `Paired` (bandwidth n/5, 4
degrees of freedom), which held a simulated identical candidate at or under its nominal
false-FAIL rate (tests/unit/test_gates_pairing.py).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Literal

import numpy as np

from harness.gates.data import RunData, Sample
from harness.gates.paired import Paired
from harness.telemetry.hdr import SeriesKey

#: block lengths tried when there are no iterations to pair by, shortest first (seconds)
BLOCKS_S: tuple[int, ...] = (1, 2, 5, 10, 15, 30)
#: the share of a step's occupied seconds (or blocks) that must hold both sides to pair by them
MOST = 0.5

Windows = dict[int, list[float]]
Unit = Literal["second", "iteration", "block"]


class PairedUnits(Paired):
    """`Paired` differences of one step, and what they pair: seconds, iterations or blocks of
    `block_s` seconds."""

    def __init__(
        self,
        diffs: np.ndarray,
        n_baseline: int,
        n_candidate: int,
        *,
        unit: Unit = "second",
        block_s: int = 1,
        robust: bool = True,
    ) -> None:
        super().__init__(diffs, n_baseline, n_candidate, robust=robust)
        self.unit = unit
        self.block_s = block_s

    @property
    def counts(self) -> str:
        """What n counts: "paired seconds", "paired iterations", "paired blocks of 5 s"."""
        if self.unit == "block":
            return f"paired blocks of {self.block_s} s"
        return f"paired {self.unit}s"

    def over(self) -> str:
        """The pairing in words: "120 seconds", "24 iterations", "36 blocks of 5 s"."""
        if self.unit == "block":
            return f"{self.n} blocks of {self.block_s} s"
        return f"{self.n} {self.unit}s"

    @property
    def per_second(self) -> bool:
        """Paired by the second (the unit the drift pooled across steps is learned on)."""
        return self.unit == "second"


def _log_ratio(cand: list[float], base: list[float]) -> float:
    return math.log(max(statistics.median(cand), 1e-6) / max(statistics.median(base), 1e-6))


def _matched_log_ratio(cand: list[float], base: list[float]) -> float:
    """One iteration's values in the order they were taken (a step's navigations: cart,
    checkout page, order page): the mean log ratio of each pair where both sides took as many,
    so a page that alone slowed down counts (a median of three would hide it), else the
    medians'."""
    if len(cand) != len(base) or len(cand) == 1:
        return _log_ratio(cand, base)
    return float(np.mean(np.log(np.maximum(cand, 1e-6) / np.maximum(base, 1e-6))))


def _units(base: Windows, cand: Windows, unit: Unit, block_s: int, *, robust: bool) -> PairedUnits:
    both = sorted(set(base) & set(cand))
    ratio = _matched_log_ratio if unit == "iteration" else _log_ratio
    diffs = [ratio(cand[s], base[s]) for s in both]
    return PairedUnits(
        np.array(diffs, dtype=np.float64),
        sum(len(base[s]) for s in both),
        sum(len(cand[s]) for s in both),
        unit=unit,
        block_s=block_s,
        robust=robust,
    )


def mostly_both(base: Windows, cand: Windows, block_s: int = 1) -> bool:
    """Whether at least `MOST` of the blocks of `block_s` seconds holding the step on either
    side hold it on both."""
    if not base or not cand:
        return False
    origin = min(min(base), min(cand))
    b = {(s - origin) // block_s for s in base}
    c = {(s - origin) // block_s for s in cand}
    return len(b & c) >= MOST * len(b | c)


def block_length(base: Windows, cand: Windows) -> int:
    """The shortest of `BLOCKS_S` in which `mostly_both` holds; else the one with the most
    blocks holding both sides (the shortest of equals)."""
    if not base or not cand:
        return 1
    origin = min(min(base), min(cand))
    best, most = 1, -1
    for block_s in BLOCKS_S:
        if mostly_both(base, cand, block_s):
            return block_s
        b = {(s - origin) // block_s for s in base}
        both = len(b & {(s - origin) // block_s for s in cand})
        if both > most:
            best, most = block_s, both
    return best


def blocked(windows: Windows, block_s: int, origin: int) -> Windows:
    """Per-second values merged into blocks of `block_s` seconds counted from `origin`."""
    out: Windows = {}
    for second, values in windows.items():
        out.setdefault((second - origin) // block_s, []).extend(values)
    return out


def by_iteration(
    base: dict[tuple[int, int, int], Sample], cand: dict[tuple[int, int, int], Sample]
) -> tuple[Windows, Windows]:
    """The iterations both sides ran, numbered in the order they started (the earlier side's
    start), as windows of one unit each."""
    both = sorted(set(base) & set(cand), key=lambda it: min(base[it][0], cand[it][0]))
    return (
        {n: base[it][1] for n, it in enumerate(both)},
        {n: cand[it][1] for n, it in enumerate(both)},
    )


def paired_units(data: RunData, key: SeriesKey, *, robust: bool = True) -> PairedUnits:
    """A step's paired differences, each log(candidate median / baseline median) of one unit
    (medians: a slow tail moves the typical latency little): per second where most seconds
    holding the step hold both sides, else per iteration where the records say them (the mean
    log ratio of values taken in the same order, as a step's navigations), else per block
    (`block_length`)."""
    assert data.baseline is not None
    side = (key.journey, key.step, key.touchpoint)
    base = data.windows.get((data.baseline, *side), {})
    cand = data.windows.get((key.target, *side), {})
    if not base or not cand or mostly_both(base, cand):
        return _units(base, cand, "second", 1, robust=robust)
    iterations = (
        data.iterations.get((data.baseline, *side), {}),
        data.iterations.get((key.target, *side), {}),
    )
    if iterations[0] and iterations[1]:
        return _units(*by_iteration(*iterations), "iteration", 1, robust=robust)
    block_s = block_length(base, cand)
    origin = min(min(base), min(cand))
    base, cand = blocked(base, block_s, origin), blocked(cand, block_s, origin)
    return _units(base, cand, "second" if block_s == 1 else "block", block_s, robust=robust)


def pool_seconds(pairs: Sequence[Paired]) -> None:
    """Give the steps paired by the second the error learned from all of their drift
    (`harness.gates.drift`); steps paired by iteration or block keep their own."""
    from harness.gates.drift import pooled_errors

    seconds = [p for p in pairs if getattr(p, "per_second", True)]
    errors = pooled_errors([p.diffs for p in seconds])
    for paired, se in zip(seconds, errors or [], strict=False):
        paired.pool(se)
