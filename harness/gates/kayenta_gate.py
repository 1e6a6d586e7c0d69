"""Kayenta's judge as a gate kind (`mann_whitney`): Mann-Whitney on per-second points, Holm's
step-down across the steps at the gate's alpha share."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np

from harness.gates.base import GateBase, where_of
from harness.gates.data import RunData
from harness.gates.family import gate_alpha, holm, level_words
from harness.gates.outcome import Decision, Evidence, GateOutcome, unjudged
from harness.telemetry.hdr import SeriesKey

if TYPE_CHECKING:
    from harness.gates.kayenta import MetricResult

_level = level_words


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
