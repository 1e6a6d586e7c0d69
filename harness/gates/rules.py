"""The gate kinds: small frozen models registered by `kind`, each with `evaluate(data)`.

Configured in `harness.toml` as `[[gates]]` tables (see `harness.gates.config`); every outcome
carries its evidence (samples per side, estimate, interval, the test used, example trace ids).
Statistical gates need a minimum of samples: too few is `inconclusive`, never `pass`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from harness.gates.base import GateBase, Where, where_of
from harness.gates.data import RunData
from harness.gates.outcome import Decision, Evidence, GateOutcome, needed_to_decide, unjudged
from harness.gates.values import parse_latency_ms, parse_share
from harness.telemetry.hdr import SeriesKey

QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "p99.9": 0.999}
#: Below its minimum a series can still fail on overwhelming evidence, never pass; under this
#: many samples it is not judged at all.
FAIL_FLOOR = 100


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def _level(level: float) -> str:
    return f"{level:.0%}" if round(level, 2) == level else f"{level:.2%}".rstrip("0")


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
    quantile ratio for latency, Newcombe's interval of the difference for error rates."""

    kind: Literal["relative"] = "relative"
    metric: str = "p95"
    margin: str | float = "10%"
    level: float = 0.95

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
        level = sweep_level(self.level, len(keys), self.sweep)
        minimum = self.min_samples or 200
        evidence = [
            _quantile_evidence(data, key, q, self.metric, margin, level, minimum, self.sweep)
            for key in keys
        ]
        return self.outcome(evidence)


def sweep_level(level: float, tests: int, sweep: bool) -> float:
    """The per-series confidence level of a gate that sweeps `tests` series at once: Bonferroni,
    so that the gate as a whole keeps its nominal false-alarm rate."""
    if not sweep or tests <= 1:
        return level
    return 1.0 - (1.0 - level) / tests


def _quantile_evidence(
    data: RunData,
    key: SeriesKey,
    q: float,
    metric: str,
    margin: float,
    level: float,
    minimum: int,
    sweep: bool,
) -> Evidence:
    from harness.gates.stats import bootstrap_quantile_ratio

    assert data.baseline is not None
    base = data.samples(data.baseline, key.journey, key.step, key.touchpoint)
    cand = data.samples(key.target, key.journey, key.step, key.touchpoint)
    where = where_of(key)
    label = where.label
    n = min(len(base), len(cand))
    test = "bootstrap quantile ratio"
    too_few = unjudged(
        series=label,
        what=f"{metric} of {label}",
        test=test,
        n_baseline=len(base),
        n_candidate=len(cand),
        n_needed=minimum,
        **where.fields(),
    )
    if n < min(FAIL_FLOOR, minimum):
        return too_few
    ratio, interval = bootstrap_quantile_ratio(base, cand, q, level=level, resamples=1000)
    b, c = float(np.quantile(base, q)), float(np.quantile(cand, q))
    limit = 1.0 + margin
    needed = None
    if interval.low > limit:
        decision = Decision.FAIL  # clear enough even below the minimum needed to pass
    elif n < minimum:
        return too_few
    elif interval.high <= limit or (sweep and (ratio <= limit or interval.low <= 1.0)):
        # A sweep passes a series unless it shows a significant rise (its lower bound above
        # 1) that is not yet clearly beyond the margin: that one is inconclusive.
        decision = Decision.PASS
    else:
        decision = Decision.INCONCLUSIVE
        needed = needed_to_decide(n, ratio, (interval.low, interval.high), limit)
    verb = "rose" if ratio >= 1 else "fell"
    words = (
        f"{metric} of {label} {verb} {abs(ratio - 1):.0%} ({_ms(b)} → {_ms(c)}, "
        f"{_level(level)} CI {_pct(interval.low - 1)} to {_pct(interval.high - 1)}, "
        f"margin +{margin:.0%}, n = {len(base):,} / {len(cand):,})"
        + (f"; about {needed:,} per side would decide it" if needed else "")
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
        interval=(interval.low, interval.high),
        level=level,
        unit="ratio",
        words=words,
        trace_ids=data.examples(key.target, key.journey, key.step or None),
        n_needed=needed,
        **where.fields(),
    )


