"""The gate kinds: small frozen models registered by `kind`, each with `evaluate(data)`.

Configured in `harness.toml` as `[[gates]]` tables (see `harness.gates.config`); every outcome
carries its evidence (samples per side, estimate, interval, the test used, example trace ids).
Statistical gates need a minimum of samples: too few is `inconclusive`, never `pass`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import Field

from harness.gates.base import GateBase, Where, where_of
from harness.gates.data import RunData
from harness.gates.family import Comparison, Decided, decide, gate_alpha, holm, level_words
from harness.gates.outcome import Decision, Evidence, GateOutcome, needed_to_decide, unjudged
from harness.gates.values import parse_latency_ms, parse_share
from harness.telemetry.hdr import SeriesKey

if TYPE_CHECKING:
    from harness.gates.kayenta import MetricResult

QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "p99.9": 0.999}
#: Below its minimum a series can still fail on overwhelming evidence, never pass; under this
#: many samples it is not judged at all.
FAIL_FLOOR = 100


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


_level = level_words


def _pct(value: float) -> str:
    return f"{value:+.0%}"


class ThresholdGate(GateBase):
    """An absolute limit on a statistic of the candidate: `p95 <= 800ms`, `error_rate <= 0.5%`."""

    kind: Literal["threshold"] = "threshold"
    metric: str = "p95"
    op: Literal["<=", "<", ">=", ">"] = "<="
    value: str | float

    def evaluate(self, data: RunData) -> GateOutcome:
        """Check the limit on every series in scope."""
        minimum = self.min_samples or 20
        evidence = []
        if self.metric == "error_rate":
            limit = parse_share(self.value, what=f"{self.title()}: value")
            for (target, journey), (n, failed) in sorted(data.journeys.items()):
                if target != data.candidate or not self.journey_in_scope(data, journey):
                    continue
                rate = failed / n if n else 0.0
                where = Where(journey, None, None)
                evidence.append(self._judge(where, "error rate", rate, limit, n, minimum, "%"))
            return self.outcome(evidence)
        q = QUANTILES.get(self.metric)
        limit = parse_latency_ms(self.value, what=f"{self.title()}: value")
        for key in self.series(data, iterations=self.step is None):
            values = data.samples(key.target, key.journey, key.step, key.touchpoint)
            if len(values) == 0:
                stat = 0.0
            elif self.metric == "mean":
                stat = float(np.mean(values))
            elif self.metric == "max":
                stat = float(np.max(values))
            else:
                stat = float(np.quantile(values, q or 0.95))
            evidence.append(
                self._judge(where_of(key), self.metric, stat, limit, len(values), minimum, "ms")
            )
        return self.outcome(evidence)

    def _judge(
        self, where: Where, metric: str, stat: float, limit: float, n: int, minimum: int, unit: str
    ) -> Evidence:
        show = (lambda v: f"{v:.2%}") if unit == "%" else _ms
        label = where.label
        if n < minimum:
            return unjudged(
                series=label,
                what=f"{metric} of {label}",
                test="threshold",
                n_baseline=None,
                n_candidate=n,
                n_needed=minimum,
                counts="samples" if unit == "ms" else "iterations",
                **where.fields(),
            )
        ok = {"<=": stat <= limit, "<": stat < limit, ">=": stat >= limit, ">": stat > limit}[
            self.op
        ]
        words = f"{metric} of {label} is {show(stat)} (limit {self.op} {show(limit)}, n = {n})"
        return Evidence(
            series=label,
            decision=Decision.PASS if ok else Decision.FAIL,
            test="threshold",
            n_candidate=n,
            candidate=stat,
            estimate=stat,
            unit=unit,
            words=words,
            **where.fields(),
        )


class RelativeGate(GateBase):
    """Candidate no worse than baseline by a margin, on a confidence interval: bootstrap of the
    quantile ratio for latency, Newcombe's interval of the difference for error rates. A series
    passes when its interval at `level` lies within the margin and fails when Holm's step-down
    at the gate's `alpha` puts it beyond; otherwise it is inconclusive."""

    kind: Literal["relative"] = "relative"
    metric: str = "p95"
    margin: str | float = "10%"
    level: float = 0.95
    comparing: ClassVar[bool] = True

    def evaluate(self, data: RunData) -> GateOutcome:
        """Judge each series in scope against the baseline."""
        refused = self.without_baseline(data)
        if refused is not None:
            return refused
        if self.metric == "error_rate":
            return self.outcome(
                _error_rate_evidence(
                    self, data, parse_share(self.margin, what="margin"), self.level
                )
            )
        q = QUANTILES.get(self.metric, 0.95)
        margin = parse_share(self.margin, what=f"{self.title()}: margin")
        keys = self.series(data, iterations=self.step is None)
        minimum = self.min_samples or 200
        jobs = [(key, q, self.metric, minimum) for key in keys]
        return self.outcome(_quantile_family(self, data, jobs, margin))


