"""The `threshold` gate: an absolute limit on a statistic of the candidate, decided on an
interval, not on the estimate: it passes when the interval at `level` lies on the allowed side
of the limit, fails when Holm's step-down over the gate's series (one-sided at the level's
alpha) puts it beyond, and is inconclusive otherwise. Quantiles get the distribution-free
order-statistic interval, the mean a t interval, error rates Wilson's; `max` is decided on the
observed maximum of this run (a fact of the run, not an estimate)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from harness.gates.base import GateBase, Where, where_of
from harness.gates.data import RunData
from harness.gates.family import Comparison, decide, gate_alpha, level_words
from harness.gates.outcome import Decision, Evidence, GateOutcome, unjudged
from harness.gates.values import parse_latency_ms, parse_share
from harness.telemetry.latency import failure_rate, percentile_of

QUANTILES = {"p50": 0.50, "p75": 0.75, "p90": 0.90, "p95": 0.95, "p99": 0.99, "p99.9": 0.999}
DECIDED = {"pass": Decision.PASS, "fail": Decision.FAIL, "inconclusive": Decision.INCONCLUSIVE}
Interval = Callable[[float], tuple[float, float]]


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def quantile_interval(values: np.ndarray, counts: np.ndarray, q: float) -> Interval:
    """The distribution-free interval of the q-quantile at any two-sided level, from ascending
    `values` recorded `counts` times each: order statistics whose ranks a Binomial(n, q) puts
    on either side of it."""
    from scipy import stats as sps

    cumulative = np.cumsum(counts)
    n = int(cumulative[-1])

    def ranked(rank: int) -> float:  # the value of 1-based rank `rank`
        return float(values[int(np.searchsorted(cumulative, rank))])

    def at(level: float) -> tuple[float, float]:
        tail = (1.0 - level) / 2.0
        low_rank = int(sps.binom.ppf(tail, n, q))  # 0: no order statistic is low enough
        high_rank = int(sps.binom.ppf(1.0 - tail, n, q)) + 1
        low = ranked(low_rank) if low_rank >= 1 else -np.inf
        high = ranked(high_rank) if high_rank <= n else np.inf
        return low, high

    return at


def mean_interval(values: np.ndarray, counts: np.ndarray) -> Interval:
    """The t interval of the mean of `values` recorded `counts` times each, at any level."""
    from scipy import special

    n = int(counts.sum())
    mean = float((values * counts).sum()) / n
    variance = float((counts * (values - mean) ** 2).sum()) / max(n - 1, 1)
    se = np.sqrt(variance / n) if n > 1 else np.inf

    def at(level: float) -> tuple[float, float]:
        t = float(special.stdtrit(max(n - 1, 1), 0.5 + level / 2.0))  # t's quantile
        return mean - t * se, mean + t * se

    return at


def rate_interval(failed: int, n: int) -> Interval:
    """Wilson's interval of an error rate at any two-sided level."""
    from harness.gates.stats import wilson_interval

    def at(level: float) -> tuple[float, float]:
        found = wilson_interval(failed, n, level=level)
        return found.low, found.high

    return at


class ThresholdGate(GateBase):
    """An absolute limit on a statistic of the candidate: `p95 <= 800ms`, `error_rate <= 0.5%`."""

    kind: Literal["threshold"] = "threshold"
    metric: str = "p95"
    op: Literal["<=", "<", ">=", ">"] = "<="
    value: str | float
    level: float = 0.95

    def evaluate(self, data: RunData) -> GateOutcome:
        """Judge the limit on every series in scope, on intervals, fails by Holm."""
        minimum = self.min_samples or 20
        rows: list[tuple[Where, str, float, Interval | None, int]] = []
        found: list[Evidence | None] = []
        if self.metric == "error_rate":
            limit = parse_share(self.value, what=f"{self.title()}: value")
            unit = "%"
            for (target, journey), (n, failed) in sorted(data.journeys.items()):
                if target != data.candidate or not self.journey_in_scope(data, journey):
                    continue
                rate = failure_rate(failed, n)
                rows.append((Where(journey, None, None), "error rate", rate, None, n))
                if n >= minimum:
                    rows[-1] = (*rows[-1][:3], rate_interval(failed, n), n)
        else:
            metric = self.metric if self.metric in (*QUANTILES, "mean", "max") else "p95"
            limit = parse_latency_ms(self.value, what=f"{self.title()}: value")
            unit = "ms"
            for key in self.series(data, iterations=self.step is None):
                # from the histogram, as every summary of the run computes it (harness.telemetry
                # .latency): the gate's p95 is the report's p95
                latency = data.distribution(key.target, key.journey, key.step, key.touchpoint)
                stat = latency.statistic(metric)
                interval: Interval | None = None
                if latency.total == 0:
                    pass
                elif metric == "mean":
                    interval = mean_interval(latency.values_ms, latency.counts)
                elif metric == "max":
                    interval = (lambda v: lambda _level: (v, v))(stat)
                else:
                    q = percentile_of(metric) / 100.0
                    interval = quantile_interval(latency.values_ms, latency.counts, q)
                rows.append((where_of(key), self.metric, stat, interval, latency.total))
        # larger is worse for "<=" / "<": judged as is; for ">=" / ">" judged on the negation
        sign = 1.0 if self.op in ("<=", "<") else -1.0
        tests: list[tuple[int, Comparison]] = []
        for where, metric, stat, interval, n in rows:
            if n < minimum or interval is None:
                found.append(self._short(where, metric, n, minimum, unit))
                continue
            oriented = _oriented(interval, sign)
            tests.append((len(found), Comparison(sign * stat, oriented, sign * limit)))
            found.append(None)
        alpha = gate_alpha(self, self.level)
        decided = decide([t for _, t in tests], level=self.level, alpha=alpha)
        judged = [r for r in rows if r[4] >= minimum and r[3] is not None]
        for (index, _), outcome, row in zip(tests, decided, judged, strict=True):
            found[index] = self._evidence(
                row, outcome.decision, outcome.interval, sign, limit, outcome.level, unit
            )
        return self.outcome([e for e in found if e is not None])

    def _short(self, where: Where, metric: str, n: int, minimum: int, unit: str) -> Evidence:
        return unjudged(
            series=where.label,
            what=f"{metric} of {where.label}",
            test="threshold",
            n_baseline=None,
            n_candidate=n,
            n_needed=minimum,
            counts="samples" if unit == "ms" else "iterations",
            **where.fields(),
        )

    def _evidence(
        self,
        row: tuple[Where, str, float, Interval | None, int],
        decision: str,
        oriented: tuple[float, float],
        sign: float,
        limit: float,
        level: float,
        unit: str,
    ) -> Evidence:
        where, metric, stat, _, n = row
        show = (lambda v: f"{v:.2%}") if unit == "%" else _ms
        low, high = sorted((sign * oriented[0], sign * oriented[1]))
        words = (
            f"{metric} of {where.label} is {show(stat)} ({level_words(level)} CI "
            f"{show(low) if np.isfinite(low) else '−∞'} to "
            f"{show(high) if np.isfinite(high) else '∞'}; limit {self.op} {show(limit)}, n = {n})"
        )
        return Evidence(
            series=where.label,
            decision=DECIDED[decision],
            test="threshold on an interval",
            n_candidate=n,
            candidate=stat,
            estimate=stat,
            interval=(low, high),
            level=level,
            unit=unit,
            words=words,
            **where.fields(),
        )


def _oriented(interval: Interval, sign: float) -> Interval:
    if sign > 0:
        return interval

    def at(level: float) -> tuple[float, float]:
        low, high = interval(level)
        return -high, -low

    return at
