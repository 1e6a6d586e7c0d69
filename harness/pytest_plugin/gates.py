"""`--harness-gates`: tiny threshold expressions judged over a pytest session's records.

    gate   := metric [ "(" scope ")" ] op limit
    metric := p50 | p90 | p95 | p99 | max | mean | error_rate
    scope  := key "=" name { "," key "=" name }      key := journey | step | touchpoint
    op     := "<=" | "<"
    limit  := a latency (800ms, 1.5s) for the latency metrics, a share (1%, 0.01) for error_rate

With a `step` or `touchpoint` in scope a gate reads step records, otherwise whole journey
iterations. Latency statistics use the passed executions only (a failed step's duration says
nothing about speed); a gate with no samples in scope fails, so a typo cannot pass silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from harness.errors import SpecError
from harness.gates.values import parse_latency_ms, parse_share
from harness.records import TOUCHPOINTS, IterationRecord, Outcome, StepRecord
from harness.telemetry.latency import Distribution, failure_rate

QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
METRICS = (*QUANTILES, "max", "mean", "error_rate")
SCOPE_KEYS = ("journey", "step", "touchpoint")
EXAMPLE = '--harness-gates "p95(step=pay)<=800ms" or --harness-gates "error_rate<=1%"'

_GATE = re.compile(
    r"^\s*(?P<metric>[A-Za-z0-9_.]+)\s*(?:\((?P<scope>[^()]*)\))?\s*(?P<op><=|=<|=>|>=|<|>|==|=)"
    r"\s*(?P<limit>.*?)\s*$"
)


@dataclass(frozen=True)
class Threshold:
    """One parsed gate: an upper limit on a statistic of the records in its scope."""

    text: str
    metric: str
    op: str
    limit: float  #: milliseconds, or a fraction for error_rate
    journey: str | None = None
    step: str | None = None
    touchpoint: str | None = None

    @property
    def per_step(self) -> bool:
        """Whether the gate reads step records (else journey iterations)."""
        return self.step is not None or self.touchpoint is not None

    def evaluate(
        self, steps: Sequence[StepRecord], iterations: Sequence[IterationRecord]
    ) -> GateResult:
        """Judge the limit over the records in scope."""
        records: Sequence[StepRecord | IterationRecord] = (
            [s for s in steps if self._in_scope(s)]
            if self.per_step
            else [i for i in iterations if self.journey in (None, i.journey)]
        )
        unit = "steps" if self.per_step else "journeys"
        if not records:
            return GateResult(self, passed=False, value=None, detail=f"no {unit} in scope ran")
        if self.metric == "error_rate":
            failed = sum(1 for r in records if r.outcome is Outcome.FAILED)
            rate = failure_rate(failed, len(records))
            detail = f"{rate:.2%} ({failed} of {len(records)} {unit} failed)"
            return GateResult(self, passed=self._holds(rate), value=rate, detail=detail)
        durations = [r.duration_ms for r in records if r.outcome is Outcome.PASSED]
        if not durations:
            detail = f"no passed {unit} in scope to measure ({len(records)} failed)"
            return GateResult(self, passed=False, value=None, detail=detail)
        # the one definition of each statistic, as every summary and stored-run gate uses it
        value = Distribution.of(durations).statistic(self.metric)
        detail = f"{_ms(value)} (n = {len(durations)})"
        return GateResult(self, passed=self._holds(value), value=value, detail=detail)

    def _in_scope(self, record: StepRecord) -> bool:
        return (
            self.journey in (None, record.journey)
            and self.step in (None, record.step)
            and self.touchpoint in (None, record.touchpoint.value)
        )

    def _holds(self, value: float) -> bool:
        return value <= self.limit if self.op == "<=" else value < self.limit


@dataclass(frozen=True)
class GateResult:
    """How one gate came out, with the measured value and the evidence in words."""

    gate: Threshold
    passed: bool
    value: float | None
    detail: str

    def line(self) -> str:
        """`✓ p95(step=pay)<=800ms: 412 ms (n = 4)`."""
        return f"{'✓' if self.passed else '✗'} {self.gate.text}: {self.detail}"


def parse_gate(text: str) -> Threshold:
    """Parse one `--harness-gates` expression; raises `SpecError` saying what is allowed."""
    match = _GATE.match(text)
    if match is None:
        raise SpecError(_malformed(text, "expected METRIC[(SCOPE)] <= LIMIT"))
    metric = match["metric"].lower()
    if metric not in METRICS:
        raise SpecError(_malformed(text, f"unknown metric {metric!r}; use {', '.join(METRICS)}"))
    op = match["op"]
    if op not in ("<=", "<"):
        raise SpecError(_malformed(text, f"{op!r}: a gate is an upper limit, write <= or <"))
    scope = _scope(text, match["scope"])
    limit_text = match["limit"]
    if not limit_text:
        raise SpecError(_malformed(text, "the limit is missing"))
    try:
        if metric == "error_rate":
            limit = parse_share(limit_text, what="the limit")
        else:
            if limit_text.endswith("%"):
                raise SpecError(f"{metric} is a latency; write the limit as 800ms or 1.5s")
            limit = parse_latency_ms(limit_text, what="the limit")
    except SpecError as exc:
        raise SpecError(_malformed(text, str(exc))) from None
    return Threshold(text=text.strip(), metric=metric, op=op, limit=limit, **scope)


def parse_gates(texts: Sequence[str]) -> list[Threshold]:
    """Parse every `--harness-gates` expression."""
    return [parse_gate(text) for text in texts]


def _scope(text: str, raw: str | None) -> dict[str, str]:
    if raw is None:
        return {}
    scope: dict[str, str] = {}
    for part in raw.split(","):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise SpecError(_malformed(text, f"scope {part.strip()!r} is not KEY=NAME"))
        if key not in SCOPE_KEYS:
            raise SpecError(
                _malformed(text, f"unknown scope key {key!r}; use {', '.join(SCOPE_KEYS)}")
            )
        if key == "touchpoint" and value not in TOUCHPOINTS:
            allowed = ", ".join(TOUCHPOINTS)
            raise SpecError(_malformed(text, f"touchpoint {value!r} is not one of {allowed}"))
        scope[key] = value
    return scope


def _malformed(text: str, why: str) -> str:
    return f"--harness-gates {text!r} is not a gate: {why}. Example: {EXAMPLE}"


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"