#: bootstrap resamples per quantile ratio: the ends of a Holm-corrected interval (99.9% and
#: beyond) vary by about 0.007 across seeds at 20,000, 0.026 at 1,000 (issue 22)
RESAMPLES = 20_000

#: what `_quantile_family` judges: a series, its quantile, the quantile's name, its minimum
Job = tuple[SeriesKey, float, str, int]


def _quantile_family(
    gate: GateBase, data: RunData, jobs: list[Job], margin: float
) -> list[Evidence]:
    """Each job's evidence, the gate's fails decided together by Holm's step-down."""
    from harness.gates.stats import bootstrap_ratio_draws, percentile_interval

    assert data.baseline is not None
    level = float(getattr(gate, "level", 0.95))
    limit = 1.0 + margin
    found: list[Evidence | None] = []
    tests: list[tuple[int, Comparison, Job, np.ndarray, np.ndarray]] = []
    for job in jobs:
        key, q, metric, minimum = job
        base = data.samples(data.baseline, key.journey, key.step, key.touchpoint)
        cand = data.samples(key.target, key.journey, key.step, key.touchpoint)
        n = min(len(base), len(cand))
        if n < min(FAIL_FLOOR, minimum):
            found.append(_too_few(key, metric, base, cand, minimum))
            continue
        ratio, draws = bootstrap_ratio_draws(base, cand, q, resamples=RESAMPLES)

        def interval(at: float, draws: np.ndarray = draws) -> tuple[float, float]:
            found_ = percentile_interval(draws, at)
            return found_.low, found_.high

        tests.append(
            (len(found), Comparison(ratio, interval, limit, can_pass=n >= minimum), job, base, cand)
        )
        found.append(None)
    decided = decide([t[1] for t in tests], level=level, alpha=gate_alpha(gate, level))
    for (index, test, job, base, cand), outcome in zip(tests, decided, strict=True):
        found[index] = _ratio_evidence(data, job, test, outcome, base, cand, margin)
    return [e for e in found if e is not None]


def _too_few(
    key: SeriesKey, metric: str, base: np.ndarray, cand: np.ndarray, minimum: int
) -> Evidence:
    where = where_of(key)
    return unjudged(
        series=where.label,
        what=f"{metric} of {where.label}",
        test="bootstrap quantile ratio",
        n_baseline=len(base),
        n_candidate=len(cand),
        n_needed=minimum,
        **where.fields(),
    )


def _ratio_evidence(
    data: RunData,
    job: Job,
    test: Comparison,
    outcome: Decided,
    base: np.ndarray,
    cand: np.ndarray,
    margin: float,
) -> Evidence:
    key, q, metric, minimum = job
    if outcome.decision == "short":
        return _too_few(key, metric, base, cand, minimum)
    where = where_of(key)
    label = where.label
    ratio, (low, high) = test.estimate, outcome.interval
    b, c = float(np.quantile(base, q)), float(np.quantile(cand, q))
    decision = DECIDED[outcome.decision]
    needed = None
    if decision is Decision.INCONCLUSIVE:
        needed = needed_to_decide(min(len(base), len(cand)), ratio, (low, high), test.limit)
    verb = "rose" if ratio >= 1 else "fell"
    words = (
        f"{metric} of {label} {verb} {abs(ratio - 1):.0%} ({_ms(b)} → {_ms(c)}, "
        f"{_level(outcome.level)} CI {_pct(low - 1)} to {_pct(high - 1)}, "
        f"margin +{margin:.0%}, n = {len(base):,} / {len(cand):,})"
        + (f"; about {needed:,} per side would decide it" if needed else "")
        + outcome.words()
    )
    return Evidence(
        series=label,
        decision=decision,
        test=f"bootstrap ratio of {metric}",
        n_baseline=len(base),
        n_candidate=len(cand),
        baseline=b,
        candidate=c,
        estimate=ratio,
        interval=(low, high),
        level=outcome.level,
        unit="ratio",
        words=words,
        trace_ids=data.examples(key.target, key.journey, key.step or None),
        n_needed=needed,
        **where.fields(),
    )


