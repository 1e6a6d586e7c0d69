"""Statistics for release gates: quantile ratios, proportions, burn rates and a sequential test.

Every function is pure: arrays or integers in, floats and frozen dataclasses out. Sources:
Wilson (1927), Newcombe (1998, method 10), the SRE workbook burn rates, and Beta-mixture e-values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

__all__ = [
    "DEFAULT_SHIFT_QUANTILES",
    "Interval",
    "bootstrap_quantile_ratio",
    "bootstrap_ratio_draws",
    "burn_rate",
    "exact_one_sided_drop",
    "newcombe_difference",
    "percentile_interval",
    "quantile",
    "sequential_error_split",
    "shift_function",
    "wilson_interval",
]

DEFAULT_SHIFT_QUANTILES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

# The largest x for which math.exp(x) is finite.
_MAX_LOG = math.log(np.finfo(np.float64).max)


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval `[low, high]` at confidence `level` (e.g. 0.95)."""

    low: float
    high: float
    level: float

    def contains(self, value: float) -> bool:
        """True when `low <= value <= high`."""
        return self.low <= value <= self.high


def _sample(values: npt.ArrayLike, what: str) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise ValueError(f"{what} is empty; at least one value is needed")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} holds NaN or infinite values; drop them before the test")
    return array


def _check_level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be strictly between 0 and 1, got {level!r}")
    return level


def _check_q(q: float) -> float:
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be between 0 and 1 (e.g. 0.95 for p95), got {q!r}")
    return q


def _z(level: float) -> float:
    """The two-sided normal critical value for `level` (1.959964 for 0.95)."""
    return float(special.ndtri(0.5 + _check_level(level) / 2.0))


def quantile(values: npt.ArrayLike, q: float) -> float:
    """The `q`-quantile of `values` by R's type 7 (numpy's default `linear` method).

    Raises ValueError if `values` is empty or not finite, or `q` is outside [0, 1].
    """
    return float(np.quantile(_sample(values, "values"), _check_q(q)))


