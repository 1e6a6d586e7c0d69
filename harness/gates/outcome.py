"""What a gate returns: a decision and the evidence behind it, in numbers and in plain words."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Decision(StrEnum):
    """A gate's (or the whole verdict's) decision."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


class Evidence(BaseModel):
    """One judged series (a step, a journey, a window) of a gate."""

    model_config = ConfigDict(frozen=True)

    series: str
    decision: Decision
    test: str
    n_baseline: int | None = None
    n_candidate: int
    baseline: float | None = None  #: the statistic on the baseline side
    candidate: float | None = None  #: the statistic on the candidate side
    estimate: float | None = None  #: ratio, difference or score the decision is made on
    interval: tuple[float, float] | None = None
    level: float | None = None
    unit: str = ""
    words: str = ""  #: the finding in plain words
    trace_ids: list[str] = Field(default_factory=list)


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
        nothing: str = "not enough samples on any series",
    ) -> GateOutcome:
        """A multi-series gate: it fails when any series fails (naming them); it is inconclusive
        when a series is suspect (its estimate is past the limit but its interval is not) or when
        no series had enough samples; otherwise it passes. Series with too few samples (no
        estimate) are listed but do not hold the gate up."""
        failed = [e for e in evidence if e.decision is Decision.FAIL]
        judged = [e for e in evidence if e.decision is not Decision.INCONCLUSIVE]
        suspect = [
            e for e in evidence if e.decision is Decision.INCONCLUSIVE and e.estimate is not None
        ]
        errors = [e for e in evidence if e.decision is Decision.ERROR]
        if errors:
            decision, summary = Decision.ERROR, errors[0].words
        elif failed:
            decision = Decision.FAIL
            summary = "; ".join(e.words for e in failed[:3])
            if len(failed) > 3:
                summary += f"; and {len(failed) - 3} more"
        elif suspect:
            decision = Decision.INCONCLUSIVE
            summary = "; ".join(e.words for e in suspect[:3])
        elif not judged:
            decision = Decision.INCONCLUSIVE
            summary = evidence[0].words if len(evidence) == 1 else nothing
        else:
            decision = Decision.PASS
            summary = (
                judged[0].words
                if len(judged) == 1
                else f"{len(judged)} series within limits"
                + (
                    f" ({len(evidence) - len(judged)} not judged: too few samples)"
                    if len(judged) < len(evidence)
                    else ""
                )
            )
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
