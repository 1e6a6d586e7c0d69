"""Unit tests for harness.gates.kayenta: Kayenta's golden vectors, classifier and scorer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats as sps

from harness.gates import kayenta
from harness.gates.kayenta import (
    DEFAULT_GROUP,
    Label,
    MannWhitneyError,
    MetricConfig,
    MetricResult,
    classify_metric,
    mann_whitney_ci,
    score,
)

DEFAULT = MetricConfig()


def test_public_api_is_pinned() -> None:
    assert kayenta.__all__ == sorted(kayenta.__all__)
    assert set(kayenta.__all__) == {
        "DEFAULT_GROUP",
        "Label",
        "MannWhitneyError",
        "MetricConfig",
        "MetricResult",
        "ScoreResult",
        "classify_metric",
        "mann_whitney_ci",
        "score",
    }


# --- Mann-Whitney interval --------------------------------------------------------------


def test_golden_vector() -> None:
    low, high, estimate = mann_whitney_ci(
        [10.0, 20.0, 30.0, 40.0], [1.0, 2.0, 3.0, 4.0], conf_level=0.95
    )
    assert low == pytest.approx(6.0, abs=1e-6)
    assert high == pytest.approx(39.0, abs=1e-6)
    assert estimate == pytest.approx(22.5, abs=1e-6)


# Kayenta's MannWhitneySuite "tie out with R version" (experiment = x, control = y, 95%).
# R's wilcox.test gives (-0.500003, -3.5e-05) and estimate -0.49994 (uniroot tol 1e-4).
TIE_OUT_CONTROL = [
    1.5, 6.0, 5.0, 2.5, 2.5, 2.0, 2.0, 3.5, 3.0, 3.0, 3.0, 2.0, 3.0, 8.0, 4.0, 2.5, 3.0, 2.5,
    2.5, 2.0, 2.5, 2.0, 2.0, 2.5, 3.5, 3.0, 1.5, 5.0, 2.5, 5.5, 2.0, 2.5, 3.5, 2.0, 2.5, 4.0,
    2.0, 2.0, 2.0, 2.0, 5.5, 4.5, 4.0, 3.0, 3.0, 3.5, 2.5, 3.0, 2.5, 4.0, 6.0, 2.0, 5.0, 6.0,
    3.5, 3.0, 54.5, 3.0, 5.0, 6.0, 3.5, 4.5, 2.5, 2.0, 6.0, 5.0, 2.5, 3.5, 2.0, 3.0, 2.5, 3.5,
    3.5, 2.5, 3.0, 4.5, 3.0, 15.5, 5.0, 2.5, 3.0, 4.0, 3.5, 4.0, 4.0, 2.0, 4.5, 2.5, 4.0, 3.0,
]  # fmt: skip
TIE_OUT_EXPERIMENT = [
    2.5, 2.5, 2.0, 2.5, 3.5, 2.0, 3.5, 1.5, 3.0, 3.0, 2.5, 3.5, 2.0, 2.5, 2.0, 2.0, 5.0, 3.0,
    2.0, 1.5, 2.0, 4.0, 3.0, 2.5, 3.0, 2.0, 2.0, 2.0, 2.5, 3.5, 1.5, 1.5, 3.5, 2.0, 2.5, 2.5,
    3.0, 3.5, 2.5, 6.5, 2.5, 4.0, 2.5, 3.0, 2.5, 6.5, 2.5, 3.0, 1.5, 2.0, 2.5, 3.0, 7.5, 1.5,
    2.0, 4.0, 2.5, 2.0, 2.5, 3.5, 4.0, 2.5, 3.0, 2.5, 2.0, 3.5, 3.0, 16.5, 3.0, 3.0, 7.0, 4.5,
    5.0, 2.0, 3.5, 6.0, 1.5, 3.0, 2.5, 4.0, 3.0, 1.5, 5.0, 3.0, 2.5, 5.5, 3.0, 1.5, 2.5, 6.0,
]  # fmt: skip


def test_ties_out_with_r() -> None:
    low, high, estimate = mann_whitney_ci(TIE_OUT_EXPERIMENT, TIE_OUT_CONTROL, conf_level=0.95)
    assert low == pytest.approx(-0.500003, abs=1e-4)
    assert high == pytest.approx(-3.5e-5, abs=1e-4)
    assert estimate == pytest.approx(-0.49994, abs=1e-4)


def test_interval_excludes_zero_exactly_when_mann_whitney_rejects() -> None:
    rng = np.random.default_rng(42)
    rejected = 0
    for i in range(200):
        nx, ny = int(rng.integers(3, 60)), int(rng.integers(3, 60))
        x = rng.normal(rng.choice([0.0, 0.3, 0.8, 1.5]), 1.0, nx)
        y = rng.normal(0.0, 1.0, ny)
        alpha = [0.02, 0.05, 0.1][i % 3]
        low, high, estimate = mann_whitney_ci(x, y, conf_level=1 - alpha)
        p = sps.mannwhitneyu(x, y, use_continuity=True, method="asymptotic").pvalue
        assert (low > 0 or high < 0) == (p < alpha), (i, low, high, p)
        assert low <= estimate <= high
        rejected += p < alpha
    assert 30 < rejected < 170  # both outcomes were exercised


def test_estimate_is_the_median_pairwise_difference() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(3.0, 1.0, 41), rng.normal(0.0, 1.0, 37)
    _, _, estimate = mann_whitney_ci(x, y)
    differences = np.sort(np.subtract.outer(x, y).ravel())
    middle = differences.size // 2
    assert differences[middle - 1] <= estimate <= differences[middle + 1]


def test_extreme_case_returns_range_ends() -> None:
    # R: wilcox.test(1, 2:60, conf.int=TRUE) needs the endpoints of the search range.
    low, high, _ = mann_whitney_ci([1.0], np.arange(2.0, 61.0))
    assert low == pytest.approx(1.0 - 60.0)
    assert high < 0


def test_single_valued_samples_get_seeded_noise() -> None:
    first = mann_whitney_ci([5.0] * 10, [3.0] * 10, seed=1)
    assert first == mann_whitney_ci([5.0] * 10, [3.0] * 10, seed=1)
    assert first != mann_whitney_ci([5.0] * 10, [3.0] * 10, seed=2)
    assert first[0] == pytest.approx(2.0, rel=1e-3)
    assert first[2] == pytest.approx(2.0, rel=1e-3)


def test_all_tied_raises() -> None:
    with pytest.raises(MannWhitneyError, match="tied"):
        mann_whitney_ci([0.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="points"):
        mann_whitney_ci([], [1.0])


# --- classify_metric: the reference's verified cases -------------------------------------


def _points(n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    control = 100.0 * (1 + 0.05 * rng.standard_normal(n))
    experiment = 100.0 * (1 + shift) * (1 + 0.05 * rng.standard_normal(n))
    return control, experiment


@pytest.mark.parametrize(
    "n, shift, config, expected",
    [
        (60, 0.10, DEFAULT, Label.HIGH),
        (60, 0.01, DEFAULT, Label.PASS),
        (2000, 0.01, DEFAULT, Label.HIGH),
        (2000, 0.01, MetricConfig(allowed_increase=1.05), Label.PASS),
    ],
)
def test_reference_classifier_cases(
    n: int, shift: float, config: MetricConfig, expected: Label
) -> None:
    for seed in range(5):
        control, experiment = _points(n, shift, seed)
        assert classify_metric("latency", control, experiment, config).label is expected


def test_sparse_errors_pass() -> None:  # Kayenta issue #426
    result = classify_metric("errors", np.zeros(6), np.array([0.0, 1, 2, 1, 0, 0]), DEFAULT)
    assert result.label is Label.PASS
    assert result.low is not None and result.low <= 0.0


def test_bimodal_experiment_passes() -> None:  # spinnaker issue #6278
    experiment = np.array([100.0] * 7 + [1.0] * 3)
    result = classify_metric("latency", np.ones(10), experiment, DEFAULT)
    assert result.label is Label.PASS
    assert result.estimate == pytest.approx(99.0)
    assert result.ratio == pytest.approx(70.3)


# --- direction, effect size, critical ---------------------------------------------------


def test_direction_limits_which_side_fails() -> None:
    control, up = _points(60, 0.10, 1)
    _, down = _points(60, -0.10, 1)
    assert classify_metric("m", control, down, DEFAULT).label is Label.LOW
    assert classify_metric("m", control, up, MetricConfig(direction="decrease")).label is Label.PASS
    assert (
        classify_metric("m", control, down, MetricConfig(direction="increase")).label is Label.PASS
    )
    assert (
        classify_metric("m", control, down, MetricConfig(direction="decrease")).label is Label.LOW
    )


def test_cles_effect_size() -> None:
    control, experiment = _points(60, 0.10, 2)
    cles = MetricConfig(effect_measure="cles", allowed_increase=0.5)
    result = classify_metric("m", control, experiment, cles)
    assert result.label is Label.HIGH
    assert result.effect is not None and 0.9 < result.effect <= 1.0
    assert result.ratio == pytest.approx(np.mean(experiment) / np.mean(control))
    never = MetricConfig(effect_measure="cles", allowed_increase=1.01)
    assert classify_metric("m", control, experiment, never).label is Label.PASS


def test_undefined_mean_ratio_leaves_the_effect_gate_open() -> None:
    result = classify_metric("m", np.zeros(30), np.arange(1.0, 31.0), DEFAULT)
    assert result.label is Label.HIGH
    assert result.effect is None and result.ratio is None


def test_critical_flags() -> None:
    control, experiment = _points(60, 0.10, 3)
    critical = classify_metric("m", control, experiment, MetricConfig(critical=True))
    assert critical.label is Label.HIGH and critical.critical
    lenient = MetricConfig(critical=True, critical_increase=1.5)
    assert not classify_metric("m", control, experiment, lenient).critical
    assert not classify_metric("m", control, experiment, DEFAULT).critical
    assert not classify_metric("m", control, control * 1.0, MetricConfig(critical=True)).critical


# --- NaN, outliers, no data, early exits ------------------------------------------------


def test_nan_remove_drops_and_replace_zeroes() -> None:
    control, experiment = _points(60, 0.0, 4)
    experiment[:50] = np.nan
    removed = classify_metric("m", control, experiment, DEFAULT)
    assert removed.n_experiment == 10 and removed.label is Label.PASS
    replaced = classify_metric("m", control, experiment, MetricConfig(nan_strategy="replace"))
    assert replaced.n_experiment == 60 and replaced.label is Label.LOW


def test_outlier_removal_uses_widened_fences() -> None:
    control, experiment = _points(100, 0.0, 5)
    experiment[0] = 1e6
    kept = classify_metric("m", control, experiment, DEFAULT)
    assert kept.n_experiment == 100
    removed = classify_metric("m", control, experiment, MetricConfig(outliers="remove"))
    assert removed.n_experiment == 99 and removed.n_control == 100
    # With factor 0 the IQR fences are Q1 and Q3, but P1 and P99 widen them: only the two
    # points beyond P1 / P99 of 100 distinct values go.
    tight = classify_metric(
        "m", control, control + 1.0, MetricConfig(outliers="remove", outlier_factor=0)
    )
    assert tight.n_control == 98


def test_no_data_labels() -> None:
    empty, points = np.array([]), np.arange(10.0)
    assert classify_metric("m", empty, points, DEFAULT).label is Label.NODATA
    assert not classify_metric("m", empty, points, DEFAULT).critical
    critical = classify_metric("m", points, np.full(5, np.nan), MetricConfig(critical=True))
    assert critical.label is Label.NODATA and critical.critical
    must = MetricConfig(must_have_data=True)
    assert classify_metric("m", empty, points, must).label is Label.NODATA_FAIL
    must_critical = MetricConfig(must_have_data=True, critical=True)
    assert classify_metric("m", empty, points, must_critical).label is Label.NODATA
    replace = MetricConfig(nan_strategy="replace")
    assert classify_metric("m", empty, points, replace).label is Label.PASS


def test_identical_and_single_valued_pass() -> None:
    points = np.array([3.0, 1.0, 2.0])
    identical = classify_metric("m", points, points[::-1], DEFAULT)
    assert identical.label is Label.PASS and "identical" in identical.reason
    single = classify_metric("m", np.full(4, 7.0), np.full(6, 7.0), DEFAULT)
    assert single.label is Label.PASS and single.low is None


def test_numeric_failure_becomes_error() -> None:
    control, experiment = _points(20, 0.1, 6)
    config = MetricConfig(critical=True, groups=("latency",), muted=True)
    result = classify_metric("m", control, experiment, config, conf_level=1.5)
    assert result.label is Label.ERROR and result.critical
    assert result.groups == ("latency",) and result.muted


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="direction"):
        MetricConfig(direction="up")
    with pytest.raises(ValueError, match="effect_measure"):
        MetricConfig(effect_measure="cohen")
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT.critical = True  # type: ignore[misc]


# --- score ------------------------------------------------------------------------------


def _r(
    label: Label, *groups: str, critical: bool = False, muted: bool = False, name: str = "m"
) -> MetricResult:
    return MetricResult(
        name=name,
        label=label,
        critical=critical,
        low=None,
        high=None,
        estimate=None,
        effect=None,
        ratio=None,
        n_control=0,
        n_experiment=0,
        reason="because",
        groups=groups,
        muted=muted,
    )


def _score(
    results: list[MetricResult], weights: dict[str, float] | None = None
) -> kayenta.ScoreResult:
    return score(results, group_weights=weights or {}, pass_threshold=95, marginal_threshold=75)


def test_all_pass_scores_100() -> None:
    result = _score([_r(Label.PASS, "a"), _r(Label.PASS, "b")])
    assert (result.score, result.label) == (100.0, "Pass")


def test_critical_failure_short_circuits() -> None:
    results = [_r(Label.PASS, "a")] * 9 + [_r(Label.HIGH, "a", critical=True, name="p99")]
    result = _score(results)
    assert (result.score, result.label) == (0.0, "Fail")
    assert "p99" in result.reason
    muted = [_r(Label.PASS, "a"), _r(Label.HIGH, "a", critical=True, muted=True)]
    assert _score(muted).score == 100.0


def test_half_without_data_scores_zero() -> None:
    half = [_r(Label.PASS, "a"), _r(Label.PASS, "a"), _r(Label.NODATA, "a"), _r(Label.NODATA, "a")]
    assert _score(half).score == 0.0
    third = [_r(Label.PASS, "a"), _r(Label.PASS, "a"), _r(Label.NODATA, "a")]
    assert _score(third).score == 100.0  # Nodata is not counted in the group


def test_weighted_groups() -> None:
    results = [_r(Label.PASS, "a"), _r(Label.HIGH, "a"), _r(Label.PASS, "b")]
    result = _score(results, {"a": 60, "b": 40})
    assert result.group_scores == {"a": 50.0, "b": 100.0}
    assert (result.score, result.label) == (70.0, "Fail")


def test_unweighted_groups_share_the_remainder() -> None:
    results = [_r(Label.HIGH, "a"), _r(Label.PASS, "b"), _r(Label.LOW, "c"), _r(Label.PASS, "c")]
    # a gets 50; b and c share the other 50: 0*0.5 + 100*0.25 + 50*0.25
    assert _score(results, {"a": 50}).score == 37.5
    # weights already at 100 leave nothing for unweighted groups
    assert _score(results, {"a": 50, "b": 50}).score == 50.0


def test_group_counts_and_effective_scores() -> None:
    results = [
        _r(Label.PASS, "a", "b"),
        _r(Label.NODATA_FAIL, "a"),
        _r(Label.ERROR, "b"),
        _r(Label.NODATA, "c"),
        _r(Label.PASS, "d"),
    ]
    result = _score(results)
    assert result.group_scores == {"a": 50.0, "b": 100.0, "c": 100.0, "d": 100.0}
    assert result.score == 87.5


def test_rounding_and_thresholds() -> None:
    two_of_three = [_r(Label.PASS, "a"), _r(Label.PASS, "a"), _r(Label.HIGH, "a")]
    assert _score(two_of_three).score == 66.67
    four_of_five = [_r(Label.PASS, "a")] * 4 + [_r(Label.LOW, "a")]
    at_marginal = score(four_of_five, group_weights={}, pass_threshold=95, marginal_threshold=80)
    assert (at_marginal.score, at_marginal.label) == (80.0, "Marginal")
    at_pass = score(four_of_five, group_weights={}, pass_threshold=80, marginal_threshold=50)
    assert at_pass.label == "Pass"


def test_ungrouped_metrics_and_empty_input() -> None:
    result = _score([_r(Label.PASS), _r(Label.HIGH)])
    assert result.group_scores == {DEFAULT_GROUP: 50.0}
    empty = _score([])
    assert (empty.score, empty.label) == (0.0, "Fail")
