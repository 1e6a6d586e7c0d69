"""`harness load`: journeys as weighted Locust users — locally, over `--processes N`, or as the
master or a worker of a distributed run."""

from __future__ import annotations

import argparse
import json
import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

from harness.commands.load_judge import load_judge
from harness.commands.load_measurements import print_measured, record_evidence, write_results
from harness.commands.load_plan import (
    build_plan,
    check_options,
    cluster_key,
    describe_plan,
    fewest_users,
    process_count,
    worker_argv,
)
from harness.config import HarnessConfig, LoadedConfig, load_config
from harness.durations import parse_duration
from harness.engine import local_workers, locust_driver, locust_users
from harness.engine.allocation import allocate
from harness.engine.cluster_auth import new_key
from harness.engine.collector import LoadAggregator
from harness.engine.locust_driver import LoadOutcome, Watch
from harness.engine.network import free_port
from harness.engine.plan import LoadPlan, parse_stages
from harness.engine.summary import Health, progress_line
from harness.exitcodes import ExitCode
from harness.flags import parse_flags
from harness.journey import Journey
from harness.redact import redact
from harness.results import RunDirectory, new_run_id
from harness.run.evidence import merge_traces_on_exit, publish_reports, start_telemetry
from harness.run.inputs import run_inputs
from harness.run.targets import check_allowed, check_reachable, resolve_target
from harness.target_http import announce_http
from harness.targets import Target

Judge = Callable[[RunDirectory, LoadAggregator, LoadOutcome, Health], int]


def run(options: argparse.Namespace) -> int:
    """Run the load command; returns the exit code."""
    loaded = load_config(options.config)
    return execute(
        options,
        mode="load",
        targets=_one_target,
        judge=load_judge(options, loaded),
        customize=with_flags([parse_flags(options.flags)]),
        loaded=loaded,
    )


def with_flags(per_target: list[dict[str, str]]) -> Callable[[LoadPlan], LoadPlan]:
    """A plan amendment giving each target its feature-flag values (`--flags`); none if all
    sets are empty."""

    def customize(plan: LoadPlan) -> LoadPlan:
        if not any(per_target):
            return plan
        return plan.model_copy(update={"flags": per_target[: len(plan.targets)]})

    return customize


def execute(
    options: argparse.Namespace,
    *,
    mode: str,
    targets: Callable[[argparse.Namespace, HarnessConfig, ExitStack, Path], list[Target]],
    judge: Judge,
    watch: Callable[[list[Target]], Watch | None] | None = None,
    customize: Callable[[LoadPlan], LoadPlan] | None = None,
    reports: bool = True,
    loaded: LoadedConfig | None = None,
) -> int:
    """Drive the journeys on Locust against `targets` (one, or baseline and candidate), write
    the run folder, then let `judge` decide the exit code. `customize` may amend the plan
    (feature flags per target, a staged rollout's cohort routing) before it runs. With
    `reports=False` a judged run's reports are left to the caller (a drill judges after the
    targets have stopped and flushed their spans, then renders once)."""
    check_options(options)
    key = cluster_key(options)
    inputs = run_inputs(options, select_journeys=not options.worker, loaded=loaded)
    if options.worker:
        return locust_driver.run_worker(
            inputs.journeys,
            options.master_host,
            options.master_port,
            key=key,
            wait_s=parse_duration(options.master_wait, what="--master-wait"),
        )
    config = inputs.config
    # A malformed duration or stage list is the user's mistake (exit 2): say so before any
    # target is started or reached.
    parse_duration(options.duration)
    if options.steps:
        parse_stages(options.steps)
    # Every selected journey runs, or the run refuses here, before any target is reached.
    allocate(
        inputs.journeys,
        users=fewest_users(options),
        browser_users=options.browser_users,
        workers=process_count(options),
    )
    missing: list[str] = []  # evidence a process could not complete: named, never silent
    with ExitStack() as stack:
        run_id = new_run_id(mode)
        run_path = inputs.results_root / run_id
        merge_traces_on_exit(
            run_path,
            stack,
            traces=not options.no_traces,
            sample_rate=options.trace_sample,
            missing=missing,
        )
        chosen = targets(options, config, stack, run_path)
        for target in chosen:
            check_allowed(target, getattr(options, "allow_production", []))
            check_reachable(target)
        plan = build_plan(options, inputs.seed, chosen, run_id, str(inputs.results_root), config)
        if customize is not None:
            plan = customize(plan)
        run = RunDirectory(inputs.results_root, run_id)
        stack.callback(run.close)
        telemetry = start_telemetry(
            run.path,
            run_id,
            stack,
            traces=not options.no_traces,
            endpoint=options.otlp_endpoint,
            sample_rate=options.trace_sample,
        )
        run.start(
            mode=mode,
            target={_role(i, len(chosen)): t.model_dump() for i, t in enumerate(chosen)},
            seed=inputs.seed,
            config={**config.model_dump(), "plan": json.loads(plan.model_dump_json())},
        )
        aggregator = LoadAggregator(run)
        aggregator.expect([t.name for t in chosen], [j.name for j in inputs.journeys])
        run.meta["selected_journeys"] = [j.name for j in inputs.journeys]
        if telemetry.metrics is not None:
            locust_users.add_sink(telemetry.metrics)
        describe = describe_plan(plan)
        _announce(mode, chosen, describe, inputs.seed, run_id, inputs.journeys)
        try:
            watcher = watch(chosen) if watch is not None else None
            stop = locust_driver.StopRequest()
            run.on_write_error = stop.request  # a full disk stops the run (exit 3)
            with _signals_stop(stop):
                outcome = _drive(
                    options, plan, inputs.journeys, aggregator, inputs.journey_paths, watcher, stop
                )
            if outcome.aborted:
                print(f"\nSTOPPED EARLY after {outcome.aborted_at_s:.0f} s: {outcome.aborted}")
        except KeyboardInterrupt:
            run.finish("aborted")
            raise
        except BaseException:
            run.finish("error")
            raise
        health = write_results(run, aggregator, outcome, chosen, describe)
        print_measured(run, aggregator, outcome, health)
        if run.write_error is not None:
            pass  # said and recorded below, once the stack has closed
        elif outcome.interrupted:
            run.finish(
                "aborted",
                reason=outcome.interrupted,
                iterations=aggregator.iterations,
                failed=aggregator.failures,
                elapsed_s=round(outcome.elapsed_s, 3),
            )
            print(f"\nABORTED by {outcome.interrupted}: partial results in {run.path}")
        else:
            run.finish("judging")  # until every source below is complete
    # Here the stack has closed: the span sidecar has written every span (or given up within its
    # deadline), the targets have stopped and flushed theirs, the parts are merged, and
    # steps.jsonl is closed. Only now may gates read the folder.
    if run.write_error is not None:
        run.finish("error", reason=run.write_error, iterations=aggregator.iterations)
        print(
            f"\nERROR: {run.write_error}. The run stopped there; what could be written is in "
            f"{run.path}. Free some space (harness results prune) or give --results DIR.",
            flush=True,
        )
        return ExitCode.HARNESS_ERROR
    record_evidence(run, telemetry, missing)
    if outcome.interrupted:
        publish_reports(run.path)
        return ExitCode.HARNESS_ERROR
    code = judge(run, aggregator, outcome, health)
    if reports:
        publish_reports(run.path)
    return code


