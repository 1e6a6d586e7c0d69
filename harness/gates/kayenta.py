"""Kayenta's NetflixACAJudge, reimplemented: per-metric Mann-Whitney classification and scoring.

Inputs are per-interval points of a metric (e.g. one p50 per second), control = baseline and
experiment = candidate. The classifier asks whether the 98% Mann-Whitney interval of the
location shift lies clearly on one side of zero; the scorer turns labels into a 0-100 score.
Behaviour follows Kayenta's judge as documented in the project's gates-methods reference.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from harness.gates.kayenta_stats import cles, drop_outliers, mean_ratio, ranks_and_sigma

__all__ = [
    "DEFAULT_GROUP",
    "Label",
    "MannWhitneyError",
    "MetricConfig",
    "MetricResult",
    "ScoreResult",
    "classify_metric",
    "mann_whitney_ci",
    "score",
]

# Metrics configured without a group are scored in this group rather than silently dropped.
DEFAULT_GROUP = "default"

_DIRECTIONS = ("increase", "decrease", "either")
_NAN_STRATEGIES = ("remove", "replace")
_OUTLIER_STRATEGIES = ("keep", "remove")
_EFFECT_MEASURES = ("meanRatio", "cles")

Array = npt.NDArray[np.float64]


class MannWhitneyError(ValueError):
    """The Mann-Whitney interval cannot be computed (e.g. every observation is tied)."""


class Label(StrEnum):
    """A metric's classification, spelled as Kayenta spells it."""

    PASS = "Pass"
    HIGH = "High"
    LOW = "Low"
    NODATA = "Nodata"
    NODATA_FAIL = "NodataFailMetric"
    ERROR = "Error"


@dataclass(frozen=True)
class MetricConfig:
    """Kayenta's per-metric `analysisConfigurations.canary` settings.

    `effect_measure` is "meanRatio" or "cles"; Kayenta's limits default to 0.5 for "cles", so
    set `allowed_*`/`critical_*` to 0.5 explicitly when choosing it. Raises ValueError on an
    unknown direction, NaN strategy, outlier strategy or effect measure.
    """

    direction: str = "either"
    nan_strategy: str = "remove"
    outliers: str = "keep"
    outlier_factor: float = 3.0
    critical: bool = False
    must_have_data: bool = False
    muted: bool = False
    effect_measure: str = "meanRatio"
    allowed_increase: float = 1.0
    allowed_decrease: float = 1.0
    critical_increase: float = 1.0
    critical_decrease: float = 1.0
    groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field, value, allowed in (
            ("direction", self.direction, _DIRECTIONS),
            ("nan_strategy", self.nan_strategy, _NAN_STRATEGIES),
            ("outliers", self.outliers, _OUTLIER_STRATEGIES),
            ("effect_measure", self.effect_measure, _EFFECT_MEASURES),
        ):
            if value not in allowed:
                raise ValueError(
                    f"metric config: {field} = {value!r} is not one of {', '.join(allowed)} "
                    f"(e.g. {field}={allowed[0]!r})"
                )
        if self.outlier_factor < 0:
            raise ValueError(
                f"metric config: outlier_factor must be >= 0, got {self.outlier_factor}"
            )


@dataclass(frozen=True)
class MetricResult:
    """One metric's classification with its evidence.

    `low`/`high`/`estimate` are the Mann-Whitney interval and Hodges-Lehmann shift (experiment
    minus control), `effect` the configured effect size and `ratio` the mean ratio; each is
    None when not computed or undefined. `n_*` count points after NaN and outlier handling.
    """

    name: str
    label: Label
    critical: bool
    low: float | None
    high: float | None
    estimate: float | None
    effect: float | None
    ratio: float | None
    n_control: int
    n_experiment: int
    reason: str
    groups: tuple[str, ...]
    muted: bool


@dataclass(frozen=True)
class ScoreResult:
    """The canary score (0-100, two decimals), its label ("Pass", "Marginal" or "Fail"), the
    effective score of each group and why."""

    score: float
    label: str
    group_scores: dict[str, float]
    reason: str


def _w_function(x: Array, y: Array) -> Callable[[float, float], float]:
    """R's continuity-corrected normal statistic of `x - mu` against `y`, minus a quantile."""
    nx, ny = float(x.size), float(y.size)

    def w(mu: float, quantile: float) -> float:
        rank_sum, sigma = ranks_and_sigma(x - mu, y)
        dz = rank_sum - nx * (nx + 1) / 2 - nx * ny / 2
        if sigma == 0.0:
            raise MannWhitneyError(
                "cannot compute the Mann-Whitney interval: all observations are tied"
            )
        correction = 0.5 * float(np.sign(dz))
        return (dz - correction) / sigma - quantile

    return w


