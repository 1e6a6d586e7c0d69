"""The plans of `harness rehearse`: baseline and candidate driven at once with the same journeys
and the same synthetic people, interleaved, then the gates and a verdict (`Rehearsal`); or two
variants of one flag on one deployment compared the same way (`FlagMatrix`)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from harness.engine.collector import LoadAggregator
from harness.engine.outcome import LoadOutcome, Watch
from harness.engine.plan import LoadPlan
from harness.engine.summary import Health
from harness.errors import UsageError
from harness.flags import control_value, parse_flag_matrix
from harness.gates.config import Gate
from harness.gates.data import RunData
from harness.gates.outcome import Decision
from harness.gates.verdict import Verdict, evaluate, summary_lines, summary_markdown
from harness.results import RunDirectory, replace_file
from harness.run.plan import BasePlan, with_flags
from harness.run.request import RunRequest
from harness.run.targets import resolve_named_target, sandbox_target
from harness.targets import Target

STATUS = {"pass": "passed", "fail": "failed", "inconclusive": "inconclusive", "error": "error"}


class Rehearsal(BasePlan):
    """Baseline and candidate: two sandboxes (`--sandbox`), or `--baseline` and `--candidate`;
    gates with `abort = true` watched live; the verdict on the complete folder."""

    mode = "rehearse"

    def __init__(self, request: RunRequest, gates: list[Gate] | None = None) -> None:
        super().__init__(request)
        sides = request.sides
        worker = request.distribution.worker
        if not worker and not sides.sandbox and not (sides.baseline and sides.candidate):
            raise UsageError(
                "give both sides: --baseline T --candidate T (names from harness.toml or URLs), "
                "or --sandbox [--regression SPEC] for the bundled shop"
            )
        self.gates = gates if gates is not None else request.gates()

    def targets(self, request: RunRequest, stack: ExitStack, run_path: Path) -> list[Target]:
        return rehearsal_targets(request, stack, run_path)

    def watch(self, targets: list[Target], run: RunDirectory) -> Watch | None:
        from harness.gates.early_stop import rehearsal_watch
        from harness.run.metrics import with_metric_watch

        inner = rehearsal_watch(self.gates, baseline=targets[0].name, candidate=targets[-1].name)
        return with_metric_watch(inner, self.gates, self.request, targets)

    def judge(
        self, run: RunDirectory, aggregator: LoadAggregator, outcome: LoadOutcome, health: Health
    ) -> int:
        data = RunData.load(run.path)
        verdict = evaluate(data, self.gates, elapsed_s=round(outcome.elapsed_s, 3))
        if outcome.aborted:
            verdict = verdict.model_copy(
                update={
                    "decision": Decision.FAIL,
                    "reasons": [
                        f"stopped after {outcome.aborted_at_s:.0f} s: {outcome.aborted}",
                        *verdict.reasons,
                    ],
                    "aborted_at_s": outcome.aborted_at_s,
                    "time_to_decision_s": outcome.aborted_at_s,
                }
            )
        publish_verdict(run.path, verdict)
        run.finish(
            STATUS[verdict.decision.value],
            iterations=aggregator.iterations,
            failed=aggregator.failures,
            elapsed_s=round(outcome.elapsed_s, 3),
            verdict=verdict.decision.value,
        )
        print(f"\nverdict: {run.path / 'verdict.json'} · summary: {run.path / 'summary.md'}")
        return verdict.exit_code


class FlagMatrix(Rehearsal):
    """`--flag-matrix NAME=A,B`: one deployment, its two flag variants compared as baseline
    (the "off" value, else the first) and candidate, exactly as two releases are."""

    def __init__(self, request: RunRequest) -> None:
        spec = request.sides.flag_matrix or ""
        name, values = parse_flag_matrix(spec)
        if len(values) != 2:
            raise UsageError(
                f"--flag-matrix {spec!r}: a run compares two variants; give exactly "
                f"two values, e.g. --flag-matrix {name}=on,off (run again for other pairs)"
            )
        sides = request.sides
        if sides.baseline and sides.candidate:
            raise UsageError(
                "--flag-matrix compares two variants of ONE deployment: give --sandbox or "
                "--candidate T, not both --baseline and --candidate"
            )
        self.request = request
        self.gates = request.gates()
        self.name = name
        self.control = control_value(values)
        self.treatment = next(v for v in values if v != self.control)

    def targets(self, request: RunRequest, stack: ExitStack, run_path: Path) -> list[Target]:
        sides = request.sides
        if sides.sandbox:
            deployment = start_sandbox("candidate", sides.regressions, request, stack, run_path)
        else:
            wanted = sides.candidate or sides.baseline
            if not wanted:
                raise UsageError(
                    "--flag-matrix needs the deployment to run against: --sandbox, or "
                    "--candidate T (a name from harness.toml or a URL)"
                )
            deployment = resolve_named_target(wanted, request.config, role="candidate")
        name, control, treatment = self.name, self.control, self.treatment
        print(f"flag matrix: baseline {name}={control}, candidate {name}={treatment}", flush=True)
        return [
            deployment.model_copy(update={"name": f"{name}.{control}"}),
            deployment.model_copy(update={"name": f"{name}.{treatment}"}),
        ]

    def amend(self, plan: LoadPlan) -> LoadPlan:
        common = self.request.sides.flags
        variants = [{**common, self.name: self.control}, {**common, self.name: self.treatment}]
        return with_flags(plan, variants).model_copy(update={"one_deployment": True})


def rehearsal_targets(request: RunRequest, stack: ExitStack, run_path: Path) -> list[Target]:
    """Baseline and candidate: two sandboxes (`--sandbox`), or `--baseline` and `--candidate`."""
    sides = request.sides
    if sides.sandbox:
        return [
            start_sandbox(role, regressions, request, stack, run_path)
            for role, regressions in (("baseline", ()), ("candidate", sides.regressions))
        ]
    assert sides.baseline is not None and sides.candidate is not None
    baseline = resolve_named_target(sides.baseline, request.config, role="baseline")
    candidate = resolve_named_target(sides.candidate, request.config, role="candidate")
    if baseline.name == candidate.name:
        raise UsageError(f"--baseline and --candidate are the same target ({baseline.name!r})")
    return [baseline, candidate]


def start_sandbox(
    role: str,
    regressions: tuple[str, ...],
    request: RunRequest,
    stack: ExitStack,
    run_path: Path,
    *,
    release: str | None = None,
) -> Target:
    """A sandbox for `role` (of `release`, default the role), stopped when `stack` closes."""
    from harness.sandbox.process import SandboxProcess

    traces = run_path / "traces" / f"sandbox-{role}.jsonl" if request.tracing.traces else None
    process = SandboxProcess(
        release=release or role,
        regressions=list(regressions),
        trace_file=traces,
        cpus=request.sides.sandbox_cpus,
    )
    urls = process.start()
    stack.callback(process.stop)
    from harness.run.metrics import announce_sandbox  # Prometheus' file_sd, when configured

    announce_sandbox(
        request, stack, run_id=run_path.name, role=role, release=release or role, base_url=urls.base
    )
    if release is None:
        knobs = f" with {', '.join(regressions)}" if regressions else ""
        print(f"{role} sandbox started at {urls.base}{knobs}", flush=True)
    # a metric gate's `{release}` on the sandbox: the release its /metrics are labelled with
    labels = {"release": release or role, "harness_run": run_path.name}  # as in file_sd
    return sandbox_target(urls, role).model_copy(update={"labels": labels})


def publish_verdict(run_dir: Path, verdict: Verdict, *, timeline: str = "") -> None:
    """verdict.json, the verdict (and a rollout's `timeline`) at the top of summary.md, and the
    verdict's lines on the terminal."""
    replace_file(run_dir / "verdict.json", verdict.model_dump_json(indent=2) + "\n")
    summary = run_dir / "summary.md"
    previous = summary.read_text(encoding="utf-8") if summary.is_file() else ""
    replace_file(summary, summary_markdown(verdict) + "\n" + timeline + previous)
    print()
    print("\n".join(summary_lines(verdict)))
