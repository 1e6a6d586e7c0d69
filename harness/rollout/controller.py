"""The rollout controller: the Locust driver's `watch`, deciding at the end of every stage.

It keeps the records of the current stage (as a `RunSink` of the load process), and when the
stage's time is up judges the candidate cohort against the baseline cohort over that window
with the configured gates: pass widens the share (or promotes at the last stage), inconclusive
extends the stage up to `max_extensions` times and then holds, fail rolls back (all traffic to
the baseline) and stops. Every look becomes a `StageRecord`; hooks are called with each one.
Between looks the live gates (`abort = true`) are watched every second at the alpha the next
look would judge them at; a breach held for a gate's `for` has the stage judged early, and an
early judgement only ever rolls back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.engine.collector import LoadAggregator
from harness.gates.abort import Holds, breach, live_gates
from harness.gates.config import Gate
from harness.gates.data import RunData
from harness.gates.outcome import Decision
from harness.gates.verdict import Verdict, evaluate, spent
from harness.records import IterationRecord
from harness.rollout import reach
from harness.rollout.hooks import call_hook, first_effect
from harness.rollout.stages import (
    Cohort,
    GateLine,
    RolloutOutcome,
    RolloutRecord,
    StageDecision,
    StageRecord,
)
from harness.rollout.window import StageWindow, window_data
from harness.targets import Target

#: how far into the first look (at most half of it) the rollout checks that its first share can
#: reach the minimum samples at all
PROBE_AFTER_S = 10.0
#: seconds without an early judgement after one on a live breach that did not fail the stage
#: (the live watch pools the journeys; the verdict judges each): judging costs CPU
EARLY_QUIET_S = 10.0


class RolloutController:
    """Drives the share through the stages; call it about once a second with the aggregator."""

    def __init__(
        self,
        *,
        shares: Sequence[float],
        stage_duration_s: float,
        max_extensions: int,
        gates: Sequence[Gate],
        baseline: Target,
        candidate: Target,
        set_share: Callable[[float], None],
        hooks: dict[str, str],
        min_samples: int | None = None,
        meta: dict[str, Any] | None = None,
        offload: Callable[[Callable[[], Any]], Any] | None = None,
        record_file: Path | None = None,
        metrics: Callable[[float, float], list[Any]] | None = None,
    ) -> None:
        self.shares = list(shares)
        self.stage_duration_s = stage_duration_s
        self.max_extensions = max_extensions
        self.gates = list(gates)
        self.baseline = baseline
        self.candidate = candidate
        self.set_share = set_share
        self.hooks = hooks
        self.meta = meta or {}
        #: runs the gates' evaluation (seconds of CPU for bootstraps) off the event loop, so the
        #: users' iterations in flight are not stalled and mismeasured meanwhile
        self.offload = offload or (lambda work: work())
        #: where the record is rewritten after every look, so an interrupted rollout keeps it
        self.record_file = record_file
        self.metrics = metrics  #: the metric gates' points over (start, end), from providers
        self.window = StageWindow()
        self.record = RolloutRecord(
            shares=self.shares,
            stage_duration_s=stage_duration_s,
            max_extensions=max_extensions,
            min_samples=min_samples,
        )
        self.stage = 0  #: index into shares of the stage running now
        self.look = 1
        self.stage_started = 0.0
        self.deadline = 0.0
        self.verdict: Verdict | None = None  #: the gates' verdict at the deciding look
        #: gates marked `abort = true` that can be judged on counts alone (the anytime-valid
        #: error split): looked at every second during a stage, a breach held for the gate's
        #: `for` has the stage judged at once (rolled back if the verdict fails)
        self.live = live_gates(self.gates)
        #: no early judgement before then: the last one, on a breach, did not fail the stage
        self.quiet_until = 0.0
        self.holds = Holds()  #: since when each live gate has failed at every look of the stage
        self.stopped: str | None = None
        self.probed = False  #: whether the first stage's early reach check has run

    @property
    def share(self) -> float:
        """The candidate's share of people now."""
        return self.record.final_share

    def start(self) -> bool:
        """Begin at the first share: call `on_stage` with decision `start`; False if it failed
        (nothing has run yet, so nothing needs rolling back)."""
        # Judge an empty window once, before any traffic: the gates import their statistics
        # (scipy) on first use, which would otherwise stall the first stage's decision.
        evaluate(
            window_data([], baseline=self.baseline.name, candidate=self.candidate.name), self.gates
        )
        now = time.time()
        self.record.started_at = now
        self.stage_started = now
        self.deadline = now + self.stage_duration_s
        self.window.restart(now)
        self._apply(self.shares[0])
        event = self._event(StageDecision.START, None)
        started = self._hook("on_stage", event, roll_back_on_failure=False)
        self.save()
        return started

    def __call__(self, aggregator: LoadAggregator, elapsed: float) -> str | None:
        """The `watch` of the Locust driver: a reason to stop the run once the rollout has
        decided, else None."""
        if self.stopped is not None:
            return self.stopped
        now = time.time()
        if now >= self.deadline:
            self._judge(now)
            self.save()
        elif self.live and now >= self.quiet_until and self._breached(now):
            self._judge(now, early=True)
            self.save()
        elif self._probe_due(now):
            self.probed = True
            self._judge(now, probe=True)
            self.save()
        return self.stopped

    def _look_share(self) -> float:
        """The part of each gate's alpha this look spends, over the stage's planned looks."""
        return spent(self.look, self.max_extensions + 1)

    def _probe_due(self, now: float) -> bool:
        """Whether to check, part-way into the first look, that the first stage can reach its
        minimum samples at all: a share too small for the browser journeys then holds within
        seconds, not after a whole look."""
        if self.probed or self.stage != 0 or self.look != 1:
            return False
        return now - self.stage_started >= min(PROBE_AFTER_S, self.stage_duration_s / 2)

    def _breached(self, now: float) -> bool:
        """Whether a live gate has failed on the iterations of the stage so far, at the alpha
        the stage's look would judge it at (an anytime-valid gate's whole share), at every look
        for the gate's `for` (as a rehearsal's abort watch holds it)."""
        iterations = [r for r in self.window.records if isinstance(r, IterationRecord)]
        data = window_data(iterations, baseline=self.baseline.name, candidate=self.candidate.name)
        live = live_gates(self.gates, scale=self._look_share())
        return breach(live, data, self.holds, now) is not None

    def _judge(self, now: float, *, early: bool = False, probe: bool = False) -> None:
        """Judge the stage's window and act on the decision. A `probe` acts only when the
        stage cannot reach its minimum samples, and records nothing otherwise."""
        share = self.shares[self.stage]
        records = list(self.window.records)
        elapsed = round(now - self.record.started_at, 3)

        def judge() -> tuple[RunData, Verdict]:
            data = window_data(
                records, baseline=self.baseline.name, candidate=self.candidate.name, meta=self.meta
            )
            if self.metrics is not None:  # the stage's window, from the metric providers
                data.metrics = self.metrics(self.stage_started, now)
            scale = self._look_share()
            return data, evaluate(data, self.gates, elapsed_s=elapsed, alpha_scale=scale)

        # A gate passes only when every series in its scope was judged: a stage never widens on
        # a step nobody could judge yet (it runs on, then holds, saying how long it would need).
        data, verdict = self.offload(judge)
        if early and verdict.decision is not Decision.FAIL:
            # The whole verdict (each journey on its own, Holm within the gate) does not fail on
            # what the live watch pooled: the stage runs on to its look, which alone may widen.
            self.quiet_until = now + EARLY_QUIET_S
            return
        out_of_reach = reach.out_of_reach(
            verdict,
            data,
            share=share,
            spent_s=now - self.stage_started,
            looks=self.max_extensions + 1,
            stage_duration_s=self.stage_duration_s,
            probe=probe,
        )
        if probe and out_of_reach is None:
            return
        # The share changes only now: iterations that started while the gates were judging ran
        # at the old share and must not count in the next stage's window.
        decided = time.time()
        last_judged = self.stage + 1 >= len(self.shares) - 1
        if verdict.decision is Decision.FAIL:
            decision, next_share = StageDecision.ROLLBACK, 0.0
        elif probe:
            decision, next_share = StageDecision.HOLD, share
            verdict = verdict.model_copy(update={"reasons": [out_of_reach, *verdict.reasons]})
        elif verdict.decision is Decision.PASS:
            decision = StageDecision.PROMOTE if last_judged else StageDecision.WIDEN
            next_share = self.shares[self.stage + 1]
        elif out_of_reach is not None:
            # More looks at this share cannot reach the minimum: hold now, saying what would.
            decision, next_share = StageDecision.HOLD, share
            verdict = verdict.model_copy(update={"reasons": [out_of_reach, *verdict.reasons]})
        elif self.look <= self.max_extensions:
            decision, next_share = StageDecision.EXTEND, share
        else:
            decision, next_share = StageDecision.HOLD, share
        stage = self._stage_record(data, verdict, decision, share, next_share, now)
        stage = stage.model_copy(update={"judge_s": round(decided - now, 3), "early": early})
        self.record.stages.append(stage)
        self.verdict = verdict
        if decision is StageDecision.EXTEND:
            self.look += 1
            self.deadline = decided + self.stage_duration_s
            self._hook("on_stage", self._event(decision, stage))
            return
        if decision is StageDecision.WIDEN:
            self.stage += 1
            self.look = 1
            self._apply(next_share)
            self.stage_started = decided
            self.deadline = decided + self.stage_duration_s
            self.window.restart(decided)
            self.holds.clear()
            self._hook("on_stage", self._event(decision, stage))
            return
        self._apply(next_share)
        self.record.decided_at = decided
        if decision is StageDecision.ROLLBACK:
            self._time_detection(decided)
            self._finish(RolloutOutcome.ROLLED_BACK, verdict.reasons[:3], "rolled back")
            event = self._event(decision, stage)
            self._hook("on_rollback", event, roll_back_on_failure=False)
            self._hook("on_stage", event, roll_back_on_failure=False)
        elif decision is StageDecision.PROMOTE:
            self._finish(
                RolloutOutcome.PROMOTED, [f"every stage passed up to {share:g}%"], "promoted"
            )
            if self._hook("on_stage", self._event(decision, stage)):
                self._hook("on_promote", self._event(decision, stage))
        else:
            why = verdict.reasons[:3]
            self._finish(RolloutOutcome.HELD, why, f"held at {share:g}%")
            self._hook("on_stage", self._event(decision, stage))

    def save(self) -> None:
        """Write the record so far to `record_file` (atomically: a reader never sees half)."""
        if self.record_file is None:
            return
        self.record_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.record_file.with_suffix(".partial")
        partial.write_text(self.record.model_dump_json(indent=2) + "\n", encoding="utf-8")
        partial.replace(self.record_file)

    def _stage_record(
        self,
        data: RunData,
        verdict: Verdict,
        decision: StageDecision,
        share: float,
        next_share: float,
        now: float,
    ) -> StageRecord:
        def cohort(target: str) -> Cohort:
            mine = [(n, f) for (t, _), (n, f) in data.journeys.items() if t == target]
            return Cohort(iterations=sum(n for n, _ in mine), failed=sum(f for _, f in mine))

        judged = [e.n_candidate for g in verdict.gates for e in g.evidence if e.judged]
        start = self.record.started_at
        return StageRecord(
            stage=self.stage + 1,
            share=share,
            look=self.look,
            started_s=round(self.stage_started - start, 3),
            ended_s=round(now - start, 3),
            baseline=cohort(self.baseline.name),
            candidate=cohort(self.candidate.name),
            min_candidate_samples=min(judged, default=0),
            decision=decision,
            next_share=next_share,
            reasons=verdict.reasons[:4],
            gates=[
                GateLine(name=g.name, decision=g.decision.value, summary=g.summary)
                for g in verdict.gates
            ],
            evidence=verdict.gates,
        )

    def _apply(self, share: float) -> None:
        self.set_share(share)
        self.record.final_share = share

    def _finish(self, outcome: RolloutOutcome, reasons: list[str], words: str) -> None:
        self.record.outcome = outcome
        self.record.reasons = reasons
        self.stopped = f"rollout {words}"

    def _event(self, decision: StageDecision, stage: StageRecord | None) -> dict[str, Any]:
        """The JSON a hook receives: the decision, then `stage` and `share` from now on (the
        stage starting, the candidate's share to route); `evidence` is the window judged (its
        stage, share, look, cohorts and gates) and `reason` the first reason."""
        event: dict[str, Any] = {
            "decision": decision.value,
            "stage": self.stage + 1,
            "share": self.record.final_share,
            "shares": self.shares,
            "baseline": self.baseline.name,
            "candidate": self.candidate.name,
            "run_id": self.meta.get("run_id"),
        }
        if stage is not None:
            event["evidence"] = {
                "stage": stage.stage,
                "share": stage.share,
                "look": stage.look,
                "window_s": [stage.started_s, stage.ended_s],
                "baseline": stage.baseline.model_dump(),
                "candidate": stage.candidate.model_dump(),
                "gates": [g.model_dump() for g in stage.gates],
            }
            event["reason"] = stage.reasons[0] if stage.reasons else decision.value
        return event

    def _hook(self, hook: str, event: dict[str, Any], *, roll_back_on_failure: bool = True) -> bool:
        """Call a configured hook; a failure is recorded and stops the rollout safely: all
        traffic back to the baseline, and `on_rollback` told (unless it is what failed)."""
        action = self.hooks.get(hook)
        if not action:
            return True
        call = call_hook(hook, action, event, targets := (self.candidate, self.baseline))
        self.record.hooks.append(call)
        print(f"  hook {hook}: {'ok' if call.ok else 'FAILED'} ({call.detail})", flush=True)
        if call.ok:
            return True
        reason = f"hook {hook} failed ({call.detail}); the rollout stopped"
        self.record.reasons = [reason, *self.record.reasons]
        self.record.outcome = RolloutOutcome.STOPPED
        self.stopped = reason
        if self.record.final_share > 0:
            self._apply(0.0)
            if roll_back_on_failure and hook != "on_rollback" and self.hooks.get("on_rollback"):
                stop = {
                    **event,
                    "decision": StageDecision.STOP.value,
                    "share": 0.0,
                    "reason": reason,
                }
                rollback = call_hook("on_rollback", self.hooks["on_rollback"], stop, targets)
                self.record.hooks.append(rollback)
        return False

    def _time_detection(self, now: float) -> None:
        """From the regression's first effect to now: as the candidate reports it (the bundled
        sandbox serves it on /health), else from the candidate's first traffic."""
        first = first_effect(self.candidate)
        if first is not None:
            self.record.first_effect_at, self.record.first_effect_source = (
                first,
                "candidate /health",
            )
        else:
            self.record.first_effect_at = self.record.started_at
            self.record.first_effect_source = "first candidate traffic"
        self.record.detection_s = round(now - self.record.first_effect_at, 3)
