"""An anytime-valid latency test, fed each second: paired block differences of one step's
typical latency, judged on an asymptotic confidence sequence, so a rehearsal may stop as soon
as its verdict is decided in either direction and `--duration` becomes the maximum.

The method follows Lindon, Sanden and Shirikian, "Rapid regression detection in software
deployments through sequential testing" (KDD 2022): judge the candidate against the baseline
continuously on the histogram counts both sides already record, with a test whose error rate
holds however often it is looked at. Here the evidence is paired: both sides run the same
iterations in the same seconds, so each `block_s`-second block gives one difference of log
medians (read from its HDR bucket counts), which cancels the load both sides share. Their
running mean gets the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy
and Ramdas ("Time-uniform central limit theory and asymptotic confidence sequences", 2021):
a Gaussian-mixture boundary with the variance estimated as it goes, valid over every look once
a few blocks are in. No code is taken from either paper.

    FAIL      the sequence lies above no change, and not within the margin (significantly
              slower, not shown tolerable: the paired gate's deterioration rule)
    PASS      the sequence lies within the margin
    continue  otherwise
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: seconds per block: long enough for a stable median on both sides, short enough to decide
BLOCK_S = 10
#: blocks needed before any decision: the variance estimate needs a few, and the drift learned
#: across steps (`block_inflation`) about a minute (at 4 blocks, 4.2% of identical candidates
#: failed under the bench's strong arm drift; at 6, 1.7%)
MIN_BLOCKS = 6

Counts = tuple[Sequence[float], Sequence[int]]  #: (bucket values, counts) of one second


def weighted_median(values: Sequence[float], counts: Sequence[int]) -> float | None:
    """The median of the values recorded `counts` times each (HDR buckets); None when empty."""
    total = int(sum(counts))
    if total == 0:
        return None
    order = np.argsort(np.asarray(values, dtype=np.float64))
    v = np.asarray(values, dtype=np.float64)[order]
    c = np.cumsum(np.asarray(counts, dtype=np.int64)[order])
    return float(v[int(np.searchsorted(c, (total + 1) / 2.0))])


def boundary(k: int, alpha: float, tuned_for: int) -> float:
    """The half-width, in standard deviations of one block, of the two-sided asymptotic
    confidence sequence after `k` blocks: sqrt(2(kρ²+1)/(k²ρ²) · ln(sqrt(kρ²+1)/α)), with ρ
    making it tightest at `tuned_for` blocks (Waudby-Smith et al. 2021, eq. for ρ(t*))."""
    log_a = -2.0 * math.log(alpha)
    rho2 = (log_a + math.log(log_a + 1.0)) / tuned_for
    return math.sqrt(
        2.0 * (k * rho2 + 1.0) / (k * k * rho2) * math.log(math.sqrt(k * rho2 + 1.0) / alpha)
    )


@functools.lru_cache(maxsize=1024)
def _sd_upper(k: int) -> float:
    """The boundary is asymptotic; with a handful of blocks the plug-in sd is itself noisy (an
    identical candidate failed 4% of the time at 2.5%), so the sd is raised to its one-sided
    90% upper bound, a factor that tends to 1 as blocks come in."""
    from scipy import special

    return math.sqrt((k - 1) / float(2.0 * special.gammaincinv((k - 1) / 2.0, 0.10)))  # χ²


@dataclass
class SequentialLatency:
    """The sequential test of one step. Call `add_second` each second with both sides' bucket
    counts of that second (or `add_block` with a block's difference); read `decision`."""

    margin: float = 0.10  #: the tolerated slowdown (0.10: 10%, the paired gate's default)
    alpha: float = 0.0125  #: error rate of each direction, over every look
    #: the error rate a PASS is decided at, if not `alpha`: a verdict passes only when every
    #: step passes (an intersection-union test), so a step's pass needs no share of a split
    #: alpha; the end-of-run gate passes on its 95% interval, and 0.05 here matches it
    pass_alpha: float | None = None
    block_s: int = BLOCK_S
    min_blocks: int = MIN_BLOCKS
    tuned_for: int = 12  #: blocks at which the boundary is tightest (two minutes of 10 s)
    #: how much wider than its blocks' spread says the mean's error is: each side's own drift
    #: makes neighbouring blocks alike (`block_inflation` learns it across steps); 1: none
    inflation: float = 1.0
    diffs: list[float] = field(default_factory=list)
    decision: str = "continue"
    decided_at: int | None = None  #: blocks in when it decided
    _base: dict[float, int] = field(default_factory=dict)
    _cand: dict[float, int] = field(default_factory=dict)
    _seconds: int = 0

    def add_second(self, baseline: Counts, candidate: Counts) -> str:
        """One second of both sides' bucket counts; closes a block every `block_s` seconds."""
        for into, (values, counts) in ((self._base, baseline), (self._cand, candidate)):
            for v, n in zip(values, counts, strict=True):
                into[float(v)] = into.get(float(v), 0) + int(n)
        self._seconds += 1
        if self._seconds % self.block_s == 0:
            base = weighted_median(list(self._base), list(self._base.values()))
            cand = weighted_median(list(self._cand), list(self._cand.values()))
            self._base, self._cand = {}, {}
            if base is not None and cand is not None and base > 0 and cand > 0:
                self.add_block(math.log(cand / base))
        return self.decision

    def add_block(self, diff: float) -> str:
        """One block's log(candidate median / baseline median); returns the decision so far."""
        if self.decision != "continue":
            return self.decision
        self.diffs.append(diff)
        low = self.interval()[0]
        high = self.interval(self.pass_alpha)[1] if self.pass_alpha else self.interval()[1]
        if high <= math.log1p(self.margin):
            self.decision = "pass"
        elif low > 0.0:
            self.decision = "fail"
        if self.decision != "continue":
            self.decided_at = len(self.diffs)
        return self.decision

    def interval(self, alpha: float | None = None) -> tuple[float, float]:
        """The confidence sequence's current interval for the mean log ratio at `alpha` (the
        test's own by default; unbounded until `min_blocks` blocks are in)."""
        k = len(self.diffs)
        if k < max(self.min_blocks, 2):
            return -math.inf, math.inf
        d = np.asarray(self.diffs)
        mean, sd = float(d.mean()), float(d.std(ddof=1)) * _sd_upper(k)
        half = sd * max(self.inflation, 1.0) * boundary(k, alpha or self.alpha, self.tuned_for)
        return mean - half, mean + half


def block_inflation(seconds: Sequence[np.ndarray], block_s: int = BLOCK_S) -> float:
    """The factor by which each side's own drift widens the error of a mean of blocks, learned
    across steps: the pooled-drift error of the mean per-second difference
    (`harness.gates.drift`) over the error its `block_s`-second block means alone would give,
    the median over the steps; 1 when too few steps or seconds to learn it."""
    from harness.gates.drift import pooled_errors

    pooled = pooled_errors(seconds)
    if pooled is None:
        return 1.0
    ratios = []
    for diffs, se in zip(seconds, pooled, strict=True):
        blocks = diffs[: diffs.size // block_s * block_s].reshape(-1, block_s).mean(axis=1)
        naive = float(blocks.std(ddof=1)) / np.sqrt(blocks.size) if blocks.size >= 3 else 0.0
        if naive > 0:
            ratios.append(se / naive)
    return max(float(np.median(ratios)), 1.0) if ratios else 1.0