DECIDED = {
    "pass": Decision.PASS,
    "fail": Decision.FAIL,
    "inconclusive": Decision.INCONCLUSIVE,
}


def _error_rate_evidence(
    gate: GateBase, data: RunData, margin: float, level: float
) -> list[Evidence]:
    from harness.gates.stats import newcombe_difference

    assert data.baseline is not None
    minimum = gate.min_samples or 100
    found: list[Evidence | None] = []
    tests: list[tuple[int, Comparison, str, tuple[int, int, int, int]]] = []
    for journey in sorted({j for (_, j) in data.journeys}):
        if not gate.journey_in_scope(data, journey):
            continue
        nb, fb = data.journeys.get((data.baseline, journey), (0, 0))
        nc, fc = data.journeys.get((data.candidate, journey), (0, 0))
        if min(nb, nc) < minimum:
            where = Where(journey, None, None)
            found.append(
                unjudged(
                    series=where.label,
                    what=f"error rate of {where.label}",
                    test="Newcombe",
                    n_baseline=nb,
                    n_candidate=nc,
                    n_needed=minimum,
                    counts="iterations",
                    **where.fields(),
                )
            )
            continue

        def interval(
            at: float, c: tuple[int, int, int, int] = (fb, nb, fc, nc)
        ) -> tuple[float, float]:
            found_ = newcombe_difference(*c, level=at)[1]
            return found_.low, found_.high

        diff = fc / nc - fb / nb
        tests.append((len(found), Comparison(diff, interval, margin), journey, (nb, fb, nc, fc)))
        found.append(None)
    decided = decide([t[1] for t in tests], level=level, alpha=gate_alpha(gate, level))
    for (index, test, journey, counts), outcome in zip(tests, decided, strict=True):
        found[index] = _rate_evidence(data, journey, counts, test, outcome, margin)
    return [e for e in found if e is not None]


def _rate_evidence(
    data: RunData,
    journey: str,
    counts: tuple[int, int, int, int],
    test: Comparison,
    outcome: Decided,
    margin: float,
) -> Evidence:
    nb, fb, nc, fc = counts
    where = Where(journey, None, None)
    label = where.label
    diff, (low, high) = test.estimate, outcome.interval
    decision = DECIDED[outcome.decision]
    needed = None
    if decision is Decision.INCONCLUSIVE:
        needed = needed_to_decide(min(nb, nc), diff, (low, high), margin)
    words = (
        f"error rate of {label} {fb / nb:.2%} → {fc / nc:.2%} ({diff * 100:+.2f} pp, "
        f"{_level(outcome.level)} CI {low * 100:+.2f} to {high * 100:+.2f} pp, "
        f"margin +{margin * 100:.2f} pp, n = {nb:,} / {nc:,})"
        + (f"; about {needed:,} iterations per side would decide it" if needed else "")
        + outcome.words()
    )
    return Evidence(
        series=label,
        decision=decision,
        test="Newcombe difference of rates",
        n_baseline=nb,
        n_candidate=nc,
        baseline=fb / nb,
        candidate=fc / nc,
        estimate=diff,
        interval=(low, high),
        level=outcome.level,
        unit="pp",
        words=words,
        trace_ids=data.examples(data.candidate, journey),
        n_needed=needed,
        counts="iterations",
        **where.fields(),
    )


