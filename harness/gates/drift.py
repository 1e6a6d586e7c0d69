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
    weights = np.array([d.size for d in steps], dtype=np.float64)
    lagged = (covs[:, 1:] * weights[:, None]).sum(0) / weights.sum()
    n = shortest
    m = len(steps)
    phi = _fit(lagged, n)
    a = _scale(phi, n, lagged)
    lrv = a * mean_factor(phi, n)  # the drift's part of n · Var(mean)
    leave_out = []
    for i in range(m):
        rest = np.delete(covs, i, 0)[:, 1:].T @ np.delete(weights, i) / (weights.sum() - weights[i])
        phi_i = _fit(rest, n)
        leave_out.append(_scale(phi_i, n, rest) * mean_factor(phi_i, n))
    spread = float(np.sqrt((m - 1) / m * np.sum((np.array(leave_out) - np.mean(leave_out)) ** 2)))
    lrv += UPPER * spread
    out = []
    for d, cov in zip(steps, covs, strict=True):
        white = max(float(cov[0]) - a, 0.0)
        out.append(float(np.sqrt((white + lrv) / d.size)))
    return out
