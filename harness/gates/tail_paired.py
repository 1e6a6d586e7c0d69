"""Paired tail quantiles for the `tail_shift` gate, judged on exceedances: both sides run the
same iterations in the same seconds, so each second gives the share of the candidate's values
above ρ times the baseline's quantile less the share of the baseline's above its quantile. Their
mean D(ρ) falls as ρ grows and is zero where ρ is the ratio of the quantiles; the interval of
the ratio is the ρ whose D(ρ) lies within the mean's error (inverting the test, as a
distribution-free interval of a quantile does), that error judged as the paired gate's
per-second differences (each side's drift learned across steps, else Newey-West with a fixed-b
t).

Unpaired, a p95 rising 30% in its tail alone at 5,000 per side was never caught on the bench's
replayed noise: the bootstrap's interval had to clear the 20% margin, and a test against no
change would not be valid under each side's own drift, which an unpaired bootstrap takes for
sampling noise. Paired by seconds the drift shows in how the seconds wander together and is
learned, so the gate can fail a significantly higher quantile that is not shown within its
margin (the paired gate's deterioration rule). Counting exceedances also reads every value:
per-block quantiles of 100 values diluted the +30% to about +20% and caught it 0.6 of the time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from harness.gates.data import RunData
from harness.gates.paired import ROBUST_DF, Paired
from harness.telemetry.hdr import SeriesKey

#: the widest log ratio an interval reaches (e^5: about 150 times)
BOUND = 5.0
#: fewest paired seconds for a paired judgement (else the gate's unpaired rule). The mean of
#: the exceedances is near normal only over enough stretches of each side's drift: on the
#: bench's strong arm drift (10 s memory) the tail gate failed 2.0% of identical candidates at
#: 120 s and 1.3% at 45 s against its 0.6%, none of 150 at 300 s (exploratory seeds)
MIN_SECONDS = 240
#: seconds of paired exceedances that count as one independent stretch of each side's drift:
#: an exceedance responds to a drift unevenly (a threshold), so the mean of a few stretches is
#: skewed; with the normal reference a step's p95 exceeded z = 3.29 three times as often as a
#: normal under the bench's strong arm drift at 300 s (0.15%)
DRIFT_SPAN = 20


class TailBlocks:
    """One (step, quantile)'s paired exceedances per second, and the ratio's interval."""

    def __init__(
        self,
        key: SeriesKey,
        metric: str,
        q: float,
        logs: tuple[np.ndarray, np.ndarray],
        seconds: tuple[np.ndarray, np.ndarray],
        rows: int,
    ) -> None:
        self.key = key
        self.metric = metric
        self.q = q
        self.lb, self.lc = logs
        self.sb, self.sc = seconds
        self.rows = rows
        self.per_b = np.bincount(self.sb, minlength=rows).astype(np.float64)
        self.per_c = np.bincount(self.sc, minlength=rows).astype(np.float64)
        self.threshold = float(np.quantile(self.lb, q))
        above_b = np.bincount(self.sb, weights=self.lb > self.threshold, minlength=rows)
        self.base_share = above_b / self.per_b
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None
        self.paired = Paired(self.shares(0.0), self.lb.size, self.lc.size)
        self.paired.mean = self.solve(0.0)

    def shares(self, log_ratio: float) -> np.ndarray:
        """Per second: the candidate's share above the baseline's quantile times e^log_ratio,
        less the baseline's share above its quantile."""
        above = self.lc > self.threshold + log_ratio
        return np.bincount(self.sc, weights=above, minlength=self.rows) / self.per_c - (
            self.base_share
        )

    def solve(self, target: float) -> float:
        """The log ratio where the mean of `shares` falls to `target`. That mean is a sum of
        weights (one over the values of a candidate's second, over the seconds) of the values
        above the ratio's threshold, less the baseline's mean share: with the values sorted
        from the largest, the ratio sits at the value where the running weight first exceeds
        `target` plus that share (bounded to e^±5)."""
        if self._sorted is None:
            order = np.argsort(-self.lc)
            weights = 1.0 / (self.per_c[self.sc] * self.rows)
            self._sorted = (self.lc[order], np.cumsum(weights[order]))
        values, running = self._sorted
        level = target + float(self.base_share.mean())
        if level < 0.0:  # even no candidate value above the threshold leaves the mean above
            return BOUND
        k = int(np.searchsorted(running, level, side="right"))
        if k >= values.size:
            return -BOUND
        return float(np.clip(values[k] - self.threshold, -BOUND, BOUND))

    def interval(self, level: float) -> tuple[float, float]:
        """The log ratios whose mean share difference lies within `level`'s reach of zero."""
        from scipy import special

        reach = float(special.stdtrit(self.paired.df, 0.5 + level / 2.0)) * self.paired.se
        return self.solve(reach), self.solve(-reach)


def tail_blocks(data: RunData, key: SeriesKey, metric: str, q: float) -> TailBlocks | None:
    """The paired exceedances of `key` for quantile `q`; None when fewer than `MIN_SECONDS`
    seconds have values on both sides."""
    assert data.baseline is not None
    base = data.windows.get((data.baseline, key.journey, key.step, key.touchpoint), {})
    cand = data.windows.get((key.target, key.journey, key.step, key.touchpoint), {})
    both = sorted(set(base) & set(cand))
    if len(both) < MIN_SECONDS:
        return None
    logs, seconds = [], []
    for side in (base, cand):
        values = [np.asarray(side[s], dtype=np.float64) for s in both]
        logs.append(np.log(np.maximum(np.concatenate(values), 1e-6)))
        seconds.append(np.repeat(np.arange(len(both)), [v.size for v in values]))
    return TailBlocks(key, metric, q, (logs[0], logs[1]), (seconds[0], seconds[1]), len(both))


def pool(found: list[TailBlocks]) -> list[TailBlocks]:
    """Learn each side's drift across the steps, per quantile (`harness.gates.drift`); returns
    those it was learned for. Where too few steps are there to learn it, the step's own
    fixed-b error would leave a paired fail little power, so the gate keeps its unpaired rule."""
    from harness.gates.drift import pooled_errors

    pooled = []
    for q in sorted({t.q for t in found}):
        same = [t for t in found if t.q == q]
        errors = pooled_errors([t.paired.diffs for t in same])
        for t, se in zip(same, errors or [], strict=False):
            t.paired.pool(se)
            # a t reference with a degree of freedom per stretch of each side's drift
            t.paired.df = max(t.rows / DRIFT_SPAN, ROBUST_DF)
            pooled.append(t)
    return pooled


def fail_side(
    t: TailBlocks, bootstrap: Callable[[float], tuple[float, float]]
) -> Callable[[float], tuple[float, float]]:
    """The interval a tail test decides on (ratio scale): its low end paired (`t`), which a
    fail rests on, its high end the bootstrap's, which a pass rests on as before (the paired
    upper end of a p99 on one step is too wide to pass on)."""

    def interval(level: float) -> tuple[float, float]:
        return math.exp(t.interval(level)[0]), bootstrap(level)[1]

    return interval