class TailShiftGate(GateBase):
    """Quantile shift of the slowest requests (p95, p99 by default) with bootstrap intervals:
    catches regressions that only hit the tail, which Mann-Whitney misses. Every (series,
    quantile) is one test of the gate's Holm family."""

    kind: Literal["tail_shift"] = "tail_shift"
    quantiles: list[str] = Field(default_factory=lambda: ["p95", "p99"])
    margin: str | float = "10%"
    level: float = 0.95
    comparing: ClassVar[bool] = True

    def evaluate(self, data: RunData) -> GateOutcome:
        """Judge each step (or the one named) on each quantile that has enough samples."""
        refused = self.without_baseline(data)
        if refused is not None:
            return refused
        margin = parse_share(self.margin, what=f"{self.title()}: margin")
        jobs = []
        for key in self.series(data):
            for metric in self.quantiles:
                q = QUANTILES[metric]
                # Do not gate p95 on fewer than ~200 samples, nor p99 on fewer than ~1,000: a
                # quantile needs about ten observations above it (reference §6.2).
                minimum = self.min_samples or max(200, int(10 / (1 - q)))
                jobs.append((key, q, metric, minimum))
        return self.outcome(_quantile_family(self, data, jobs, margin))


class MannWhitneyGate(GateBase):
    """Kayenta's judge: Mann-Whitney on per-second points (median by default), Hodges-Lehmann
    estimate, tolerance 0.25, effect size and direction, as NetflixACAJudge does; its interval
    is Kayenta's 98% when judged alone, else at the gate's `alpha` share with Holm's step-down
    across the steps (a sweep of 13 steps at 98% each fails an identical candidate ~12% of the
    time)."""

    kind: Literal["mann_whitney"] = "mann_whitney"
    statistic: str = "p50"
    direction: Literal["increase", "decrease", "either"] = "increase"
    effect_measure: Literal["meanRatio", "cles"] = "meanRatio"
    allowed_increase: float | None = None  #: default 1.0 for meanRatio, 0.5 for cles (Kayenta)
    allowed_decrease: float | None = None
    must_have_data: bool = False
    comparing: ClassVar[bool] = True

    def _allowed(self, value: float | None) -> float:
        if value is not None:
            return value
        return 0.5 if self.effect_measure == "cles" else 1.0

    def evaluate(self, data: RunData) -> GateOutcome:
        """Classify each step's per-second points, candidate (experiment) vs baseline (control)."""
        from harness.gates.kayenta import Label, MetricConfig, classify_metric

        refused = self.without_baseline(data)
        if refused is not None:
            return refused
        assert data.baseline is not None
        config = MetricConfig(
            direction=self.direction,
            critical=self.critical,
            must_have_data=self.must_have_data,
            effect_measure=self.effect_measure,
            allowed_increase=self._allowed(self.allowed_increase),
            allowed_decrease=self._allowed(self.allowed_decrease),
        )
        minimum = self.min_samples or 30
        alpha = gate_alpha(self, 0.98)
        found: list[Evidence | None] = []
        tests: list[tuple[int, SeriesKey, np.ndarray, np.ndarray]] = []
        for key in self.series(data):
            control = data.points(
                data.baseline, key.journey, key.step, key.touchpoint, self.statistic
            )
            experiment = data.points(
                key.target, key.journey, key.step, key.touchpoint, self.statistic
            )
            if min(len(control), len(experiment)) < minimum:
                where = where_of(key)
                # Kayenta compares one point per second: a longer run, not more users, adds them
                found.append(
                    unjudged(
                        series=where.label,
                        what=f"{self.statistic} per second of {where.label}",
                        test="Mann-Whitney (Kayenta)",
                        n_baseline=len(control),
                        n_candidate=len(experiment),
                        n_needed=minimum,
                        counts="per-second points",
                        **where.fields(),
                    )
                )
                continue
            tests.append((len(found), key, control, experiment))
            found.append(None)
        cache: dict[tuple[int, float], MetricResult] = {}

        def classify(i: int, a: float) -> MetricResult:
            if (i, a) not in cache:
                _, key, control, experiment = tests[i]
                label = where_of(key).label
                cache[(i, a)] = classify_metric(
                    label, control, experiment, config, conf_level=1.0 - 2.0 * a
                )
            return cache[(i, a)]

        failed = holm(
            lambda i, a: classify(i, a).label in (Label.HIGH, Label.LOW), len(tests), alpha
        )
        last = alpha / (len(tests) - len(failed)) if len(failed) < len(tests) else alpha
        for i, (index, key, control, experiment) in enumerate(tests):
            result = classify(i, failed.get(i, last))
            level = 1.0 - 2.0 * failed.get(i, last)
            found[index] = self._evidence(data, key, control, experiment, result, level, minimum)
        return self.outcome([e for e in found if e is not None])

    def _evidence(
        self,
        data: RunData,
        key: SeriesKey,
        control: np.ndarray,
        experiment: np.ndarray,
        result: MetricResult,
        level: float,
        minimum: int,
    ) -> Evidence:
        from harness.gates.kayenta import Label

        where = where_of(key)
        label = where.label
        decision = {
            Label.PASS: Decision.PASS,
            Label.HIGH: Decision.FAIL,
            Label.LOW: Decision.FAIL,
            Label.NODATA: Decision.INCONCLUSIVE,
            Label.NODATA_FAIL: Decision.FAIL,
            Label.ERROR: Decision.ERROR,
        }[result.label]
        interval = (
            (result.low, result.high)
            if result.low is not None and result.high is not None
            else None
        )
        low, high = interval if interval else (0.0, 0.0)
        words = (
            f"{self.statistic} per second of {label}: {result.label.value} "
            f"(shift {result.estimate or 0:+.1f} ms, {_level(level)} CI {low:+.1f} to "
            f"{high:+.1f} ms, mean ratio {result.ratio or 0:.2f}, "
            f"points {len(control)} / {len(experiment)})"
        )
        return Evidence(
            series=label,
            decision=decision,
            test="Mann-Whitney (Kayenta NetflixACAJudge)",
            n_baseline=len(control),
            n_candidate=len(experiment),
            baseline=float(np.median(control)),
            candidate=float(np.median(experiment)),
            estimate=result.estimate,
            interval=interval,
            level=level,
            unit="ms",
            words=words,
            trace_ids=data.examples(key.target, key.journey, key.step),
            judged=decision is not Decision.INCONCLUSIVE,
            n_needed=minimum if decision is Decision.INCONCLUSIVE else None,
            counts="per-second points",
            **where.fields(),
        )