def _error_rate_evidence(
    gate: GateBase, data: RunData, margin: float, level: float
) -> list[Evidence]:
    from harness.gates.stats import newcombe_difference

    assert data.baseline is not None
    minimum = gate.min_samples or 100
    evidence = []
    journeys = sorted({j for (_, j) in data.journeys})
    for journey in journeys:
        if not gate.journey_in_scope(data, journey):
            continue
        nb, fb = data.journeys.get((data.baseline, journey), (0, 0))
        nc, fc = data.journeys.get((data.candidate, journey), (0, 0))
        where = Where(journey, None, None)
        label = where.label
        if min(nb, nc) < minimum:
            evidence.append(
                unjudged(
                    series=label,
                    what=f"error rate of {label}",
                    test="Newcombe",
                    n_baseline=nb,
                    n_candidate=nc,
                    n_needed=minimum,
                    counts="iterations",
                    **where.fields(),
                )
            )
            continue
        diff, interval = newcombe_difference(fb, nb, fc, nc, level=level)
        needed = None
        if interval.low > margin:
            decision = Decision.FAIL
        elif interval.high <= margin or (gate.named_journey is None and diff <= margin):
            decision = Decision.PASS
        else:
            decision = Decision.INCONCLUSIVE
            needed = needed_to_decide(min(nb, nc), diff, (interval.low, interval.high), margin)
        words = (
            f"error rate of {label} {fb / nb:.2%} → {fc / nc:.2%} ({diff * 100:+.2f} pp, "
            f"{level:.0%} CI {interval.low * 100:+.2f} to {interval.high * 100:+.2f} pp, "
            f"margin +{margin * 100:.2f} pp, n = {nb:,} / {nc:,})"
            + (f"; about {needed:,} iterations per side would decide it" if needed else "")
        )
        evidence.append(
            Evidence(
                series=label,
                decision=decision,
                test="Newcombe difference of rates",
                n_baseline=nb,
                n_candidate=nc,
                baseline=fb / nb,
                candidate=fc / nc,
                estimate=diff,
                interval=(interval.low, interval.high),
                level=level,
                unit="pp",
                words=words,
                trace_ids=data.examples(data.candidate, journey),
                n_needed=needed,
                counts="iterations",
                **where.fields(),
            )
        )
    return evidence


class TailShiftGate(GateBase):
    """Quantile shift of the slowest requests (p95, p99 by default) with bootstrap intervals:
    catches regressions that only hit the tail, which Mann-Whitney misses."""

    kind: Literal["tail_shift"] = "tail_shift"
    quantiles: list[str] = Field(default_factory=lambda: ["p95", "p99"])
    margin: str | float = "10%"
    level: float = 0.95

    def evaluate(self, data: RunData) -> GateOutcome:
        """Judge each step (or the one named) on each quantile that has enough samples."""
        refused = self.without_baseline(data)
        if refused is not None:
            return refused
        margin = parse_share(self.margin, what=f"{self.title()}: margin")
        keys = self.series(data)
        level = sweep_level(self.level, len(keys) * len(self.quantiles), self.sweep)
        evidence = []
        for key in keys:
            for metric in self.quantiles:
                q = QUANTILES[metric]
                # Do not gate p95 on fewer than ~200 samples, nor p99 on fewer than ~1,000: a
                # quantile needs about ten observations above it (reference §6.2).
                minimum = self.min_samples or max(200, int(10 / (1 - q)))
                evidence.append(
                    _quantile_evidence(data, key, q, metric, margin, level, minimum, self.sweep)
                )
        return self.outcome(evidence)


class MannWhitneyGate(GateBase):
    """Kayenta's judge: Mann-Whitney on per-second points (median by default), Hodges-Lehmann
    estimate, 98% interval, tolerance 0.25, effect size and direction, as NetflixACAJudge does."""

    kind: Literal["mann_whitney"] = "mann_whitney"
    statistic: str = "p50"
    direction: Literal["increase", "decrease", "either"] = "increase"
    effect_measure: Literal["meanRatio", "cles"] = "meanRatio"
    allowed_increase: float | None = None  #: default 1.0 for meanRatio, 0.5 for cles (Kayenta)
    allowed_decrease: float | None = None
    must_have_data: bool = False

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
        evidence = []
        for key in self.series(data):
            control = data.points(
                data.baseline, key.journey, key.step, key.touchpoint, self.statistic
            )
            experiment = data.points(
                key.target, key.journey, key.step, key.touchpoint, self.statistic
            )
            where = where_of(key)
            label = where.label
            if min(len(control), len(experiment)) < minimum:
                # Kayenta compares one point per second: a longer run, not more users, adds them
                evidence.append(
                    unjudged(
                        series=label,
                        what=f"{self.statistic} per second of {label}",
                        test="Mann-Whitney (Kayenta)",
                        n_baseline=len(control),
                        n_candidate=len(experiment),
                        n_needed=minimum,
                        counts="per-second points",
                        **where.fields(),
                    )
                )
                continue
            result = classify_metric(label, control, experiment, config)
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
                f"(shift {result.estimate or 0:+.1f} ms, 98% CI {low:+.1f} to {high:+.1f} ms, "
                f"mean ratio {result.ratio or 0:.2f}, points {len(control)} / {len(experiment)})"
            )
            evidence.append(
                Evidence(
                    series=label,
                    decision=decision,
                    test="Mann-Whitney (Kayenta NetflixACAJudge)",
                    n_baseline=len(control),
                    n_candidate=len(experiment),
                    baseline=float(np.median(control)),
                    candidate=float(np.median(experiment)),
                    estimate=result.estimate,
                    interval=interval,
                    level=0.98,
                    unit="ms",
                    words=words,
                    trace_ids=data.examples(key.target, key.journey, key.step),
                    judged=decision is not Decision.INCONCLUSIVE,
                    n_needed=minimum if decision is Decision.INCONCLUSIVE else None,
                    counts="per-second points",
                    **where.fields(),
                )
            )
        return self.outcome(evidence)
