"""From gate outcomes to the release verdict: the decision record (`verdict.json`) and the
plain-words summary people read."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.exitcodes import ExitCode
from harness.gates.config import Gate, ScoreGate
from harness.gates.data import RunData
from harness.gates.outcome import Decision, GateOutcome


class Verdict(BaseModel):
    """The decision record of a rehearsal (or of `harness gates` / `harness compare`)."""

    model_config = ConfigDict(frozen=True)

    decision: Decision
    reasons: list[str]
    run_id: str | None
    baseline: dict[str, Any] | None
    candidate: dict[str, Any]
    seed: int | None
    config_hash: str
    decided_at: str
    evaluation_s: float
    time_to_decision_s: float | None = None
    aborted_at_s: float | None = None
    generator: dict[str, Any] = Field(default_factory=dict)
    score: float | None = None
    gates: list[GateOutcome]

    @property
    def exit_code(self) -> ExitCode:
        """0 pass, 1 fail, 3 error, 4 inconclusive."""
        return {
            Decision.PASS: ExitCode.PASSED,
            Decision.FAIL: ExitCode.FAILED,
            Decision.ERROR: ExitCode.HARNESS_ERROR,
            Decision.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
        }[self.decision]


def evaluate(data: RunData, gates: Sequence[Gate], *, elapsed_s: float | None = None) -> Verdict:
    """Evaluate every gate on `data` and decide. A failed critical gate fails the run; any failed
    gate fails it; a score gate, if configured, grades the rest; any inconclusive gate, a
    saturated load generator, or a selected journey that never ran makes a would-be pass
    inconclusive."""
    started = time.perf_counter()
    outcomes: list[GateOutcome] = []
    for gate in gates:
        if isinstance(gate, ScoreGate):
            continue
        try:
            outcomes.append(gate.evaluate(data))
        except Exception as exc:  # a broken gate is an error of the verdict, not a crash
            outcomes.append(
                GateOutcome(
                    name=gate.title(),
                    kind=gate.kind,
                    decision=Decision.ERROR,
                    summary=f"gate could not be evaluated: {type(exc).__name__}: {exc}",
                )
            )
    score_value = None
    for gate in gates:
        if isinstance(gate, ScoreGate):
            outcome, score_value = _score(gate, outcomes)
            outcomes.append(outcome)
    unrun = [
        f"journey `{journey}` never ran on {target} (0 iterations): its gates saw nothing"
        for (target, journey), (iterations, _) in sorted(data.journeys.items())
        if iterations == 0
    ]
    decision, reasons = _decide(outcomes, data.health, unrun)
    meta = data.meta
    targets = meta.get("targets", {})
    return Verdict(
        decision=decision,
        reasons=reasons,
        run_id=meta.get("run_id"),
        baseline=targets.get("baseline"),
        candidate=targets.get("candidate") or next(iter(targets.values()), {}),
        seed=meta.get("seed"),
        config_hash=data.config_hash,
        decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
        evaluation_s=round(time.perf_counter() - started, 3),
        time_to_decision_s=elapsed_s,
        generator=data.health,
        score=score_value,
        gates=outcomes,
    )


def _decide(
    outcomes: list[GateOutcome], health: dict[str, Any], unrun: Sequence[str] = ()
) -> tuple[Decision, list[str]]:
    by = defaultdict(list)
    for outcome in outcomes:
        by[outcome.decision].append(outcome)
    if by[Decision.ERROR]:
        return Decision.ERROR, [f"{o.name}: {o.summary}" for o in by[Decision.ERROR]]
    if by[Decision.FAIL]:
        ordered = sorted(by[Decision.FAIL], key=lambda o: not o.critical)
        return Decision.FAIL, [f"{o.name}: {o.summary}" for o in ordered]
    reasons = [*unrun, *(f"{o.name}: {o.summary}" for o in by[Decision.INCONCLUSIVE])]
    if health.get("saturated"):
        reasons.append("the load generator was saturated: " + "; ".join(health.get("reasons", [])))
    if reasons:
        return Decision.INCONCLUSIVE, reasons
    return Decision.PASS, [f"{o.name}: {o.summary}" for o in outcomes]


def _score(gate: ScoreGate, outcomes: list[GateOutcome]) -> tuple[GateOutcome, float]:
    from harness.gates.kayenta import Label, MetricResult, score

    label = {
        Decision.PASS: Label.PASS,
        Decision.FAIL: Label.HIGH,
        Decision.INCONCLUSIVE: Label.NODATA,
        Decision.ERROR: Label.ERROR,
    }
    results = [
        MetricResult(
            name=o.name,
            label=label[o.decision],
            critical=o.critical and o.decision is Decision.FAIL,
            low=None,
            high=None,
            estimate=None,
            effect=None,
            ratio=None,
            n_control=0,
            n_experiment=0,
            reason=o.summary,
            groups=(o.group or "default",),
            muted=False,
        )
        for o in outcomes
    ]
    result = score(
        results,
        group_weights=gate.groups,
        pass_threshold=gate.pass_score,
        marginal_threshold=gate.marginal_score,
    )
    decision = {"Pass": Decision.PASS, "Marginal": Decision.INCONCLUSIVE, "Fail": Decision.FAIL}[
        result.label
    ]
    groups = ", ".join(f"{g} {s:.0f}" for g, s in result.group_scores.items())
    limits = f"pass ≥ {gate.pass_score:g}, marginal ≥ {gate.marginal_score:g}"
    summary = f"score {result.score:.2f} → {result.label} ({limits}; {groups})"
    return GateOutcome(
        name=gate.title(), kind="score", decision=decision, summary=summary
    ), result.score


def summary_lines(verdict: Verdict) -> list[str]:
    """The verdict in plain words: the decision, why, and every gate with its finding."""
    head = {
        Decision.PASS: "PASS",
        Decision.FAIL: "FAIL",
        Decision.INCONCLUSIVE: "INCONCLUSIVE",
        Decision.ERROR: "ERROR",
    }[verdict.decision]
    lines = [f"{head}: {verdict.reasons[0]}" if verdict.reasons else head]
    lines += [f"  also: {r}" for r in verdict.reasons[1:4]]
    lines.append("")
    mark = {Decision.PASS: "✓", Decision.FAIL: "✗", Decision.INCONCLUSIVE: "?", Decision.ERROR: "!"}
    for gate in verdict.gates:
        critical = " (critical)" if gate.critical else ""
        lines.append(
            f"  {mark[gate.decision]} {gate.name}{critical}: {gate.decision.value} — {gate.summary}"
        )
        for evidence in gate.evidence:
            if (
                evidence.decision in (Decision.FAIL, Decision.INCONCLUSIVE)
                and evidence.estimate is not None
            ):
                traces = (
                    f" · traces {', '.join(t[:12] for t in evidence.trace_ids)}"
                    if evidence.trace_ids
                    else ""
                )
                lines.append(f"      {mark[evidence.decision]} {evidence.words}{traces}")
    return lines


def summary_markdown(verdict: Verdict) -> str:
    """The verdict as Markdown (a CI job summary)."""
    lines = summary_lines(verdict)
    body = "\n".join(lines[1:]).strip("\n")
    return f"## Verdict: {lines[0]}\n\n```\n{body}\n```\n"
