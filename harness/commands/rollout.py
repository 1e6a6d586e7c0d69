"""`harness rollout`: a rehearsal whose traffic split changes by stage.

Baseline and candidate run at once, as in `harness rehearse`, but each synthetic person goes to
ONE of them, chosen by a sticky cohort hash: the candidate's share follows `--stages`, and the
gates judge each stage's window (see `harness.rollout.controller`). Exit 0 promoted, 1 rolled
back, 3 a hook failed, 4 held for want of evidence.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from harness.commands import load
from harness.commands.rehearse import rehearsal_targets
from harness.commands.stored import configured_gates
from harness.config import HarnessConfig, LoadedConfig, load_config
from harness.durations import parse_duration
from harness.engine.collector import LoadAggregator
from harness.engine.locust_driver import LoadOutcome, Watch
from harness.engine.plan import LoadPlan
from harness.engine.summary import Health
from harness.errors import HarnessError, UsageError
from harness.exitcodes import ExitCode
from harness.flags import parse_flags
from harness.gates.config import DEFAULT_GATES, Gate
from harness.gates.outcome import Decision
from harness.gates.verdict import summary_lines, summary_markdown
from harness.markdown import md_block
from harness.redact import stored
from harness.results import RunDirectory, replace_file
from harness.rollout.controller import RolloutController
from harness.rollout.hooks import is_url
from harness.rollout.stages import (
    ROLLOUT_FILE,
    RolloutOutcome,
    RolloutRecord,
    StageDecision,
    parse_shares,
)
from harness.targets import Target, check_url
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
DEFAULT_MIN_SAMPLES = 100
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


def run(options: argparse.Namespace) -> int:
    """Run the staged rollout; the exit code says how it ended."""
    if not options.sandbox and not (options.baseline and options.candidate):
        raise UsageError(
            "give both sides: --baseline T --candidate T (names from harness.toml or URLs), "
            "or --sandbox [--regression SPEC] for the bundled shop. Example: harness rollout "
            "--sandbox --stages 5,25,50,100 --stage-duration 30s"
        )
    if options.shape == "steps":
        raise UsageError(
            "harness rollout: --shape steps sets its own duration, but a rollout runs until its "
            "stages decide; use --shape ramp (the default) or --shape arrival --rate N"
        )
    if options.processes or options.master or options.worker:
        raise UsageError(
            "harness rollout runs its users in one process (the controller changes the cohort "
            "share in that process): drop --processes, --master and --worker"
        )
    loaded = load_config(options.config)
    _fill_from_config(options, loaded)
    shares = parse_shares(options.stages)
    stage_s = parse_duration(options.stage_duration, what="--stage-duration")
    if not 0 <= options.max_extensions <= 20:
        raise UsageError(
            f"--max-extensions {options.max_extensions}: give 0 to 20 (how many times an "
            "inconclusive stage runs again before the rollout holds), e.g. --max-extensions 2"
        )
    hooks = _hooks(options)
    min_samples = options.min_samples or DEFAULT_MIN_SAMPLES
    gates = configured_gates(loaded, min_samples, ROLLOUT_GATES)
    flags = parse_flags(options.flags)
    # Room for every stage to use all its extensions, then the driver's own minute of slack.
    options.duration = f"{stage_s * (len(shares) - 1) * (options.max_extensions + 1) + 5:.0f}s"
    holder: dict[str, RolloutController] = {}
    folder: list[Path] = []

    def targets(
        options: argparse.Namespace, config: HarnessConfig, stack: ExitStack, run_path: Path
    ) -> list[Target]:
        folder.append(run_path)
        return rehearsal_targets(options, config, stack, run_path)

    def customize(plan: LoadPlan) -> LoadPlan:
        return load.with_flags([flags, flags])(plan).model_copy(
            update={"cohort_share": shares[0], "cohort_salt": f"rollout-{plan.seed}"}
        )

    print(
        f"staged rollout: {' → '.join(f'{s:g}%' for s in shares)}, {stage_s:g} s per stage, "
        f"up to {plural(options.max_extensions, 'extension')}, "
        f"at least {plural(min_samples, 'sample')} per series",
        flush=True,
    )
    return load.execute(
        options,
        mode="rollout",
        targets=targets,
        judge=_judge(options, holder),
        watch=_watch(
            shares, stage_s, options.max_extensions, gates, hooks, min_samples, holder, folder
        ),
        customize=customize,
        loaded=loaded,
    )


def _fill_from_config(options: argparse.Namespace, loaded: LoadedConfig) -> None:
    """Options not given on the command line come from `[rollout]` in harness.toml."""
    settings = loaded.config.rollout
    for name in (
        "stages",
        "stage_duration",
        "max_extensions",
        "min_samples",
        "on_stage",
        "on_promote",
        "on_rollback",
    ):
        if getattr(options, name, None) is None:
            setattr(options, name, getattr(settings, name))


def _hooks(options: argparse.Namespace) -> dict[str, str]:
    hooks = {}
    for name in ("on_stage", "on_promote", "on_rollback"):
        action = (getattr(options, name) or "").strip()
        if not action:
            continue
        if is_url(action):
            check_url(action, f"--{name.replace('_', '-')}")
        hooks[name] = action
    return hooks


def _watch(
    shares: list[float],
    stage_s: float,
    max_extensions: int,
    gates: list[Gate],
    hooks: dict[str, str],
    min_samples: int,
    holder: dict[str, RolloutController],
    folder: list[Path],
) -> Callable[[list[Target]], Watch | None]:
    def make(targets: list[Target]) -> Watch | None:
        from harness.engine import locust_users

        controller = RolloutController(
            shares=shares,
            stage_duration_s=stage_s,
            max_extensions=max_extensions,
            gates=gates,
            baseline=targets[0],
            candidate=targets[-1],
            set_share=locust_users.set_cohort_share,
            hooks=hooks,
            min_samples=min_samples,
            offload=_in_thread,
            record_file=folder[0] / ROLLOUT_FILE if folder else None,
            meta={"run_id": folder[0].name} if folder else None,
        )
        holder["controller"] = controller
        locust_users.add_sink(controller.window)
        if not controller.start():
            locust_users.remove_sink(controller.window)
            raise HarnessError(
                f"{controller.record.reasons[0]} before any traffic was sent; fix the hook "
                "(it receives the stage and decision as JSON on stdin, or as a POST body)"
            )
        return controller

    return make


def _in_thread(work: Callable[[], Any]) -> Any:
    """Run `work` on a real OS thread and wait for it cooperatively (the users keep running)."""
    import gevent

    return gevent.get_hub().threadpool.apply(work)


def _judge(options: argparse.Namespace, holder: dict[str, RolloutController]) -> load.Judge:
    def judge(
        run: RunDirectory, aggregator: LoadAggregator, outcome: LoadOutcome, health: Health
    ) -> int:
        from harness.engine import locust_users

        controller = holder["controller"]
        locust_users.remove_sink(controller.window)
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
            replace_file(run.path / "verdict.json", verdict.model_dump_json(indent=2) + "\n")
            summary = run.path / "summary.md"
            previous = summary.read_text(encoding="utf-8") if summary.is_file() else ""
            replace_file(
                summary,
                summary_markdown(verdict) + "\n" + _timeline_markdown(record) + previous,
            )
            print()
            print("\n".join(summary_lines(verdict)))
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

    return judge


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