def mann_whitney_ci(
    experiment: npt.ArrayLike,
    control: npt.ArrayLike,
    *,
    conf_level: float = 0.98,
    seed: int = 0,
) -> tuple[float, float, float]:
    """The Mann-Whitney interval and Hodges-Lehmann estimate of the shift experiment - control.

    Same as R's `wilcox.test(x=experiment, y=control, conf.int=TRUE, exact=FALSE,
    correct=TRUE, conf.level=conf_level)`: each bound is the root, by Brent's method, of the
    continuity-corrected normal statistic of `experiment - mu` minus ±z over
    `[min(x) - max(y), max(x) - min(y)]` (an end of the range when there is no sign change).
    If each sample holds a single distinct value, Gaussian noise of sd `|value| * 1e-5`
    (seeded by `seed`) is added to both first, as Kayenta does.

    Returns `(low, high, estimate)`.
    Raises ValueError for an empty or non-finite sample or `conf_level` outside (0, 1), and
    MannWhitneyError when every observation is tied.
    """
    from scipy import optimize, special  # imported here: a verdict without this judge skips them

    x = np.asarray(experiment, dtype=np.float64).ravel()
    y = np.asarray(control, dtype=np.float64).ravel()
    if x.size == 0 or y.size == 0:
        raise ValueError(f"both samples need points, got {x.size} experiment, {y.size} control")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("samples hold NaN or infinite values; handle them before the test")
    if not 0.0 < conf_level < 1.0:
        raise ValueError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")
    if np.unique(x).size == 1 and np.unique(y).size == 1:
        rng = np.random.default_rng(seed)
        x = x + rng.normal(0.0, abs(x[0]) * 1e-5, size=x.size)
        y = y + rng.normal(0.0, abs(y[0]) * 1e-5, size=y.size)
    w = _w_function(x, y)
    mu_min = float(x.min() - y.max())
    mu_max = float(x.max() - y.min())
    # The statistic is a step function of mu; a tight tolerance lands on the step itself.
    xtol = max(abs(mu_min), abs(mu_max), 1e-300) * 1e-12

    def root(quantile: float) -> float:
        f_low = w(mu_min, quantile)
        if f_low <= 0:
            return mu_min
        f_high = w(mu_max, quantile)
        if f_high >= 0:
            return mu_max
        found = optimize.brentq(w, mu_min, mu_max, args=(quantile,), xtol=xtol, maxiter=500)
        return float(found)

    z = float(special.ndtri((1.0 - conf_level) / 2.0))  # negative
    return root(-z), root(z), root(0.0)


def _prepare(values: npt.ArrayLike, config: MetricConfig) -> Array:
    array = np.asarray(values, dtype=np.float64).ravel()
    nan = np.isnan(array)
    array = array[~nan] if config.nan_strategy == "remove" else np.where(nan, 0.0, array)
    if config.outliers == "remove":
        array = drop_outliers(array, config.outlier_factor)
    return array


def _optional(value: float) -> float | None:
    return None if math.isnan(value) else value