class PairedGate(GateBase):
    """Typical latency per step, paired: both sides run the same iteration with the same person
    in the same second, so each second with values on both sides gives one paired difference
    (log of the candidate's median over the baseline's). Their mean estimates the ratio of
    typical latencies with the noise both sides share (machine load, the person's data)
    cancelled; its interval uses Newey-West errors, robust to drift between nearby seconds.
    Fails when Holm's step-down at the gate's alpha puts the ratio beyond `margin`, passes when
    its interval at `level` lies within it, and reports each step's minimum detectable effect."""

    kind: Literal["paired"] = "paired"
    margin: str | float = "5%"
    level: float = 0.95
    comparing: ClassVar[bool] = True

    def evaluate(self, data: RunData) -> GateOutcome:
        """Judge each step in scope on its paired per-second differences."""
        refused = self.without_baseline(data)
        if refused is not None:
            return refused
        assert data.baseline is not None
        margin = parse_share(self.margin, what=f"{self.title()}: margin")
        minimum = self.min_samples or 20
        limit = float(np.log1p(margin))
        alpha = gate_alpha(self, self.level)
        found: list[Evidence | None] = []
        tests: list[tuple[int, Comparison, SeriesKey, Paired]] = []
        for key in self.series(data):
            paired = paired_seconds(data, key)
            if paired.n < minimum:
                where = where_of(key)
                found.append(
                    unjudged(
                        series=where.label,
                        what=f"paired typical latency of {where.label}",
                        test="paired per-second",
                        n_baseline=paired.n,
                        n_candidate=paired.n,
                        n_needed=minimum,
                        counts="paired seconds",
                        **where.fields(),
                    )
                )
                continue
            tests.append((len(found), Comparison(paired.mean, paired.interval, limit), key, paired))
            found.append(None)
        decided = decide([t[1] for t in tests], level=self.level, alpha=alpha)
        worst = alpha / max(len(tests), 1)  # Holm's first, most demanding step
        for (index, test, key, paired), outcome in zip(tests, decided, strict=True):
            found[index] = self._evidence(data, key, paired, test, outcome, margin, worst)
        return self.outcome([e for e in found if e is not None])

    def _evidence(
        self,
        data: RunData,
        key: SeriesKey,
        paired: Paired,
        test: Comparison,
        outcome: Decided,
        margin: float,
        worst: float,
    ) -> Evidence:
        from scipy import stats as sps

        where = where_of(key)
        label = where.label
        low, high = (float(np.expm1(v)) for v in outcome.interval)
        ratio = float(np.expm1(paired.mean))
        decision = DECIDED[outcome.decision]
        # the smallest true slowdown this run fails with 80% chance, at Holm's strictest step
        reach = float(sps.norm.ppf(1 - worst) + sps.norm.ppf(0.80)) * paired.se
        mde = float(np.expm1(test.limit + reach))
        needed = None
        if decision is Decision.INCONCLUSIVE:
            needed = needed_to_decide(paired.n, test.estimate, outcome.interval, test.limit)
        words = (
            f"typical latency of {label} {_pct(ratio)} paired over {paired.n} seconds "
            f"({_level(outcome.level)} CI {_pct(low)} to {_pct(high)}, margin +{margin:.0%}, "
            f"could catch {_pct(mde)})"
            + (f"; about {needed:,} paired seconds would decide it" if needed else "")
            + outcome.words()
        )
        return Evidence(
            series=label,
            decision=decision,
            test="paired per-second log ratio (Newey-West)",
            n_baseline=paired.n_baseline,
            n_candidate=paired.n_candidate,
            estimate=1.0 + ratio,
            interval=(1.0 + low, 1.0 + high),
            level=outcome.level,
            unit="ratio",
            words=words,
            trace_ids=data.examples(key.target, key.journey, key.step),
            n_needed=needed,
            counts="paired seconds",
            mde=mde,
            **where.fields(),
        )


