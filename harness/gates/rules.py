"""The gate kinds: small frozen models registered by `kind`, each with `evaluate(data)`.

Configured in `harness.toml` as `[[gates]]` tables (see `harness.gates.config`); every outcome
carries its evidence (samples per side, estimate, interval, the test used, example trace ids).
Statistical gates need a minimum of samples: too few is `inconclusive`, never `pass`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import Field

from harness.errors import SpecError
from harness.gates.base import GateBase, where_of
from harness.gates.data import RunData
from harness.gates.family import Comparison, Decided, decide, gate_alpha, level_words
from harness.gates.outcome import Decision, Evidence, GateOutcome, needed_to_decide, unjudged
from harness.gates.values import parse_share
from harness.telemetry.hdr import SeriesKey

if TYPE_CHECKING:
    from harness.gates.tail_paired import TailBlocks

QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "p99.9": 0.999}
QUANTILES["p75"] = 0.75  # where Web Vitals are assessed (`metric = "lcp"`, harness.gates.vitals)
#: Below its minimum a series can still fail on overwhelming evidence, never pass; under this
#: many samples it is not judged at all.
FAIL_FLOOR = 100


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


_level = level_words


def _pct(value: float) -> str:
    return f"{value:+.0%}"


class RelativeGate(GateBase):
    """Candidate no worse than baseline by a margin, on a confidence interval: bootstrap of the
    quantile ratio for latency, Newcombe's interval of the difference for error rates. A series
    passes when its interval at `level` lies within the margin and fails when Holm's step-down
    at the gate's `alpha` puts it beyond; otherwise it is inconclusive."""

    kind: Literal["relative"] = "relative"
    metric: str = "p95"
    margin: str | float = "10%"
    #: error rates only: fail when significantly above this and not shown within the margin
    #: (a deterioration test, as the paired gate's); None: fail only beyond the margin
    fail_margin: str | float | None = None
    level: float = 0.95
    comparing: ClassVar[bool] = True

    def evaluate(self, data: RunData) -> GateOutcome:
        """Judge each series in scope against the baseline."""
        refused = self.without_baseline(data)
        if refused is not None:
            return refused
        if self.metric == "error_rate":
            margin = parse_share(self.margin, what="margin")
            fail = margin
            if self.fail_margin is not None:
                fail = parse_share(self.fail_margin, what=f"{self.title()}: fail_margin")
            if fail > margin:
                raise SpecError(
                    f"{self.title()}: fail_margin {self.fail_margin} is above the margin "
                    f"{self.margin}"
                )
            from harness.gates.error_rate import error_rate_evidence

            return self.outcome(error_rate_evidence(self, data, margin, self.level, fail))
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
    gate: GateBase,
    data: RunData,
    jobs: list[Job],
    margin: float,
    paired: dict[tuple[SeriesKey, str], TailBlocks] | None = None,
    fail_margin: float = 0.0,
) -> list[Evidence]:
    """Each job's evidence, the gate's fails decided together by Holm's step-down. Each job
    passes on a bootstrap of the two samples; it fails on the low end of its paired interval
    where `paired` has one (`harness.gates.tail_paired`: significantly above `fail_margin`, and
    not shown within the margin), else on the bootstrap's (beyond the margin)."""
    from harness.gates import tail_paired
    from harness.gates.stats import bootstrap_ratio_draws, percentile_interval

    assert data.baseline is not None
    level = float(getattr(gate, "level", 0.95))
    limit = 1.0 + margin
    found: list[Evidence | None] = []
    tests: list[tuple[int, Comparison, Callable[[Decided], Evidence]]] = []
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

        test = Comparison(ratio, interval, limit, can_pass=n >= minimum)
        blocks = (paired or {}).get((key, metric))
        if blocks is not None:  # a fail rests on the paired low end, a pass as before
            test = Comparison(
                ratio,
                tail_paired.fail_side(blocks, interval),
                limit,
                can_pass=n >= minimum,
                fail_limit=1.0 + fail_margin,
            )

        def said(
            outcome: Decided,
            c: Comparison = test,
            j: Job = job,
            b: np.ndarray = base,
            x: np.ndarray = cand,
            t: TailBlocks | None = blocks,
        ) -> Evidence:
            return _ratio_evidence(data, j, c, outcome, b, x, margin, t)

        tests.append((len(found), test, said))
        found.append(None)
    decided = decide([t[1] for t in tests], level=level, alpha=gate_alpha(gate, level))
    for (index, _, make), outcome in zip(tests, decided, strict=True):
        found[index] = make(outcome)
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
    paired: TailBlocks | None = None,
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
    how = "" if paired is None else f", low end paired over {paired.rows} seconds"
    words = (
        f"{metric} of {label} {verb} {abs(ratio - 1):.0%} ({_ms(b)} → {_ms(c)}, "
        f"{_level(outcome.level)} CI {_pct(low - 1)} to {_pct(high - 1)}{how}, "
        f"margin +{margin:.0%}, n = {len(base):,} / {len(cand):,})"
        + (f"; about {needed:,} per side would decide it" if needed else "")
        + outcome.words()
    )
    return Evidence(
        series=label,
        decision=decision,
        test=f"bootstrap ratio of {metric}"
        + ("" if paired is None else f"; fails on paired exceedances ({paired.paired.method})"),
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


class TailShiftGate(GateBase):
    """Quantile shift of the slowest requests (p95, p99 by default): catches regressions that
    only hit the tail, which Mann-Whitney misses. Every (series, quantile) is one test of the
    gate's Holm family. Where a step has enough seconds, a quantile is judged paired over
    blocks of a few seconds (`harness.gates.tail_paired`) and fails when significantly above
    `fail_margin` and not shown within the margin (a deterioration test, as the paired gate's);
    else on a bootstrap of the two samples, failing only beyond the margin."""

    kind: Literal["tail_shift"] = "tail_shift"
    quantiles: list[str] = Field(default_factory=lambda: ["p95", "p99"])
    margin: str | float = "10%"
    fail_margin: str | float = "0%"
    #: judge paired blocks where a step has them; False: always the unpaired bootstrap
    paired: bool = True
    level: float = 0.95
    comparing: ClassVar[bool] = True

    def evaluate(self, data: RunData) -> GateOutcome:
        """Judge each step (or the one named) on each quantile that has enough samples."""
        from harness.gates import tail_paired

        refused = self.without_baseline(data)
        if refused is not None:
            return refused
        margin = parse_share(self.margin, what=f"{self.title()}: margin")
        fail_margin = parse_share(self.fail_margin, what=f"{self.title()}: fail_margin")
        if fail_margin > margin:
            raise SpecError(
                f"{self.title()}: fail_margin {self.fail_margin} is above the margin {self.margin}"
            )
        jobs = []
        blocks: dict[tuple[SeriesKey, str], TailBlocks] = {}
        for key in self.series(data):
            for metric in self.quantiles:
                q = QUANTILES[metric]
                # Do not gate p95 on fewer than ~200 samples, nor p99 on fewer than ~1,000: a
                # quantile needs about ten observations above it (reference §6.2).
                minimum = self.min_samples or max(200, int(10 / (1 - q)))
                jobs.append((key, q, metric, minimum))
                found = tail_paired.tail_blocks(data, key, metric, q) if self.paired else None
                if found is not None:
                    blocks[(key, metric)] = found
        pooled = {id(t) for t in tail_paired.pool(list(blocks.values()))}
        blocks = {k: t for k, t in blocks.items() if id(t) in pooled}
        return self.outcome(_quantile_family(self, data, jobs, margin, blocks, fail_margin))


# the gate kinds that live in modules of their own, importable from here as before
from harness.gates.kayenta_gate import MannWhitneyGate  # noqa: E402
from harness.gates.paired import PairedGate  # noqa: E402
from harness.gates.threshold import ThresholdGate  # noqa: E402

__all__ = [
    "FAIL_FLOOR",
    "QUANTILES",
    "MannWhitneyGate",
    "PairedGate",
    "RelativeGate",
    "TailShiftGate",
    "ThresholdGate",
]
