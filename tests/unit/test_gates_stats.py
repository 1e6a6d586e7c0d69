"""Unit tests for harness.gates.stats against published values and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from harness.gates import stats
from harness.gates.stats import (
    Interval,
    bootstrap_quantile_ratio,
    burn_rate,
    exact_one_sided_drop,
    newcombe_difference,
    quantile,
    sequential_error_split,
    shift_function,
    wilson_interval,
)


def test_public_api_is_pinned() -> None:
    assert stats.__all__ == sorted(stats.__all__)
    assert set(stats.__all__) == {
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
    }


# --- quantile ---------------------------------------------------------------------------


def test_quantile_is_r_type_7() -> None:
    assert quantile(np.array([1.0, 2.0, 3.0, 4.0]), 0.5) == 2.5
    # R: quantile(1:10, 0.95) == 9.55 (type 7)
    assert quantile(np.arange(1.0, 11.0), 0.95) == pytest.approx(9.55)
    assert quantile(np.array([7.0]), 0.99) == 7.0


@pytest.mark.parametrize("values, q", [([], 0.5), ([1.0], 1.5), ([1.0], -0.1), ([np.nan], 0.5)])
def test_quantile_rejects_bad_input(values: list[float], q: float) -> None:
    with pytest.raises(ValueError):
        quantile(np.array(values), q)


# --- Wilson and Newcombe -----------------------------------------------------------------

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3.
WILSON_PUBLISHED = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize("s, n, low, high", WILSON_PUBLISHED)
def test_wilson_matches_published_values(s: int, n: int, low: float, high: float) -> None:
    interval = wilson_interval(s, n)
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)
    assert interval.level == 0.95


def test_wilson_widens_with_level_and_handles_no_trials() -> None:
    narrow, wide = wilson_interval(30, 100, level=0.9), wilson_interval(30, 100, level=0.99)
    assert wide.low < narrow.low < 0.3 < narrow.high < wide.high
    assert wilson_interval(0, 0) == Interval(0.0, 1.0, 0.95)
    assert wilson_interval(10, 10).high == 1.0


@pytest.mark.parametrize("s, n, level", [(-1, 10, 0.95), (11, 10, 0.95), (1, 10, 1.0)])
def test_wilson_rejects_bad_input(s: int, n: int, level: float) -> None:
    with pytest.raises(ValueError):
        wilson_interval(s, n, level=level)


# Newcombe (1998), "Interval estimation for the difference between independent proportions",
# Table II, method 10, for p1 - p2 with (s1, n1) first. Our function returns p2 - p1 with
# (s1, n1) the baseline, so the published p1 is our candidate (second pair).
# Note: 56/70 vs 48/80 is a difference of 0.2000 with interval (0.0524, 0.3339).
NEWCOMBE_PUBLISHED = [
    (56, 70, 48, 80, 0.2000, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.6000, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.5714, 0.0582, 0.8062),
    (5, 56, 0, 29, 0.0893, -0.0381, 0.1926),
    (0, 10, 0, 20, 0.0000, -0.1611, 0.2775),
    (0, 10, 0, 10, 0.0000, -0.2775, 0.2775),
]


@pytest.mark.parametrize("s_a, n_a, s_b, n_b, diff, low, high", NEWCOMBE_PUBLISHED)
def test_newcombe_matches_published_values(
    s_a: int, n_a: int, s_b: int, n_b: int, diff: float, low: float, high: float
) -> None:
    # Published p1 = s_a/n_a is the candidate; p2 = s_b/n_b the baseline.
    d, interval = newcombe_difference(s_b, n_b, s_a, n_a)
    assert d == pytest.approx(diff, abs=5e-5)
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)


def test_newcombe_difference_is_candidate_minus_baseline() -> None:
    d, interval = newcombe_difference(48, 80, 56, 70)  # baseline 60%, candidate 80%
    flipped_d, flipped = newcombe_difference(56, 70, 48, 80)
    assert d == pytest.approx(0.2)
    assert flipped_d == pytest.approx(-0.2)
    assert flipped.low == pytest.approx(-interval.high)
    assert flipped.high == pytest.approx(-interval.low)


def test_newcombe_rejects_empty_side() -> None:
    with pytest.raises(ValueError, match="at least one trial"):
        newcombe_difference(0, 0, 1, 10)


# --- Fisher exact, one-sided ------------------------------------------------------------


def test_exact_drop_is_small_when_candidate_converts_worse() -> None:
    assert exact_one_sided_drop(50, 100, 20, 100) < 1e-4
    assert exact_one_sided_drop(20, 100, 50, 100) > 0.999


def test_exact_drop_equals_hypergeometric_tail() -> None:
    s_base, n_base, s_cand, n_cand = 18, 40, 9, 35
    # Baseline successes among all successes, drawn as n_base of the pooled trials.
    expected = sps.hypergeom.sf(s_base - 1, n_base + n_cand, s_base + s_cand, n_base)
    assert exact_one_sided_drop(s_base, n_base, s_cand, n_cand) == pytest.approx(expected)


def test_exact_drop_without_trials_is_one() -> None:
    assert exact_one_sided_drop(0, 0, 3, 10) == 1.0


# --- burn rate --------------------------------------------------------------------------


def test_burn_rate() -> None:
    assert burn_rate(10, 1000, 0.99) == pytest.approx(1.0)
    assert burn_rate(144, 10000, 0.999) == pytest.approx(14.4)
    assert burn_rate(0, 0, 0.999) == 0.0


@pytest.mark.parametrize("errors, total, slo", [(5, 4, 0.99), (-1, 4, 0.99), (1, 4, 1.0)])
def test_burn_rate_rejects_bad_input(errors: int, total: int, slo: float) -> None:
    with pytest.raises(ValueError):
        burn_rate(errors, total, slo)


# --- sequential e-value -----------------------------------------------------------------


def test_e_value_closed_forms() -> None:
    assert sequential_error_split(0, 0, 0.3) == 1.0
    assert sequential_error_split(1, 0, 0.5) == pytest.approx(1.0)  # B(2,1)=1/2 over 1/2
    assert sequential_error_split(2, 0, 0.5) == pytest.approx(4 / 3)  # B(3,1)=1/3 over 1/4


def test_e_value_grows_with_imbalance() -> None:
    assert sequential_error_split(50, 50, 0.5) < 1.0
    assert sequential_error_split(100, 20, 0.5) > 1e6
    # A candidate at 10% of traffic with half the errors is far outside its share.
    assert sequential_error_split(30, 30, 0.1) >= 20
    assert sequential_error_split(10**7, 0, 0.5) == math.inf


def test_e_value_keeps_its_level_when_checked_after_every_error() -> None:
    rng = np.random.default_rng(7)
    crossed = 0
    runs = 200
    for _ in range(runs):
        k = 0
        for n in range(1, 201):
            k += int(rng.random() < 0.25)
            if sequential_error_split(k, n - k, 0.25) >= 20:
                crossed += 1
                break
    assert crossed / runs <= 0.05 + 0.03  # Ville: at most alpha, plus sampling slack


@pytest.mark.parametrize("k, b, share", [(-1, 0, 0.5), (1, 1, 0.0), (1, 1, 1.0)])
def test_e_value_rejects_bad_input(k: int, b: int, share: float) -> None:
    with pytest.raises(ValueError):
        sequential_error_split(k, b, share)


# --- bootstrap quantile ratio -----------------------------------------------------------


def test_resampled_quantiles_match_naive_resampling() -> None:
    rng = np.random.default_rng(3)
    ordered = np.sort(rng.lognormal(0.0, 0.6, 30))
    q, draws = 0.95, 20000
    fast = stats._bootstrap_quantiles(ordered, q, draws, np.random.default_rng(4))
    index = np.random.default_rng(5).integers(0, ordered.size, size=(draws, ordered.size))
    naive = np.quantile(ordered[index], q, axis=1)
    assert fast.mean() == pytest.approx(naive.mean(), rel=0.01)
    assert fast.std() == pytest.approx(naive.std(), rel=0.03)
    for p in (0.025, 0.5, 0.975):
        assert np.quantile(fast, p) == pytest.approx(np.quantile(naive, p), rel=0.03)


def test_bootstrap_estimate_is_the_plain_ratio_and_is_seeded() -> None:
    rng = np.random.default_rng(11)
    base, cand = rng.lognormal(0, 0.6, 500), rng.lognormal(0.1, 0.6, 700)
    estimate, interval = bootstrap_quantile_ratio(base, cand, 0.9, resamples=500, seed=1)
    assert estimate == pytest.approx(np.quantile(cand, 0.9) / np.quantile(base, 0.9))
    assert interval.low < estimate < interval.high
    assert bootstrap_quantile_ratio(base, cand, 0.9, resamples=500, seed=1)[1] == interval
    assert bootstrap_quantile_ratio(base, cand, 0.9, resamples=500, seed=2)[1] != interval


def test_bootstrap_interval_covers_the_true_ratio() -> None:
    true_ratio, covered, runs = 1.2, 0, 60
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        base = rng.lognormal(0.0, 0.6, 1000)
        cand = true_ratio * rng.lognormal(0.0, 0.6, 1000)
        _, interval = bootstrap_quantile_ratio(base, cand, 0.95, resamples=400, seed=seed)
        covered += interval.contains(true_ratio)
    assert covered / runs >= 0.88  # nominal 0.95


def test_bootstrap_handles_200k_per_side() -> None:
    # Speed is measured in bench/, never asserted in a test (shared, noisy machines).
    rng = np.random.default_rng(0)
    base, cand = rng.lognormal(0, 0.6, 200_000), rng.lognormal(0, 0.6, 200_000)
    _, interval = bootstrap_quantile_ratio(base, cand, 0.99)
    assert interval.low < 1.0 < interval.high
    assert interval.high - interval.low < 0.05


def test_bootstrap_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        bootstrap_quantile_ratio(np.array([]), np.array([1.0]), 0.5)
    with pytest.raises(ValueError, match="is 0"):
        bootstrap_quantile_ratio(np.zeros(10), np.ones(10), 0.5)
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_quantile_ratio(np.ones(10), np.ones(10), 0.5, resamples=0)


# --- shift function ---------------------------------------------------------------------


def test_shift_function_sees_a_uniform_shift_at_every_decile() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(10.0, 1.0, 2000)
    cand = rng.normal(11.0, 1.0, 2000)
    rows = shift_function(base, cand, resamples=400)
    assert [q for q, _, _ in rows] == pytest.approx([0.1 * i for i in range(1, 10)])
    for q, difference, interval in rows:
        assert difference == pytest.approx(np.quantile(cand, q) - np.quantile(base, q))
        assert 0.0 < interval.low < difference < interval.high


def test_shift_function_locates_a_tail_change() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(10.0, 1.0, 3000)
    cand = rng.normal(10.0, 1.0, 3000)
    cand[cand > 11.0] += 2.0
    rows = {round(q, 1): interval for q, _, interval in shift_function(base, cand, resamples=400)}
    assert rows[0.5].contains(0.0)
    assert rows[0.9].low > 1.0
