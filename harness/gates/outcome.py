"""What a gate returns: a decision and the evidence behind it, in numbers and in plain words."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: How many unjudged series a summary names before "and N more".
NAMED = 3


class Decision(StrEnum):
    """A gate's (or the whole verdict's) decision."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


class Evidence(BaseModel):
    """One series (a step, a journey, a window) of a gate: judged, or why not and what it
    would take."""

    model_config = ConfigDict(frozen=True)

    series: str
    decision: Decision
    test: str
    n_baseline: int | None = None  #: None: the gate reads the candidate alone
    n_candidate: int
    baseline: float | None = None  #: the statistic on the baseline side
    candidate: float | None = None  #: the statistic on the candidate side
    estimate: float | None = None  #: ratio, difference or score the decision is made on
    interval: tuple[float, float] | None = None
    level: float | None = None
    unit: str = ""
    words: str = ""  #: the finding in plain words
    trace_ids: list[str] = Field(default_factory=list)
    journey: str | None = None  #: the series' journey; None for a series of every journey
    step: str | None = None  #: its step; None for the journey as a whole
    touchpoint: str | None = None
    #: False when the gate could not test this series (too few samples, or no data on a side)
    judged: bool = True
    #: per side, what the gate needs to decide this series: its minimum when not judged, or
    #: (judged but undecided) where its interval would clear the margin at the same estimate
    n_needed: int | None = None
    counts: str = "samples"  #: what n counts: samples, per-second points, iterations, traces
    #: the run length in minutes that gives `n_needed` per side at the rate this run measured
    minutes_needed: float | None = None
    #: minimum detectable effect: the smallest true change (as a share, 0.12 = +12%) this run
    #: would fail with 80% chance; None where the gate does not say
    mde: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _older_records(cls, raw: Any) -> Any:
        # verdict.json written before `judged` existed: an inconclusive series without an
        # estimate was one the gate could not test.
        if isinstance(raw, dict) and "judged" not in raw:
            unjudged = raw.get("decision") == Decision.INCONCLUSIVE and raw.get("estimate") is None
            raw = {**raw, "judged": not unjudged}
        return raw

    @property
    def short(self) -> bool:
        """Whether more samples are what this series lacks (it has a figure to reach)."""
        return self.decision is Decision.INCONCLUSIVE and self.n_needed is not None

    def shortfall(self) -> str:
        """`n = 8 / 8 of 100 needed per side; ≈ 12 min at this run's rate` (n alone without
        a figure needed)."""
        what = "" if self.counts == "samples" else f" {self.counts}"
        if self.n_baseline is None:
            n = f"n = {self.n_candidate:,}"
            need = f" of {self.n_needed:,}{what} needed" if self.n_needed is not None else what
        else:
            n = f"n = {self.n_baseline:,} / {self.n_candidate:,}"
            need = (
                f" of {self.n_needed:,}{what} needed per side"
                if self.n_needed is not None
                else what
            )
        return n + need + self._time_words()

    def _time_words(self) -> str:
        if not self.short:
            return ""
        if self.minutes_needed is not None:
            return f"; {minutes(self.minutes_needed)} at this run's rate"
        empty = [
            side
            for side, n in (("baseline", self.n_baseline), ("candidate", self.n_candidate))
            if n == 0
        ]
        if empty:
            return f"; none on the {' and '.join(empty)}: a longer run would not help"
        return ""

    def at_rate(self, run_s: float | None) -> Evidence:
        """This evidence with `minutes_needed` filled in from the rate this run measured: `n`
        per side over `run_s` seconds of run. Unchanged when nothing is needed."""
        if not self.short or self.n_needed is None or self.minutes_needed is not None:
            return self
        if not run_s or run_s <= 0:
            return self
        sides = [n for n in (self.n_baseline, self.n_candidate) if n is not None]
        slowest = min(sides)
        if slowest <= 0:
            return self
        needed = self.n_needed / (slowest / run_s) / 60.0
        timed = self.model_copy(update={"minutes_needed": round(needed, 2)})
        words = timed._time_words()
        return timed.model_copy(update={"words": self.words + words}) if words else timed


def minutes(value: float) -> str:
    """A run length in words: `under 1 min`, `≈ 12 min`, `≈ 3.5 h`."""
    if value < 1:
        return "under 1 min"
    if value < 120:
        return f"≈ {math.ceil(value):,} min"
    return f"≈ {value / 60:,.1f} h"


def unjudged(
    *,
    series: str,
    what: str,
    test: str,
    n_baseline: int | None,
    n_candidate: int,
    n_needed: int | None,
    counts: str = "samples",
    journey: str | None = None,
    step: str | None = None,
    touchpoint: str | None = None,
) -> Evidence:
    """The evidence of a series the gate could not test: `what` says of what (`p95 of step
    pay …`); the words give n per side against the n needed."""
    evidence = Evidence(
        series=series,
        decision=Decision.INCONCLUSIVE,
        test=test,
        n_baseline=n_baseline,
        n_candidate=n_candidate,
        journey=journey,
        step=step,
        touchpoint=touchpoint,
        judged=False,
        n_needed=n_needed,
        counts=counts,
    )
    return evidence.model_copy(update={"words": f"{what}: not judged, {evidence.shortfall()}"})


