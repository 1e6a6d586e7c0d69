"""How much each side's own drift adds to the error of a paired mean, learned from every step of
the run at once.

Per-second paired differences d_t of a step are white noise (the requests of that second) plus
the difference of the two sides' own slow wander (a slower host for half a minute), which the
pairing cannot cancel. With a memory of ten seconds or more, one two-minute step holds a
handful of independent stretches: its own autocovariances cannot tell how slowly the drift
decays, and a Newey-West error from them understates the truth (1.7× at a plug-in lag of 4) or,
made robust by fixed-b critical values, leaves little power. Every step of the run shares the
same sides, so their autocovariances at lags 1..K (where white noise contributes nothing) are
pooled and fitted as an AR(1) drift of variance a and memory φ, whose sample autocovariances
are expected at a·(φ^k − f(φ, n)/n): each lag loses the variance of the step's own mean, which
is what hides a slow drift from a short run. What the drift adds to n · Var(mean), a·f(φ, n),
is then taken at a one standard error jackknife upper bound over the steps, and each step's
error of its mean is its own white-noise part plus that.

Weak drift is poorly identified: on the bench's replay of a quiet sandbox recording (1,000 a
side over 120 s, each side's own 5% AR(1) drift) the fitted drift's part varies from run to
run by about its own mean, so at the fitted value a step failed an identical candidate 4.6
times as often as nominal. The bound trades that against power (two samples of 1,000 replays
a noise model, the paired gate's 1.04% end-of-run share over 13 steps): at 1.5 standard errors
the gate alone failed 0.7-0.9% of identical candidates under arm drift and 0.5-1.4% under
strong arm drift, and caught a +20% step 0.73-0.74 of the time; at 1.0, 1.3-1.4%, 0.9-1.7%
and 0.78-0.79 (the verdict's A/A stays within its 2.5%: bench/gates_power.py); with the
error known, 0.88. What is left of the gap is the price of learning the drift from one run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: lags fitted
LAGS = 20
#: fewest lags fitted (a step needs three paired seconds a lag)
MIN_LAGS = 6
#: fewest steps (with at least 3 · MIN_LAGS paired seconds each) for a pooled fit
MIN_STEPS = 5
#: jackknife standard errors added to the drift's fitted part of the error
UPPER = 1.0
_GRID = np.linspace(0.0, 0.98, 50)


def _autocov(diffs: np.ndarray) -> np.ndarray:
    n = diffs.size
    c = diffs - diffs.mean()
    lags = min(LAGS, n // 3)
    return np.array([float(c @ c) / n] + [float(c[k:] @ c[:-k]) / n for k in range(1, lags + 1)])


def mean_factor(phi: float, n: int) -> float:
    """n · Var(mean of n values) / Var(one value) of an AR(1) with coefficient φ (exact)."""
    if phi <= 0.0:
        return 1.0
    return (1 + phi) / (1 - phi) - 2 * phi * (1 - phi**n) / (n * (1 - phi) ** 2)


def _shape(phi: float, n: int) -> np.ndarray:
    """E[sample autocovariance at lags 1..LAGS] / a for an AR(1) drift of variance a: φ^k less
    the variance of the centring mean, which every lag loses."""
    return phi ** np.arange(1, min(LAGS, n // 3) + 1) - mean_factor(phi, n) / n


def _scale(phi: float, n: int, lagged: np.ndarray) -> float:
    x = _shape(phi, n)
    return max(float(x @ lagged) / float(x @ x), 0.0)


def _fit(lagged: np.ndarray, n: int) -> float:
    """The memory φ of the AR(1) drift whose expected sample autocovariances best fit
    `lagged` (least squares over a grid, the variance solved at each φ)."""
    best, found = np.inf, 0.0
    for phi in _GRID:
        a = _scale(float(phi), n, lagged)
        residual = float(np.sum((a * _shape(float(phi), n) - lagged) ** 2))
        if residual < best:
            best, found = residual, float(phi)
    return found


def pooled_errors(steps: Sequence[np.ndarray]) -> list[float] | None:
    """The standard error of each step's mean paired difference, with the drift learned from
    all of them; None when too few steps have enough paired seconds to learn it."""
    if len(steps) < MIN_STEPS or min(d.size for d in steps) < 3 * MIN_LAGS:
        return None
    shortest = min(d.size for d in steps)
    covs = np.array([_autocov(d)[: min(LAGS, shortest // 3) + 1] for d in steps])
    sizes = np.array([d.size for d in steps], dtype=np.float64)
    return errors_of(covs, sizes)


def _drift(covs: np.ndarray, weights: np.ndarray, n: int) -> tuple[float, float]:
    """(a, what the drift adds to n · Var(mean)) fitted on the steps' autocovariances. A drift
    with no memory (φ = 0) is white noise, part of every step's own variance, so a is capped
    there at the smallest: its expected lags are only the centring's −a/n, and fitting the
    lags' noise (negative lags, which no AR(1) drift gives) by that shape multiplied it by n
    (an identical 3-minute sandbox rehearsal on a busy machine: a 0.57 against step variances
    near 0.2, every step's interval ±12% where its own seconds said ±5%). With memory the fit
    is kept: capping it there too let the gate fail 1.8% of identical candidates under the
    bench's arm drift instead of 1.4%."""
    lagged = (covs[:, 1:] * weights[:, None]).sum(0) / weights.sum()
    phi = _fit(lagged, n)
    a = _scale(phi, n, lagged)
    if phi == 0.0:
        a = min(a, float(covs[:, 0].min()))
    return a, a * mean_factor(phi, n)


def errors_of(covs: np.ndarray, sizes: np.ndarray) -> list[float]:
    """`pooled_errors` from each step's autocovariances at lags 0..K and its paired seconds."""
    n = int(sizes.min())
    m = len(covs)
    a, lrv = _drift(covs, sizes, n)
    leave_out = [_drift(np.delete(covs, i, 0), np.delete(sizes, i), n)[1] for i in range(m)]
    spread = float(np.sqrt((m - 1) / m * np.sum((np.array(leave_out) - np.mean(leave_out)) ** 2)))
    lrv += UPPER * spread
    return [
        float(np.sqrt((max(float(cov[0]) - a, 0.0) + lrv) / size))
        for cov, size in zip(covs, sizes, strict=True)
    ]