class Paired:
    """The paired per-second differences of one step: their mean, Newey-West standard error,
    and the t interval at any level (log scale)."""

    def __init__(self, diffs: np.ndarray, n_baseline: int, n_candidate: int) -> None:
        self.n = int(diffs.size)
        self.n_baseline = n_baseline
        self.n_candidate = n_candidate
        self.mean = float(diffs.mean()) if self.n else 0.0
        self.se = _newey_west(diffs) if self.n > 1 else float("inf")

    def interval(self, level: float) -> tuple[float, float]:
        from scipy import stats as sps

        t = float(sps.t.ppf(0.5 + level / 2.0, max(self.n - 1, 1)))
        return self.mean - t * self.se, self.mean + t * self.se


def _newey_west(diffs: np.ndarray) -> float:
    """The standard error of the mean of a series with short-range dependence: Bartlett-weighted
    autocovariances up to lag ⌊4 (n/100)^(2/9)⌋ (Newey and West, 1994)."""
    n = diffs.size
    centred = diffs - diffs.mean()
    lags = int(4 * (n / 100) ** (2 / 9))
    variance = float(centred @ centred) / n
    for lag in range(1, min(lags, n - 1) + 1):
        weight = 1.0 - lag / (lags + 1)
        variance += 2.0 * weight * float(centred[lag:] @ centred[:-lag]) / n
    return float(np.sqrt(max(variance, 1e-18) / n))


def paired_seconds(data: RunData, key: SeriesKey) -> Paired:
    """The seconds in which both sides ran a step, each as log(candidate median / baseline
    median) of that second (medians: a slow tail moves the typical latency little)."""
    import statistics

    assert data.baseline is not None
    base = data.windows.get((data.baseline, key.journey, key.step, key.touchpoint), {})
    cand = data.windows.get((key.target, key.journey, key.step, key.touchpoint), {})
    both = sorted(set(base) & set(cand))
    diffs = [
        math.log(max(statistics.median(cand[s]), 1e-6) / max(statistics.median(base[s]), 1e-6))
        for s in both
    ]
    n_base = sum(len(base[s]) for s in both)
    n_cand = sum(len(cand[s]) for s in both)
    return Paired(np.array(diffs, dtype=np.float64), n_base, n_cand)
