"""The `metric` gate: the target's own telemetry (server error ratio, CPU, SQL time), fetched
from a metric provider (`[providers.NAME]`, `harness.run.providers`) per side over the run's
window, judged like the harness's own series.

The points of both sides share their timestamps (one range query per side on one grid), so
each timestamp gives one paired difference, candidate minus baseline, and the judge is the
paired gate's: Newey-West errors over the differences (consecutive points of a `rate()` overlap),
an interval at `level`, and the gate's share of the verdict's false-FAIL rate. A fetch error is
the gate's `error` with the provider's message; an empty result is `inconclusive`, naming the
query."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from harness.durations import parse_duration
from harness.errors import SpecError
from harness.gates.base import GateBase
from harness.gates.data import RunData
from harness.gates.family import Comparison, decide, gate_alpha, level_words
from harness.gates.metric_series import FetchedMetric, read_metrics
from harness.gates.outcome import Decision, Evidence, GateOutcome, unjudged

__all__ = ["MetricGate", "MetricLimit", "expand_query"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
DECIDED = {"pass": Decision.PASS, "fail": Decision.FAIL, "inconclusive": Decision.INCONCLUSIVE}


def expand_query(query: str, labels: dict[str, str]) -> str:
    """`query` with each `{name}` replaced by its label (`{release}`, `{target}`, `{side}`, or
    any of `[targets.X] labels`); PromQL's own braces (`{code=~"5.."}`) are left alone.
    Raises `SpecError` naming a placeholder no label fills."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in labels:
            known = ", ".join(sorted(labels)) or "none"
            raise SpecError(
                f"query {query!r} uses {{{name}}}, which no label of the side gives "
                f'(labels: {known}); add it to [targets.NAME] labels = {{ {name} = "..." }}'
            )
        return labels[name].replace("\\", "\\\\").replace('"', '\\"')

    return _PLACEHOLDER.sub(fill, query)


class MetricLimit:
    """A margin or threshold: `20%` (relative to the baseline's mean), `0.5pp` (percentage
    points: 0.005 absolute), or a number in the query's own units."""

    def __init__(self, text: str | float, *, what: str) -> None:
        self.text = str(text)
        self.relative = False
        if isinstance(text, int | float):
            self.value = float(text)
            return
        match = re.fullmatch(r"([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*(%|pp)?", text.strip())
        if match is None:
            raise SpecError(f"{what} = {text!r}: write e.g. 20% (relative), 0.5pp or 0.02")
        number = float(match.group(1))
        self.relative = match.group(2) == "%"
        self.value = number / 100.0 if match.group(2) else number

    def absolute(self, baseline_mean: float) -> float:
        """The limit in the query's units, given the baseline's mean."""
        return self.value * abs(baseline_mean) if self.relative else self.value


