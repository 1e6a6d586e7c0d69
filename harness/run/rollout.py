"""The plan of `harness rollout` (`Rollout`): a rehearsal whose traffic split changes by stage.

Baseline and candidate run at once, as in `harness rehearse`, but each synthetic person goes to
ONE of them, chosen by a sticky cohort hash: the candidate's share follows `--stages`, and the
gates judge each stage's window (see `harness.rollout.controller`). Exit 0 promoted, 1 rolled
back, 3 a hook failed, 4 held for want of evidence.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from harness.engine.collector import LoadAggregator
from harness.engine.outcome import LoadOutcome, Watch
from harness.engine.plan import LoadPlan, ShapeKind
from harness.engine.summary import Health
from harness.errors import HarnessError, UsageError
from harness.exitcodes import ExitCode
from harness.gates.config import DEFAULT_GATES
from harness.gates.outcome import Decision
from harness.markdown import md_block
from harness.redact import stored
from harness.results import RunDirectory
from harness.rollout.controller import RolloutController
from harness.rollout.stages import (
    ROLLOUT_FILE,
    RolloutOutcome,
    RolloutRecord,
    StageDecision,
)
from harness.run.metrics import window_fetcher
from harness.run.plan import BasePlan
from harness.run.rehearsal import publish_verdict, rehearsal_targets
from harness.run.request import RolloutSettings, RunRequest
from harness.runtime import RunSink
from harness.targets import Target
from harness.text import plural

#: Used by rollouts when harness.toml configures no gates: a stage's window is short and its
#: candidate cohort small, so no per-second Kayenta points and no p99; minimums via
#: `--min-samples` (default 100 per series and side). Gates with `abort = true` that count
#: (the anytime-valid error split) are also judged every second during a stage.
_ERROR_GATES = ("error rate vs baseline", "error split (anytime-valid)")
_FUNNEL_GATE = "conversion vs baseline"
ROLLOUT_GATES: list[dict[str, Any]] = [
    *(g for g in DEFAULT_GATES if g["name"] in _ERROR_GATES),
    {
        "kind": "relative",
        "name": "journey latency (p50)",
        "metric": "p50",
        "margin": "25%",
        "group": "latency",
    },
    {
        "kind": "tail_shift",
        "name": "tail latency per step (p95)",
        "quantiles": ["p95"],
        "margin": "25%",
        "group": "latency",
    },
    *(g for g in DEFAULT_GATES if g["name"] == _FUNNEL_GATE),
]
RUN_STATUS = {
    RolloutOutcome.PROMOTED: "passed",
    RolloutOutcome.ROLLED_BACK: "failed",
    RolloutOutcome.STOPPED: "error",
    RolloutOutcome.HELD: "inconclusive",
    RolloutOutcome.UNFINISHED: "inconclusive",
}
EXIT = {
    RolloutOutcome.PROMOTED: ExitCode.PASSED,
    RolloutOutcome.ROLLED_BACK: ExitCode.FAILED,
    RolloutOutcome.STOPPED: ExitCode.HARNESS_ERROR,
    RolloutOutcome.HELD: ExitCode.INCONCLUSIVE,
    RolloutOutcome.UNFINISHED: ExitCode.INCONCLUSIVE,
}


class Rollout(BasePlan):
    """Baseline and candidate at once, each person routed to one of them by a sticky cohort
    hash; the `RolloutController` (the run's watch, kept here) widens, holds or rolls back."""

    mode = "rollout"

    def __init__(self, request: RunRequest) -> None:
        super().__init__(request)
        sides, where = request.sides, request.distribution
        if not sides.sandbox and not (sides.baseline and sides.candidate):
            raise UsageError(
                "give both sides: --baseline T --candidate T (names from harness.toml or URLs), "
                "or --sandbox [--regression SPEC] for the bundled shop. Example: harness rollout "
                "--sandbox --stages 5,25,50,100 --stage-duration 30s"
            )
        if request.shape.kind is ShapeKind.STEPS:
            raise UsageError(
                "harness rollout: --shape steps sets its own duration, but a rollout runs until "
                "its stages decide; use --shape ramp (the default) or --shape arrival --rate N"
            )
        if where.processes or where.master or where.worker:
            raise UsageError(
                "harness rollout runs its users in one process (the controller changes the "
                "cohort share in that process): drop --processes, --master and --worker"
            )
        assert request.rollout is not None, "a rollout's request has its settings"
        self.settings: RolloutSettings = request.rollout
        self.gates = request.gates(ROLLOUT_GATES)
        self.controller: RolloutController | None = None

    def announce(self) -> str:
        """The rollout in one line: stages, their length, extensions, minimum samples."""
        settings = self.settings
        return (
            f"staged rollout: {' → '.join(f'{s:g}%' for s in settings.shares)}, "
            f"{settings.stage_duration_s:g} s per stage, "
            f"up to {plural(settings.max_extensions, 'extension')}, "
            f"at least {plural(settings.min_samples, 'sample')} per series"
        )

    def targets(self, request: RunRequest, stack: ExitStack, run_path: Path) -> list[Target]:
        return rehearsal_targets(request, stack, run_path)

    def amend(self, plan: LoadPlan) -> LoadPlan:
        """Both sides get the flags; the first share routes people from the start."""
        return (
            super()
            .amend(plan)
            .model_copy(
                update={
                    "cohort_share": self.settings.shares[0],
                    "cohort_salt": f"rollout-{plan.seed}",
                }
            )
        )

    def watch(self, targets: list[Target], run: RunDirectory) -> Watch | None:
        from harness.engine import locust_users

        settings = self.settings
        controller = RolloutController(
            shares=settings.shares,
            stage_duration_s=settings.stage_duration_s,
            max_extensions=settings.max_extensions,
            gates=self.gates,
            baseline=targets[0],
            candidate=targets[-1],
            set_share=locust_users.set_cohort_share,
            hooks=dict(settings.hooks),
            min_samples=settings.min_samples,
            offload=_in_thread,
            record_file=run.path / ROLLOUT_FILE,
            meta={"run_id": run.path.name},
            metrics=window_fetcher(self.request, targets),
        )
        if not controller.start():
            raise HarnessError(
                f"{controller.record.reasons[0]} before any traffic was sent; fix the hook "
                "(it receives the stage and decision as JSON on stdin, or as a POST body)"
            )
        self.controller = controller
        return controller

    def sinks(self) -> Sequence[RunSink]:
        """The controller's stage window sees every record."""
        return [self.controller.window] if self.controller is not None else []

    def judge(
        self, run: RunDirectory, aggregator: LoadAggregator, outcome: LoadOutcome, health: Health
    ) -> int:
        controller = self.controller
        assert controller is not None, "judged after the run it watched"
        record = controller.record
        if record.outcome is RolloutOutcome.UNFINISHED:
            record.reasons = [outcome.aborted or "the run ended before the rollout decided"]
        kept = stored(record.model_dump(mode="json"))  # hook URLs and arguments without secrets
        run.write_text(ROLLOUT_FILE, json.dumps(kept, indent=2) + "\n")
        verdict = controller.verdict
        if verdict is not None:
            decision = {
                RolloutOutcome.PROMOTED: Decision.PASS,
                RolloutOutcome.ROLLED_BACK: Decision.FAIL,
                RolloutOutcome.STOPPED: Decision.ERROR,
            }.get(record.outcome, Decision.INCONCLUSIVE)
            verdict = verdict.model_copy(
                update={
                    "decision": decision,
                    "reasons": [*_headline(record), *verdict.reasons],
                    "run_id": run.path.name,
                    "time_to_decision_s": record.detection_s,
                }
            )
            publish_verdict(run.path, verdict, timeline=_timeline_markdown(record))
        print()
        print("\n".join(timeline_lines(record)))
        code = EXIT[record.outcome]
        run.finish(
            RUN_STATUS[record.outcome],
            iterations=aggregator.iterations,
            failed=aggregator.failures,
            elapsed_s=round(outcome.elapsed_s, 3),
            verdict=record.outcome.value,
        )
        print(f"\nrollout: {run.path / ROLLOUT_FILE} · summary: {run.path / 'summary.md'}")
        return code


def _in_thread(work: Callable[[], Any]) -> Any:
    """Run `work` on a real OS thread and wait for it cooperatively (the users keep running)."""
    import gevent

    return gevent.get_hub().threadpool.apply(work)


def _headline(record: RolloutRecord) -> list[str]:
    words = {
        RolloutOutcome.PROMOTED: "promoted to 100%",
        RolloutOutcome.ROLLED_BACK: f"rolled back at stage {len(record.stages)}",
        RolloutOutcome.HELD: f"held at {record.final_share:g}%",
        RolloutOutcome.STOPPED: "stopped by a failing hook",
        RolloutOutcome.UNFINISHED: "unfinished",
    }[record.outcome]
    line = f"staged rollout {words}"
    if record.outcome is RolloutOutcome.ROLLED_BACK and record.stages:
        last = record.stages[-1]
        line = f"staged rollout rolled back at {last.share:g}% (stage {last.stage})"
        if record.detection_s is not None:
            line += (
                f", {record.detection_s:.1f} s after the regression's first effect "
                f"({record.first_effect_source})"
            )
    return [line, *(r for r in record.reasons if r.startswith("hook "))]


def timeline_lines(record: RolloutRecord) -> list[str]:
    """The stage timeline in plain words, one line per look."""
    lines = [f"stage timeline ({record.outcome.value}, final share {record.final_share:g}%):"]
    for s in record.stages:
        failing = [g.name for g in s.gates if g.decision == "fail"]
        unsure = [g.name for g in s.gates if g.decision == "inconclusive"]
        if failing:
            detail = f"failed: {', '.join(failing)}"
        elif unsure:
            detail = f"inconclusive: {', '.join(unsure)}"
        elif s.decision in (StageDecision.WIDEN, StageDecision.PROMOTE):
            detail = "all gates pass"
        else:
            detail = (s.reasons[0] if s.reasons else "")[:110]
        lines.append(
            f"  {s.stage}. {s.share:g}% look {s.look} [{s.started_s:.0f}–{s.ended_s:.0f} s] "
            f"samples {s.baseline.iterations} baseline / {s.candidate.iterations} candidate · "
            f"{detail} → {s.decision.value}{' (early, by a live gate)' if s.early else ''}"
            + (f" to {s.next_share:g}%" if s.next_share != s.share else "")
        )
    for call in record.hooks:
        lines.append(f"  hook {call.hook}: {'ok' if call.ok else 'FAILED'} · {call.detail}")
    return lines


def _timeline_markdown(record: RolloutRecord) -> str:
    body = md_block("\n".join(timeline_lines(record)))
    return f"## Staged rollout\n\n{body}\n\n"