def needed_to_decide(
    n: int, estimate: float, interval: tuple[float, float], limit: float
) -> int | None:
    """Per side, about how many samples would put the interval clear of `limit` if the
    estimate stayed where it is: the interval's half-width shrinks as 1/√n. None when the
    estimate sits on the limit (no run length decides it)."""
    low, high = interval
    if estimate < limit:
        reach, room = high - estimate, limit - estimate
    elif estimate > limit:
        reach, room = estimate - low, estimate - limit
    else:
        return None
    if room <= 0 or reach <= 0:
        return None
    return max(n + 1, math.ceil(n * (reach / room) ** 2))


class GateOutcome(BaseModel):
    """One configured gate's result."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    decision: Decision
    summary: str
    critical: bool = False
    group: str | None = None
    weight: float | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    #: the gate's one-sided false-FAIL rate in its verdict (None: not a comparing gate)
    alpha: float | None = None
    #: a metric gate's provider, query and each side's points (`harness.gates.metric`)
    metric: dict[str, Any] | None = None

    @classmethod
    def combine(
        cls,
        *,
        name: str,
        kind: str,
        evidence: list[Evidence],
        critical: bool = False,
        group: str | None = None,
        weight: float | None = None,
    ) -> GateOutcome:
        """A multi-series gate: it fails when any series fails (naming them); it passes only
        when every series in its scope was judged and passed; otherwise it is inconclusive,
        naming the series it could not judge (n per side against the n needed) and those whose
        interval straddles the limit. A gate with no series in scope is inconclusive."""
        failed = [e for e in evidence if e.decision is Decision.FAIL]
        errors = [e for e in evidence if e.decision is Decision.ERROR]
        undecided = [e for e in evidence if e.decision is Decision.INCONCLUSIVE and e.judged]
        missing = [e for e in evidence if not e.judged]
        if errors:
            decision, summary = Decision.ERROR, errors[0].words
        elif failed:
            decision = Decision.FAIL
            summary = _listed([e.words for e in failed])
            if missing:
                summary += f" ({_series_count(missing)} not judged)"
        elif not evidence:
            decision, summary = Decision.INCONCLUSIVE, "no series in the gate's scope"
        elif len(evidence) == 1 and evidence[0].decision is not Decision.PASS:
            decision, summary = Decision.INCONCLUSIVE, evidence[0].words
        elif undecided or missing:
            decision = Decision.INCONCLUSIVE
            parts = [_listed([e.words for e in undecided])] if undecided else []
            if missing:
                parts.append(_not_judged(missing, evidence))
            summary = "; ".join(parts)
        else:
            decision = Decision.PASS
            series = {e.series for e in evidence}
            if len(evidence) == 1:
                summary = evidence[0].words
            elif len(series) == 1:
                summary = f"{evidence[0].series} within limits on all {len(evidence)} tests"
            else:
                summary = f"all {len(series)} series within limits"
        return cls(
            name=name,
            kind=kind,
            decision=decision,
            summary=summary,
            critical=critical,
            group=group,
            weight=weight,
            evidence=evidence,
        )

    def at_rate(self, run_s: float | None) -> GateOutcome:
        """This outcome with each short series timed at this run's rate (`Evidence.at_rate`)
        and the summary saying so."""
        if not any(e.short for e in self.evidence):
            return self
        return GateOutcome.combine(
            name=self.name,
            kind=self.kind,
            evidence=[e.at_rate(run_s) for e in self.evidence],
            critical=self.critical,
            group=self.group,
            weight=self.weight,
        ).model_copy(update={"metric": self.metric})


def _listed(words: list[str]) -> str:
    shown = "; ".join(words[:NAMED])
    return shown + (f"; and {len(words) - NAMED} more" if len(words) > NAMED else "")


def _series_count(evidence: list[Evidence]) -> str:
    n = len({e.series for e in evidence})
    return f"{n} series" if n != 1 else "1 series"


def _not_judged(missing: list[Evidence], evidence: list[Evidence]) -> str:
    """`not judged on 3 of 16 series: step a (n = …); …; and 1 more`: per series the test that
    needs the most, the longest wait first."""
    worst: dict[str, Evidence] = {}
    for e in missing:
        kept = worst.get(e.series)
        if kept is None or (e.n_needed or 0) > (kept.n_needed or 0):
            worst[e.series] = e
    # the longest wait first; a series with an empty side (no wait helps) before all
    ranked = sorted(worst.items(), key=lambda kv: -(kv[1].minutes_needed or math.inf))
    named = [f"{series} ({e.shortfall()})" for series, e in ranked]
    total = len({e.series for e in evidence})
    head = f"not judged on {len(worst)} of {total} series: "
    shown = "; ".join(named[:NAMED])
    return head + shown + (f"; and {len(named) - NAMED} more" if len(named) > NAMED else "")
