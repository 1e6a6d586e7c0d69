"""From gate outcomes to the release verdict: the decision record (`verdict.json`) and the
plain-words summary people read."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import DamagedRunFolder, UnreadableRunFolder
from harness.exitcodes import ExitCode
from harness.gates.config import Gate, ScoreGate
from harness.gates.coverage import CoverageRow, coverage_markdown, coverage_table
from harness.gates.data import RunData
from harness.gates.family import spent, split_alpha
from harness.gates.outcome import Decision, Evidence, GateOutcome, minutes
from harness.gates.vitals import judge
from harness.markdown import md_block, md_text

__all__ = ["Verdict", "evaluate", "spent", "summary_lines", "summary_markdown"]


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
    #: every journey, step and touchpoint with the gates that judged it, and why others could not
    coverage: list[CoverageRow] = Field(default_factory=list)
    #: seconds of run the measurements span: the rates behind `minutes_needed` are over it
    run_s: float | None = None
    #: the run length (minutes, at this run's rates) that would give every unjudged series the
    #: samples its gate needs; None when every series was judged or no rate says
    minutes_needed: float | None = None
    #: the verdict's false-FAIL rate on an identical candidate: the sum of the `alpha` shares
    #: of its comparing gates (Bonferroni across gates; Holm within each); None: none compares
    family_alpha: float | None = None

    @property
    def exit_code(self) -> ExitCode:
        """0 pass, 1 fail, 3 error, 4 inconclusive."""
        return {
            Decision.PASS: ExitCode.PASSED,
            Decision.FAIL: ExitCode.FAILED,
            Decision.ERROR: ExitCode.HARNESS_ERROR,
            Decision.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
        }[self.decision]


def evaluate(
    data: RunData,
    gates: Sequence[Gate],
    *,
    elapsed_s: float | None = None,
    alpha_scale: float = 1.0,
) -> Verdict:
    """Evaluate every gate on `data` and decide. A failed critical gate fails the run; any failed
    gate fails it; a score gate, if configured, grades the rest; any inconclusive gate (one that
    could not judge every series in its scope), a saturated load generator, or a selected
    journey that never ran makes a would-be pass inconclusive. Each series short of samples is
    timed at the rate this run measured it: over the seconds its records span, else over
    `elapsed_s`. The comparing gates share the verdict's false-FAIL rate (`family.split_alpha`),
    times `alpha_scale` when this is one of several planned looks (`family.spent`)."""
    started = time.perf_counter()
    run_s = data.run_seconds() or elapsed_s
    gates, family_alpha = split_alpha(gates, scale=alpha_scale)
    gates, left_out = _leave_out_empty(gates, data, run_s)
    outcomes: list[GateOutcome] = []
    for gate in gates:
        if isinstance(gate, ScoreGate):
            continue
        try:
            alpha = gate.alpha if gate.comparing else None
            outcome = judge(gate, data).at_rate(run_s)  # a Web Vital's view if it names one
            outcomes.append(outcome.model_copy(update={"alpha": alpha}))
        except (DamagedRunFolder, UnreadableRunFolder):
            raise  # the stored run, read on demand (its span files), is damaged: exit 2 or 3
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
    if family_alpha is not None:  # rounded: the shares' float sum is not exactly their total
        family_alpha = round(family_alpha - left_out, 12)
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
        coverage=coverage_table(data, outcomes),
        run_s=run_s,
        minutes_needed=_minutes_needed(outcomes),
        family_alpha=family_alpha,
    )


def _minutes_needed(outcomes: list[GateOutcome]) -> float | None:
    found = [
        e.minutes_needed
        for o in outcomes
        if o.decision is Decision.INCONCLUSIVE
        for e in o.evidence
        if e.short and e.minutes_needed is not None
    ]
    return max(found, default=None)


def _leave_out_empty(
    gates: Sequence[Gate], data: RunData, run_s: float | None
) -> tuple[list[Gate], float]:
    """The gates less each `optional` one with nothing of this run in its scope (a Web Vital
    gate on a run without web steps), and the false-FAIL share left unspent. A left-out gate's
    share goes to the comparing gates of its `group` of the same kind, else of any kind (the
    page LCP gate's to the paired step latency gate: an API-only run judges its steps at the
    share they had before pages had a gate); without a group, it is not spent. Whether a gate
    has anything in scope follows from which journeys ran, not from what they measured, so the
    split stays fixed before the tests."""
    kept: list[Gate] = []
    freed: dict[tuple[str | None, str], float] = {}
    for gate in gates:
        if getattr(gate, "optional", False) and not isinstance(gate, ScoreGate):
            try:
                found = judge(gate, data).at_rate(run_s)
                empty = not found.evidence and found.decision is not Decision.FAIL
            except (DamagedRunFolder, UnreadableRunFolder):
                raise
            except Exception:  # judged again below, where its error is reported
                empty = False
            if empty:
                key = (gate.group, gate.kind)
                freed[key] = freed.get(key, 0.0) + (gate.alpha or 0.0)
                continue
        kept.append(gate)
    left_out = 0.0
    for (group, kind), share in freed.items():
        kin = [
            i
            for i, g in enumerate(kept)
            if group is not None
            and getattr(g, "group", None) == group
            and getattr(g, "comparing", False)
        ]
        heirs = [i for i in kin if kept[i].kind == kind] or kin
        if not heirs:
            left_out += share
            continue
        for i in heirs:
            gate = kept[i]
            kept[i] = gate.model_copy(update={"alpha": (gate.alpha or 0.0) + share / len(heirs)})
    return kept, left_out


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
    """The verdict in plain words: the decision, why, how long a run would need when it could
    not judge everything, and every gate with its finding."""
    head = {
        Decision.PASS: "PASS",
        Decision.FAIL: "FAIL",
        Decision.INCONCLUSIVE: "INCONCLUSIVE",
        Decision.ERROR: "ERROR",
    }[verdict.decision]
    lines = [f"{head}: {verdict.reasons[0]}" if verdict.reasons else head]
    lines += [f"  also: {r}" for r in verdict.reasons[1:4]]
    if verdict.decision is Decision.INCONCLUSIVE and verdict.minutes_needed is not None:
        lines.append(
            f"  needs: a run of {minutes(verdict.minutes_needed)} at this run's rates "
            "would give every series in the gates' scope the samples they need "
            "(or narrow a gate's scope with journeys = [...] / touchpoints = [...])"
        )
    if verdict.family_alpha is not None:
        comparing = sum(1 for g in verdict.gates if g.alpha is not None)
        lines.append(
            f"  false-FAIL rate ≤ {verdict.family_alpha:.1%} for an identical candidate "
            f"(split across {comparing} comparing gates, Holm within each)"
        )
    reach = sorted(e.mde for g in verdict.gates for e in g.evidence if e.mde is not None)
    if reach:
        span = f"{reach[0]:+.0%}" + (f" to {reach[-1]:+.0%}" if len(reach) > 1 else "")
        lines.append(
            f"  could have caught: a typical-latency regression of {span} on its "
            f"{len(reach)} judged step{'s' if len(reach) > 1 else ''} (80% power)"
        )
    lines.append("")
    mark = {Decision.PASS: "✓", Decision.FAIL: "✗", Decision.INCONCLUSIVE: "?", Decision.ERROR: "!"}
    for gate in verdict.gates:
        critical = " (critical)" if gate.critical else ""
        lines.append(
            f"  {mark[gate.decision]} {gate.name}{critical}: {gate.decision.value} — {gate.summary}"
        )
        for evidence in gate.evidence:
            if evidence.decision is Decision.FAIL or (
                evidence.decision is Decision.INCONCLUSIVE and evidence.judged
            ):
                lines.append(f"      {mark[evidence.decision]} {evidence.words}{_traces(evidence)}")
    return lines


def _traces(evidence: Evidence) -> str:
    if not evidence.trace_ids:
        return ""
    return f" · traces {', '.join(t[:12] for t in evidence.trace_ids)}"


def summary_markdown(verdict: Verdict) -> str:
    """The verdict as Markdown (a CI job summary), with its coverage table."""
    lines = summary_lines(verdict)
    body = "\n".join(lines[1:]).strip("\n")
    table = coverage_markdown(verdict.coverage)
    head = f"## Verdict: {md_text(lines[0])}\n\n{md_block(body)}\n"
    return head + (f"\n{table}" if table else "")
