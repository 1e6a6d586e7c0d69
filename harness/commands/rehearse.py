"""`harness rehearse`: baseline and candidate driven at once with the same journeys and the
same synthetic people, interleaved; then the gates and a verdict. (`harness gates` and `harness
compare`, which judge stored runs, are in `harness.commands.stored`.)"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from harness.commands import load
from harness.commands.stored import configured_gates
from harness.config import HarnessConfig, load_config
from harness.engine.collector import LoadAggregator
from harness.engine.locust_driver import LoadOutcome, Watch
from harness.engine.summary import Health
from harness.errors import UsageError
from harness.flags import control_value, parse_flag_matrix, parse_flags
from harness.gates.config import Gate
from harness.gates.data import RunData
from harness.gates.outcome import Decision
from harness.gates.verdict import Verdict, evaluate, summary_lines, summary_markdown
from harness.results import RunDirectory, replace_file
from harness.run.targets import resolve_named_target
from harness.targets import Target

STATUS = {"pass": "passed", "fail": "failed", "inconclusive": "inconclusive", "error": "error"}


def run(options: argparse.Namespace) -> int:
    """Run the rehearsal; the exit code is the verdict's."""
    if options.flag_matrix:
        return _flag_matrix(options)
    if not options.worker and not options.sandbox and not (options.baseline and options.candidate):
        raise UsageError(
            "give both sides: --baseline T --candidate T (names from harness.toml or URLs), "
            "or --sandbox [--regression SPEC] for the bundled shop"
        )
    loaded = load_config(options.config)
    gates = configured_gates(loaded, options.min_samples)
    return load.execute(
        options,
        mode="rehearse",
        targets=rehearsal_targets,
        judge=_judge(gates),
        watch=_watch(gates),
        customize=load.with_flags([parse_flags(options.flags)] * 2),
        loaded=loaded,
    )


def _flag_matrix(options: argparse.Namespace) -> int:
    """`--flag-matrix NAME=A,B`: one deployment, its two flag variants compared as baseline
    (the "off" value, else the first) and candidate, exactly as two releases are."""
    name, values = parse_flag_matrix(options.flag_matrix)
    if len(values) != 2:
        raise UsageError(
            f"--flag-matrix {options.flag_matrix!r}: a run compares two variants; give exactly "
            f"two values, e.g. --flag-matrix {name}=on,off (run again for other pairs)"
        )
    if options.baseline and options.candidate:
        raise UsageError(
            "--flag-matrix compares two variants of ONE deployment: give --sandbox or "
            "--candidate T, not both --baseline and --candidate"
        )
    loaded = load_config(options.config)
    gates = configured_gates(loaded, options.min_samples)
    control = control_value(values)
    treatment = next(v for v in values if v != control)
    common = parse_flags(options.flags)
    variants = [{**common, name: control}, {**common, name: treatment}]

    def targets(
        options: argparse.Namespace, config: HarnessConfig, stack: ExitStack, run_path: Path
    ) -> list[Target]:
        if options.sandbox:
            deployment = _start_sandbox("candidate", options.regression, options, stack, run_path)
        else:
            wanted = options.candidate or options.baseline
            if not wanted:
                raise UsageError(
                    "--flag-matrix needs the deployment to run against: --sandbox, or "
                    "--candidate T (a name from harness.toml or a URL)"
                )
            deployment = resolve_named_target(wanted, config, role="candidate")
        print(f"flag matrix: baseline {name}={control}, candidate {name}={treatment}", flush=True)
        return [
            deployment.model_copy(update={"name": f"{name}.{control}"}),
            deployment.model_copy(update={"name": f"{name}.{treatment}"}),
        ]

    return load.execute(
        options,
        mode="rehearse",
        targets=targets,
        judge=_judge(gates),
        watch=_watch(gates),
        customize=lambda plan: load.with_flags(variants)(plan).model_copy(
            update={"one_deployment": True}
        ),
        loaded=loaded,
    )


def _watch(gates: list[Gate]) -> Callable[[list[Target]], Watch | None]:
    def make(targets: list[Target]) -> Watch | None:
        from harness.gates.abort import AbortWatch

        watch = AbortWatch(
            gates,
            baseline=targets[0].name,
            candidate=targets[-1].name,
        )
        return watch if watch.gates else None

    return make


def rehearsal_targets(
    options: argparse.Namespace, config: HarnessConfig, stack: ExitStack, run_path: Path
) -> list[Target]:
    """Baseline and candidate: two sandboxes (`--sandbox`), or `--baseline` and `--candidate`."""
    if options.sandbox:
        return [
            _start_sandbox(role, regressions, options, stack, run_path)
            for role, regressions in (("baseline", []), ("candidate", options.regression))
        ]
    baseline = resolve_named_target(options.baseline, config, role="baseline")
    candidate = resolve_named_target(options.candidate, config, role="candidate")
    if baseline.name == candidate.name:
        raise UsageError(f"--baseline and --candidate are the same target ({baseline.name!r})")
    return [baseline, candidate]


def _start_sandbox(
    role: str, regressions: list[str], options: argparse.Namespace, stack: ExitStack, run_path: Path
) -> Target:
    from harness.sandbox.process import SandboxProcess

    process = SandboxProcess(
        release=role,
        regressions=regressions,
        trace_file=None if options.no_traces else run_path / "traces" / f"sandbox-{role}.jsonl",
    )
    urls = process.start()
    stack.callback(process.stop)
    knobs = f" with {', '.join(regressions)}" if regressions else ""
    print(f"{role} sandbox started at {urls.base}{knobs}", flush=True)
    return Target(name=role, web=urls.web, api=urls.api, mobile=urls.mobile, allow_load=True)


def _judge(gates: list[Gate]) -> load.Judge:
    def judge(
        run: RunDirectory, aggregator: LoadAggregator, outcome: LoadOutcome, health: Health
    ) -> int:
        data = RunData.load(run.path)
        verdict = evaluate(data, gates, elapsed_s=round(outcome.elapsed_s, 3))
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
        _publish(run.path, verdict)
        run.finish(
            STATUS[verdict.decision.value],
            iterations=aggregator.iterations,
            failed=aggregator.failures,
            elapsed_s=round(outcome.elapsed_s, 3),
            verdict=verdict.decision.value,
        )
        print(f"\nverdict: {run.path / 'verdict.json'} · summary: {run.path / 'summary.md'}")
        return verdict.exit_code

    return judge


def _publish(run_dir: Path, verdict: Verdict, *, name: str = "verdict.json") -> None:
    replace_file(run_dir / name, verdict.model_dump_json(indent=2) + "\n")
    summary = run_dir / "summary.md"
    previous = summary.read_text(encoding="utf-8") if summary.is_file() else ""
    replace_file(summary, summary_markdown(verdict) + "\n" + previous)
    print()
    print("\n".join(summary_lines(verdict)))