def _announce(
    mode: str,
    chosen: list[Target],
    describe: str,
    seed: int,
    run_id: str,
    journeys: list[Journey],
) -> None:
    """The run's header: mode, targets (credentials redacted), plan, seed, journeys."""
    where = redact(" vs ".join(f"{t.name} ({t.web})" for t in chosen))
    print(f"journey-harness {mode} · {where} · {describe} · seed {seed} · run {run_id}")
    for target in chosen:
        announce_http(target)
    print(
        "  journeys: "
        + ", ".join(
            f"{j.name} (weight {j.weight}{', browser' if j.uses_browser else ''})" for j in journeys
        ),
        flush=True,
    )


@contextmanager
def _signals_stop(stop: locust_driver.StopRequest) -> Iterator[None]:
    """SIGINT and SIGTERM stop the users; what was measured is still written."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.request(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _role(index: int, count: int) -> str:
    return "target" if count == 1 else ("baseline", "candidate")[index]


def _one_target(
    options: argparse.Namespace, config: HarnessConfig, stack: ExitStack, run_path: Path
) -> list[Target]:
    sandbox_traces = None if options.no_traces else run_path / "traces" / "sandbox.jsonl"
    return [
        resolve_target(
            config,
            stack,
            sandbox=options.sandbox,
            target=options.target,
            regressions=options.regression,
            sandbox_traces=sandbox_traces,
        )
    ]


def _drive(
    options: argparse.Namespace,
    plan: LoadPlan,
    journeys: list[Journey],
    aggregator: LoadAggregator,
    journey_paths: list[Path],
    watch: Watch | None = None,
    stop: locust_driver.StopRequest | None = None,
) -> LoadOutcome:
    roles = [_role(i, len(plan.targets)) for i in range(len(plan.targets))]
    sides = {str(t["name"]): role for t, role in zip(plan.targets, roles, strict=True)}

    def progress(agg: LoadAggregator, elapsed: float, users: int) -> None:
        line = progress_line(
            agg, elapsed, plan.total_duration_s, users, sides if len(sides) > 1 else None
        )
        print(line, flush=True)

    web_port = options.web_port if options.web_ui else None
    if web_port is not None:
        print(f"  Locust web UI: http://127.0.0.1:{web_port}/", flush=True)
    if plan.workers > 1 or options.master:
        spawn = None
        port = options.master_port
        bind = options.master_bind
        key = cluster_key(options)
        if options.processes:  # its own children, on loopback, with a key of their own
            port, bind, key = free_port(), "127.0.0.1", new_key()
            spawn = local_workers.spawn_local_workers(
                options.processes, worker_argv(options, journey_paths), key
            )
        else:
            print(f"  master listening on {bind}:{port}", flush=True)
        return locust_driver.run_master(
            plan,
            journeys,
            aggregator,
            bind_host=bind,
            bind_port=port,
            key=key,
            expect_workers=plan.workers,
            spawn_workers=spawn,
            progress=progress,
            web_ui_port=web_port,
            watch=watch,
            stop=stop,
        )
    return locust_driver.run_local(
        plan,
        journeys,
        aggregator,
        progress=progress,
        web_ui_port=web_port,
        watch=watch,
        stop=stop,
    )