class MetricGate(GateBase):
    """A query judged on both sides' points: `relative` (or `paired`: the same) fails when the
    candidate is worse than the baseline by more than `margin`; `threshold` fails when the
    candidate's mean is beyond `value`; `mann_whitney` is Kayenta's judge on the two sets of
    points (its tolerance, not `margin`). `direction = "decrease"` when lower is worse."""

    kind: Literal["metric"] = "metric"
    provider: str = "prometheus"
    query: str
    judge: Literal["relative", "paired", "threshold", "mann_whitney"] = "relative"
    margin: str | float = "10%"
    value: str | float | None = None  #: the limit of a `threshold` judge
    direction: Literal["increase", "decrease"] = "increase"
    #: the provider's step between points (Prometheus' `step`)
    resolution: str = "1s"
    #: points in the window's first seconds left out (a `rate(...[30s])` fills for 30 s), as
    #: Kayenta's warm-up and Argo's `initialDelay`
    warmup: str | None = None
    level: float = 0.95
    #: "robust": fixed-b t with few degrees of freedom (points drift together for tens of
    #: seconds); "short": only point-to-point dependence, more power on short runs
    drift: Literal["robust", "short"] = "robust"
    #: below it a series is not judged: on fewer points of a drifting metric the interval is too
    #: narrow (identical sides, AR(0.8) drift, margin 0: 14% false FAIL at 10 points, 5% at 30,
    #: 0.6% at 120 against a nominal 0.6%)
    min_points: int = Field(default=30, ge=2)
    comparing: ClassVar[bool] = True

    @property
    def resolution_s(self) -> float:
        """Seconds between points."""
        return parse_duration(self.resolution, what=f"{self.title()}: resolution")

    def evaluate(self, data: RunData) -> GateOutcome:
        """Judge the fetched points of this gate's query (see the module)."""
        if self.judge != "threshold":
            refused = self.without_baseline(data)
            if refused is not None:
                return refused
        fetched = self.fetched(data)
        if fetched is None:
            return self._alone(
                Decision.INCONCLUSIVE,
                f"{self.query!r} was not fetched from {self.provider} for this run "
                "(a stored run judged with a new query, or a run without providers)",
            )
        sides = self._sides(data)
        for side in sides:
            got = fetched.sides.get(side)
            if got is not None and got.error is not None:
                return self._alone(Decision.ERROR, f"{self.provider} on the {side}: {got.error}")
        infinite = self._infinitely_worse(sides, fetched)
        if infinite is not None:
            return self._alone(Decision.FAIL, infinite, fetched)
        for side in sides:
            got = fetched.sides.get(side)
            if got is None or not got.points:
                query = got.query if got is not None else self.query
                words = f"query {query!r} returned no data on the {side} from {self.provider}"
                if got is not None and got.nonfinite:
                    words = (
                        f"query {query!r} returned no number on the {side} from "
                        f"{self.provider}: {_spelled(got.nonfinite)} (0/0 is NaN: e.g. a ratio "
                        "over seconds without requests)"
                    )
                return self._alone(Decision.INCONCLUSIVE, words, fetched)
        return self._judged(data, fetched)

    def _infinitely_worse(self, sides: list[str], fetched: FetchedMetric) -> str | None:
        """Why the gate fails when the candidate's value is infinite in the worse direction
        (`+Inf` from x/0; `-Inf` with `direction = "decrease"`) at a point where the
        baseline's is not: the mean difference the judge takes would be infinite, so those
        points cannot be left out as NaN's are. None when there are none."""
        worse = "+Inf" if self.direction == "increase" else "-Inf"
        candidate = fetched.sides.get(sides[-1])
        baseline = fetched.sides.get(sides[0]) if len(sides) == 2 else None
        if candidate is None or (len(sides) == 2 and baseline is None):
            return None
        times = [t for t, value in candidate.nonfinite if value == worse]
        if baseline is not None and times:
            there = {t for t, _ in baseline.points}
            there |= {t for t, value in baseline.nonfinite if value != worse}
            times = [t for t in times if t in there]
            where = "where the baseline's was not"
        else:
            where = "beyond any limit"
        if not times:
            return None
        offset = times[0] - fetched.start
        return (
            f"{self._label()} was {worse} on the {sides[-1]} at {len(times)} point(s) {where} "
            f"(first {offset:.0f} s into the window; x/0: a ratio whose denominator fell to 0)"
        )

    def fetched(self, data: RunData) -> FetchedMetric | None:
        """This gate's query as fetched for the run (live data first, else `metrics.json`)."""
        records = data.metrics if data.metrics is not None else read_metrics(data.run_dir)
        key = (self.provider, self.query, self.resolution_s)
        found = next((m for m in records if m.key == key), None)
        if found is None or self.warmup is None:
            return found
        skip = parse_duration(self.warmup, what=f"{self.title()}: warmup")
        sides = {name: side.within(found.start + skip) for name, side in found.sides.items()}
        return found.model_copy(update={"sides": sides})

    def _sides(self, data: RunData) -> list[str]:
        if self.judge == "threshold" or data.baseline is None:
            return ["candidate" if data.baseline is not None else "target"]
        return ["baseline", "candidate"]

    def _alone(
        self, decision: Decision, words: str, fetched: FetchedMetric | None = None
    ) -> GateOutcome:
        """An outcome without a judged series: an error or an empty result."""
        evidence = unjudged(
            series=self._label(),
            what=self._label(),
            test=self._test(),
            n_baseline=None if self.judge == "threshold" else 0,
            n_candidate=0,
            n_needed=None,
            counts="points",
        ).model_copy(update={"decision": decision, "words": words})
        outcome = self.outcome([evidence])
        return outcome.model_copy(
            update={"decision": decision, "summary": words, "metric": self._record(fetched)}
        )

    def _label(self) -> str:
        return f"metric `{self.name or self.query}`"

    def _test(self) -> str:
        if self.judge == "threshold":
            return "mean of points against a limit (Newey-West)"
        return "paired per-point difference (Newey-West)"

    def _record(self, fetched: FetchedMetric | None) -> dict[str, Any]:
        """What verdict.json keeps: the provider, the query and each side's points."""
        found: dict[str, Any] = {"provider": self.provider, "query": self.query}
        if fetched is not None:
            found.update(
                kind=fetched.kind,
                resolution_s=fetched.resolution_s,
                window=[fetched.start, fetched.end],
                sides={name: side.model_dump() for name, side in fetched.sides.items()},
            )
        return found

    def _judged(self, data: RunData, fetched: FetchedMetric) -> GateOutcome:
        from harness.gates.paired import Paired

        if self.judge == "mann_whitney":
            return self._kayenta(fetched)

        sign = 1.0 if self.direction == "increase" else -1.0
        if self.judge == "threshold":
            cand = dict(fetched.sides[self._sides(data)[0]].points)
            times = sorted(cand)
            values = np.array([cand[t] for t in times])
            base_mean = None
            if self.value is None:
                raise SpecError(f"{self.title()}: a threshold judge needs `value` (e.g. 0.8)")
            limit = sign * MetricLimit(self.value, what=f"{self.title()}: value").value
            series = sign * values
        else:
            base = dict(fetched.sides["baseline"].points)
            cand = dict(fetched.sides["candidate"].points)
            times = sorted(set(base) & set(cand))
            values = np.array([cand[t] for t in times])
            base_values = np.array([base[t] for t in times])
            base_mean = float(base_values.mean()) if times else 0.0
            limit = MetricLimit(self.margin, what=f"{self.title()}: margin").absolute(base_mean)
            series = sign * (values - base_values)
        n = len(times)
        if n < self.min_points:
            return self._short(fetched, n)
        stat = Paired(series, n, n, robust=self.drift == "robust")
        test = Comparison(stat.mean, stat.interval, limit)
        outcome = decide([test], level=self.level, alpha=gate_alpha(self, self.level))[0]
        decision = DECIDED.get(outcome.decision, Decision.INCONCLUSIVE)
        low, high = (sign * v for v in outcome.interval)
        low, high = min(low, high), max(low, high)
        cand_mean = float(values.mean())
        what = self._label()
        if base_mean is None:
            words = (
                f"{what} mean {_num(cand_mean)} over {n} points "
                f"({level_words(outcome.level)} CI {_num(low)} to {_num(high)}, "
                f"limit {_num(sign * limit)})"
            )
        else:
            change = cand_mean - base_mean
            relative = f", {change / base_mean:+.0%}" if base_mean else ""
            words = (
                f"{what} {_num(base_mean)} → {_num(cand_mean)} ({_num(change, signed=True)}"
                f"{relative}; {level_words(outcome.level)} CI {_num(low, signed=True)} to "
                f"{_num(high, signed=True)}, margin {_margin(self.margin, sign, limit)}, "
                f"{n} paired points)"
            )
        left_out = _left_out(fetched, self._sides(data))
        if left_out:
            words = f"{words}; left out: {left_out}"
        decision, words = self._warned(decision, words, fetched, self._sides(data))
        evidence = Evidence(
            series=what,
            decision=decision,
            test=self._test(),
            n_baseline=None if base_mean is None else n,
            n_candidate=n,
            baseline=base_mean,
            candidate=cand_mean,
            estimate=sign * stat.mean,
            interval=(low, high),
            level=outcome.level,
            unit=self.query,
            words=words + outcome.words(),
            counts="points",
        )
        return self.outcome([evidence]).model_copy(update={"metric": self._record(fetched)})

    def _kayenta(self, fetched: FetchedMetric) -> GateOutcome:
        """Kayenta's NetflixACAJudge on the two sides' points, at the gate's alpha."""
        from harness.gates.kayenta import Label, MetricConfig, classify_metric

        base = np.array([v for _, v in fetched.sides["baseline"].points])
        cand = np.array([v for _, v in fetched.sides["candidate"].points])
        n = min(len(base), len(cand))
        if n < self.min_points:
            return self._short(fetched, n)
        level = 1.0 - 2.0 * gate_alpha(self, self.level)
        config = MetricConfig(direction=self.direction, critical=self.critical)
        found = classify_metric(self._label(), base, cand, config, conf_level=level)
        decision = {
            Label.HIGH: Decision.FAIL,
            Label.LOW: Decision.FAIL,
            Label.PASS: Decision.PASS,
            Label.ERROR: Decision.ERROR,
        }.get(found.label, Decision.INCONCLUSIVE)
        interval = None if found.low is None or found.high is None else (found.low, found.high)
        words = (
            f"{self._label()} {_num(float(base.mean()))} → {_num(float(cand.mean()))} "
            f"(Mann-Whitney, Kayenta: {found.label.value}; {found.reason}; "
            f"{level_words(level)}, {len(base)} / {len(cand)} points)"
        )
        left_out = _left_out(fetched, ["baseline", "candidate"])
        if left_out:
            words = f"{words}; left out: {left_out}"
        decision, words = self._warned(decision, words, fetched, ["baseline", "candidate"])
        evidence = Evidence(
            series=self._label(),
            decision=decision,
            test="Mann-Whitney (Kayenta)",
            n_baseline=len(base),
            n_candidate=len(cand),
            baseline=float(base.mean()),
            candidate=float(cand.mean()),
            estimate=found.estimate,
            interval=interval,
            level=level,
            unit=self.query,
            words=words,
            counts="points",
        )
        return self.outcome([evidence]).model_copy(update={"metric": self._record(fetched)})

    def _warned(
        self, decision: Decision, words: str, fetched: FetchedMetric, sides: list[str]
    ) -> tuple[Decision, str]:
        """The decision and words once the provider's warnings and infos are said: a warned
        answer may be partial (a remote store that failed), too little to pass on, so a pass
        becomes inconclusive; a fail stands."""
        warned = [(side, text) for side in sides for text in fetched.sides[side].warnings]
        for side, text in warned:
            words = f"{words}; {self.provider} warned on the {side}: {text}"
        for side in sides:
            for text in fetched.sides[side].infos:
                words = f"{words}; {self.provider} noted on the {side}: {text}"
        if warned and decision is Decision.PASS:
            decision = Decision.INCONCLUSIVE
            words = f"{words} (a warned answer may be partial: not enough to pass)"
        return decision, words

    def _short(self, fetched: FetchedMetric, n: int) -> GateOutcome:
        evidence = unjudged(
            series=self._label(),
            what=self._label(),
            test=self._test(),
            n_baseline=None if self.judge == "threshold" else n,
            n_candidate=n,
            n_needed=self.min_points,
            counts="points",
        )
        return self.outcome([evidence]).model_copy(update={"metric": self._record(fetched)})


def _spelled(points: Sequence[tuple[float, str]]) -> str:
    """`60 points NaN` or `3 points NaN, 2 +Inf`."""
    counts = Counter(value for _, value in points)
    found = ", ".join(f"{n} {value}" for value, n in sorted(counts.items()))
    return f"{len(points)} point(s) not a number ({found})"


def _left_out(fetched: FetchedMetric, sides: list[str]) -> str:
    """The points not judged because their value was not a number, per side."""
    found = [
        f"{_spelled(fetched.sides[side].nonfinite)} on the {side}"
        for side in sides
        if fetched.sides[side].nonfinite
    ]
    return "; ".join(found)


def _num(value: float, *, signed: bool = False) -> str:
    if not math.isfinite(value):
        return str(value)
    text = f"{value:+.4g}" if signed else f"{value:.4g}"
    return text


def _margin(margin: str | float, sign: float, limit: float) -> str:
    direction = "+" if sign > 0 else "-"
    return f"{direction}{margin} ({direction}{abs(limit):.4g})"