def classify_metric(
    name: str,
    control: npt.ArrayLike,
    experiment: npt.ArrayLike,
    config: MetricConfig,
    *,
    tolerance: float = 0.25,
    conf_level: float = 0.98,
    seed: int = 0,
) -> MetricResult:
    """Classify one metric's experiment points against its control points, as Kayenta does.

    NaN handling, optional IQR outlier removal, early exits (no data, identical samples, a
    single value), the Mann-Whitney interval, the effect size, then High / Low / Pass: High
    when the interval's low end exceeds `tolerance * |estimate|` (and the effect size reaches
    `allowed_increase`), Low symmetrically; `direction` limits which side can fail.

    Returns a MetricResult; numeric failures become label Error rather than raising.
    """
    ctrl = _prepare(control, config)
    exp = _prepare(experiment, config)

    def result(label: Label, reason: str, **found: float | None) -> MetricResult:
        failed = label in (Label.NODATA, Label.ERROR)
        return MetricResult(
            name=name,
            label=label,
            critical=config.critical and failed,
            low=found.get("low"),
            high=found.get("high"),
            estimate=found.get("estimate"),
            effect=found.get("effect"),
            ratio=found.get("ratio"),
            n_control=ctrl.size,
            n_experiment=exp.size,
            reason=reason,
            groups=config.groups,
            muted=config.muted,
        )

    if ctrl.size == 0 or exp.size == 0:
        if config.nan_strategy == "replace":
            return result(Label.PASS, "no data (NaNs replaced): passes")
        if config.must_have_data and not config.critical:
            return result(Label.NODATA_FAIL, "no data, and the metric must have data")
        return result(Label.NODATA, "no data for the control or the experiment")
    if ctrl.size == exp.size and np.array_equal(np.sort(ctrl), np.sort(exp)):
        return result(Label.PASS, "control and experiment are identical")
    if np.unique(np.concatenate([ctrl, exp])).size == 1:
        return result(Label.PASS, "control and experiment hold one and the same value")

    try:
        low, high, estimate = mann_whitney_ci(exp, ctrl, conf_level=conf_level, seed=seed)
        ratio = mean_ratio(exp, ctrl)
        effect = ratio if config.effect_measure == "meanRatio" else cles(exp, ctrl)
    except (ValueError, ArithmeticError) as error:
        return result(Label.ERROR, f"metric classification failed: {error}")

    found: dict[str, float | None] = {
        "low": low,
        "high": high,
        "estimate": estimate,
        "effect": _optional(effect),
        "ratio": _optional(ratio),
    }
    bound = tolerance * abs(estimate)
    no_effect = math.isnan(effect)
    interval = f"{conf_level:.0%} interval of the shift [{low:.6g}, {high:.6g}]"
    if (
        config.direction in ("increase", "either")
        and low > bound
        and (no_effect or effect >= config.allowed_increase)
    ):
        critical = config.critical and (no_effect or effect >= config.critical_increase)
        reason = f"higher: {interval} lies above +{bound:.6g}"
        return _with_critical(result(Label.HIGH, reason, **found), critical)
    if (
        config.direction in ("decrease", "either")
        and high < -bound
        and (no_effect or effect <= config.allowed_decrease)
    ):
        critical = config.critical and (no_effect or effect <= config.critical_decrease)
        reason = f"lower: {interval} lies below -{bound:.6g}"
        return _with_critical(result(Label.LOW, reason, **found), critical)
    return result(Label.PASS, f"no clear shift: {interval}, estimate {estimate:.6g}", **found)


def _with_critical(result: MetricResult, critical: bool) -> MetricResult:
    return dataclasses.replace(result, critical=critical)


def _round2(value: float) -> float:
    """Round half up to two decimals (Python's round() rounds half to even)."""
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _label(value: float, pass_threshold: float, marginal_threshold: float) -> str:
    if value >= pass_threshold:
        return "Pass"
    return "Marginal" if value >= marginal_threshold else "Fail"


def score(
    results: Sequence[MetricResult],
    *,
    group_weights: Mapping[str, float],
    pass_threshold: float,
    marginal_threshold: float,
) -> ScoreResult:
    """Kayenta's weighted-sum score of the metric results, and its Pass/Marginal/Fail label.

    Muted metrics are left out. A critical metric that did not pass, or half or more of the
    metrics without data, scores 0. Otherwise each group scores `100 * #Pass / (#Pass + #High
    + #Low + #NodataFailMetric)` (100 when that is 0), groups are weighted by `group_weights`
    (percentages; unlisted groups share what is left of 100) and the sum is rounded to 2 dp.
    A metric without groups counts in DEFAULT_GROUP.

    Returns a ScoreResult; `group_scores` holds every group's effective score.
    """
    live = [r for r in results if not r.muted]
    members: dict[str, list[Label]] = {}
    for r in live:
        for group in r.groups or (DEFAULT_GROUP,):
            members.setdefault(group, []).append(r.label)
    group_scores: dict[str, float] = {}
    for group, labels in members.items():
        counted = [lab for lab in labels if lab not in (Label.NODATA, Label.ERROR)]
        passed = sum(lab is Label.PASS for lab in counted)
        group_scores[group] = 100.0 * passed / len(counted) if counted else 100.0

    def verdict(value: float, reason: str) -> ScoreResult:
        label = _label(value, pass_threshold, marginal_threshold)
        return ScoreResult(value, label, group_scores, reason)

    if not live:
        return verdict(0.0, "no metrics to score (all muted or none given)")
    for r in live:
        if r.critical and r.label is not Label.PASS:
            return verdict(0.0, f"critical metric `{r.name}` failed ({r.label}): {r.reason}")
    nodata = sum(r.label is Label.NODATA for r in live)
    if nodata / len(live) >= 0.5:
        return verdict(0.0, f"{nodata} of {len(live)} metrics have no data (50% or more)")

    unweighted = [g for g in group_scores if g not in group_weights]
    remainder = (100.0 - sum(group_weights.values())) / len(unweighted) if unweighted else 0.0
    total = sum(s * group_weights.get(g, remainder) / 100.0 for g, s in group_scores.items())
    value = _round2(total)
    failing = [r.name for r in live if r.label not in (Label.PASS, Label.NODATA)]
    reason = f"not passing: {', '.join(failing)}" if failing else "every metric passed"
    return verdict(value, reason)