def _bootstrap_quantiles(
    ordered: npt.NDArray[np.float64], q: float, resamples: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """The R-7 `q`-quantile of `resamples` bootstrap resamples of the sorted array `ordered`.

    A resample of the empirical distribution is `x_(ceil(n·U))` for uniform U, a monotone map,
    so the resample's k-th order statistic is `x_(ceil(n·U_(k)))` with `U_(k)` the k-th of n
    uniforms: `U_(k) ~ Beta(k, n-k+1)`, and given it `U_(k+1) = U_(k) + (1-U_(k))·Beta(1, n-k)`.
    Drawing those two is exact in distribution and costs O(resamples), not O(n·resamples).
    """
    n = ordered.size
    h = (n - 1) * q
    k = math.floor(h)  # 0-based index of the lower order statistic used by R-7
    frac = h - k

    def pick(u: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        index = np.clip(np.ceil(n * u).astype(np.int64) - 1, 0, n - 1)
        return ordered[index]

    u_low = rng.beta(k + 1, n - k, size=resamples)
    low = pick(u_low)
    if frac == 0.0 or k + 1 >= n:
        return low
    u_high = u_low + (1.0 - u_low) * rng.beta(1, n - k - 1, size=resamples)
    return low + frac * (pick(u_high) - low)


def bootstrap_quantile_ratio(
    baseline: npt.ArrayLike,
    candidate: npt.ArrayLike,
    q: float,
    *,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, Interval]:
    """The ratio `quantile(candidate, q) / quantile(baseline, q)` and its bootstrap interval.

    Returns `(estimate, interval)`: the percentile-bootstrap interval at `level`, resampling
    each side independently. Resampled quantiles are drawn exactly from order statistics (see
    `_bootstrap_quantiles`), so the cost does not grow with the sample size beyond one sort.
    A resample whose baseline quantile is 0 gives an infinite or NaN ratio; use positive data.

    Raises ValueError for an empty or non-finite sample, `q` outside [0, 1], `level` outside
    (0, 1), `resamples < 1`, or a baseline quantile of 0.
    """
    _check_level(level)
    estimate, ratios = bootstrap_ratio_draws(baseline, candidate, q, resamples=resamples, seed=seed)
    return estimate, percentile_interval(ratios, level)


def bootstrap_ratio_draws(
    baseline: npt.ArrayLike,
    candidate: npt.ArrayLike,
    q: float,
    *,
    resamples: int = 20_000,
    seed: int = 0,
) -> tuple[float, npt.NDArray[np.float64]]:
    """The ratio of `q`-quantiles (candidate / baseline) and its sorted bootstrap draws, from
    which `percentile_interval` gives the interval at any level (for Holm's step-down).
    Raises ValueError as `bootstrap_quantile_ratio` does."""
    base = np.sort(_sample(baseline, "baseline sample"))
    cand = np.sort(_sample(candidate, "candidate sample"))
    _check_q(q)
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples!r}")
    base_q = float(np.quantile(base, q))
    if base_q == 0.0:
        raise ValueError(f"the baseline {q:g}-quantile is 0, so a ratio to it is undefined")
    estimate = float(np.quantile(cand, q)) / base_q
    rng = np.random.default_rng(seed)
    base_star = _bootstrap_quantiles(base, q, resamples, rng)
    cand_star = _bootstrap_quantiles(cand, q, resamples, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = cand_star / base_star
    return estimate, np.sort(ratios)


def percentile_interval(draws: npt.NDArray[np.float64], level: float) -> Interval:
    """The two-sided percentile interval at `level` of bootstrap `draws`."""
    alpha = 1.0 - _check_level(level)
    low, high = np.quantile(draws, [alpha / 2.0, 1.0 - alpha / 2.0])
    return Interval(float(low), float(high), level)


def shift_function(
    baseline: npt.ArrayLike,
    candidate: npt.ArrayLike,
    *,
    quantiles: tuple[float, ...] = DEFAULT_SHIFT_QUANTILES,
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> list[tuple[float, float, Interval]]:
    """The shift function: how much each quantile moved from baseline to candidate.

    Returns one `(q, candidate_q - baseline_q, interval)` per entry of `quantiles`, using plain
    R-7 quantiles (not Harrell-Davis) and a pointwise percentile-bootstrap interval at `level`
    for each difference (no correction for looking at several quantiles at once).

    Raises ValueError as `bootstrap_quantile_ratio` does (a zero quantile is fine here).
    """
    base = np.sort(_sample(baseline, "baseline sample"))
    cand = np.sort(_sample(candidate, "candidate sample"))
    _check_level(level)
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples!r}")
    rng = np.random.default_rng(seed)
    alpha = 1.0 - level
    rows: list[tuple[float, float, Interval]] = []
    for q in quantiles:
        _check_q(q)
        difference = float(np.quantile(cand, q) - np.quantile(base, q))
        star = _bootstrap_quantiles(cand, q, resamples, rng) - _bootstrap_quantiles(
            base, q, resamples, rng
        )
        low, high = np.quantile(star, [alpha / 2.0, 1.0 - alpha / 2.0])
        rows.append((q, difference, Interval(float(low), float(high), level)))
    return rows


def _check_count(successes: int, n: int) -> None:
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes!r}, n={n!r}")


def wilson_interval(successes: int, n: int, *, level: float = 0.95) -> Interval:
    """The Wilson score interval for the proportion `successes / n`.

    Returns `Interval(0, 1, level)` when `n == 0` (no information).
    Raises ValueError unless `0 <= successes <= n`, or if `level` is outside (0, 1).
    """
    _check_count(successes, n)
    z = _z(level)
    if n == 0:
        return Interval(0.0, 1.0, level)
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At p = 0 (or 1) the bound is exactly 0 (or 1); rounding would leave it a hair off.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(low, high, level)


def newcombe_difference(
    s1: int, n1: int, s2: int, n2: int, *, level: float = 0.95
) -> tuple[float, Interval]:
    """The difference `p2 - p1` (candidate minus baseline) with Newcombe's hybrid score interval.

    Newcombe (1998) method 10: the Wilson intervals `(l1, u1)`, `(l2, u2)` of each proportion
    combine as `d - sqrt((p2-l2)² + (u1-p1)²)` to `d + sqrt((u2-p2)² + (p1-l1)²)`.
    Returns `(difference, interval)`.

    Raises ValueError if either side has `n == 0` or counts outside `0 <= s <= n`.
    """
    _check_count(s1, n1)
    _check_count(s2, n2)
    if n1 == 0 or n2 == 0:
        raise ValueError(f"both sides need at least one trial, got n1={n1}, n2={n2}")
    p1, p2 = s1 / n1, s2 / n2
    w1 = wilson_interval(s1, n1, level=level)
    w2 = wilson_interval(s2, n2, level=level)
    d = p2 - p1
    low = d - math.hypot(p2 - w2.low, w1.high - p1)
    high = d + math.hypot(w2.high - p2, p1 - w1.low)
    return d, Interval(low, high, level)


def exact_one_sided_drop(s_base: int, n_base: int, s_cand: int, n_cand: int) -> float:
    """The one-sided Fisher exact p-value that the candidate's success rate is lower.

    The 2×2 table has baseline in the first row and candidate in the second, successes in the
    first column; the alternative is an odds ratio above 1 (baseline converts better).
    Returns 1.0 when either side has no trials.
    Raises ValueError for counts outside `0 <= s <= n`.
    """
    _check_count(s_base, n_base)
    _check_count(s_cand, n_cand)
    if n_base == 0 or n_cand == 0:
        return 1.0
    from scipy import stats as sps  # 0.6 s to import: only when a table needs it

    table = [[s_base, n_base - s_base], [s_cand, n_cand - s_cand]]
    result = sps.fisher_exact(table, alternative="greater")
    return float(result.pvalue)


def burn_rate(errors: int, total: int, slo: float) -> float:
    """The error-budget burn rate `(errors / total) / (1 - slo)`; 0.0 when `total == 0`.

    1.0 spends the budget exactly over the SLO period; 14.4 spends 2% of a 30-day budget in an
    hour. Raises ValueError unless `0 <= errors <= total` and `0 < slo < 1` (e.g. 0.999).
    """
    if not 0.0 < slo < 1.0:
        raise ValueError(f"slo must be a fraction strictly between 0 and 1 (e.g. 0.999), got {slo}")
    _check_count(errors, total)
    if total == 0:
        return 0.0
    return (errors / total) / (1.0 - slo)


def sequential_error_split(
    candidate_errors: int, baseline_errors: int, candidate_share: float
) -> float:
    """The anytime-valid e-value that the candidate gets more than its share of the errors.

    Given n errors in all, the candidate's k ~ Binomial(n, ρ) under the null, ρ being the
    candidate's traffic share. Against a uniform Beta(1, 1) mixture of alternatives:
    `e = B(1+k, 1+n-k) / B(1, 1) / (ρ^k (1-ρ)^(n-k))`, computed in log space. Reject at
    `e >= 1/alpha`; the test stays valid however often it is evaluated. It is two-sided in
    effect (a candidate with too few errors also scores high), so callers check the direction.

    Returns e (1.0 with no errors; `inf` past float range).
    Raises ValueError for negative counts or `candidate_share` outside (0, 1).
    """
    if candidate_errors < 0 or baseline_errors < 0:
        raise ValueError(
            f"error counts cannot be negative, got {candidate_errors=}, {baseline_errors=}"
        )
    if not 0.0 < candidate_share < 1.0:
        raise ValueError(
            f"candidate_share must be strictly between 0 and 1, got {candidate_share!r}"
        )
    k, n = candidate_errors, candidate_errors + baseline_errors
    log_e = float(
        special.betaln(1 + k, 1 + n - k)
        - special.betaln(1, 1)
        - (k * math.log(candidate_share) + (n - k) * math.log1p(-candidate_share))
    )
    return math.inf if log_e > _MAX_LOG else math.exp(log_e)


def poisson_upper(count: float) -> float:
    """A generous upper bound on a Poisson count's mean from one observation of it (three
    standard deviations, plus three for a count of zero)."""
    return count + 3.0 * math.sqrt(count) + 3.0
