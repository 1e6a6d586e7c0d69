"""`harness load`: journeys as weighted Locust users — locally, over `--processes N`, or as the
master or a worker of a distributed run."""

from __future__ import annotations

import argparse
import json
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from pydantic import ValidationError

from harness.commands.load_judge import load_judge
from harness.config import HarnessConfig, LoadedConfig, load_config
from harness.durations import parse_duration
from harness.engine import locust_driver, locust_users
from harness.engine.allocation import allocate
from harness.engine.cluster_auth import KEY_ENV, check_key, is_loopback, new_key
from harness.engine.collector import LoadAggregator
from harness.engine.locust_driver import LoadOutcome, Watch
from harness.engine.network import free_port
from harness.engine.plan import LoadPlan, ShapeKind, parse_stages
from harness.engine.summary import (
    Health,
    assess_health,
    latency_rows,
    progress_line,
    summary_markdown,
    table,
)
from harness.errors import UsageError
from harness.exitcodes import ExitCode
from harness.flags import parse_flags
from harness.journey import Journey
from harness.markdown import md_text
from harness.redact import redact
from harness.results import RUN_FILE, RunDirectory, new_run_id
from harness.run.evidence import merge_traces_on_exit, publish_reports, start_telemetry
from harness.run.inputs import run_inputs
from harness.run.targets import check_allowed, check_reachable, resolve_target
from harness.targets import Target
from harness.text import plural
from harness.touchpoints.chromium_sandbox import summarise

if TYPE_CHECKING:
    from harness.telemetry.tracing import Telemetry

MAX_PROCESSES = 64  #: local worker processes (`--processes`)
MAX_USERS = 100_000  #: concurrent iterations per process (`--max-users`)


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
    _check_options(options)
    key = _cluster_key(options)
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
        users=_fewest_users(options),
        browser_users=options.browser_users,
        workers=_workers(options),
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
        plan = _plan(options, inputs.seed, chosen, run_id, str(inputs.results_root), config)
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
        describe = _describe(plan)
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
        health = _write_results(run, aggregator, outcome, chosen, describe)
        _print_measured(run, aggregator, outcome, health)
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
    _record_evidence(run, telemetry, missing)
    if outcome.interrupted:
        publish_reports(run.path)
        return ExitCode.HARNESS_ERROR
    code = judge(run, aggregator, outcome, health)
    if reports:
        publish_reports(run.path)
    return code


def _check_options(options: argparse.Namespace) -> None:
    """Refuse conflicting or out-of-bounds process options (exit 2)."""
    if options.master and options.worker:
        raise UsageError(
            "--master and --worker together: a process is the master or one of its workers; "
            "start the master with --master, then each worker with --worker --master-host H"
        )
    if not 0 <= options.processes <= MAX_PROCESSES:
        raise UsageError(
            f"--processes {options.processes}: give 0 to {MAX_PROCESSES} local worker processes "
            "(more load machines: --master and --worker)"
        )
    if not 1 <= options.max_users <= MAX_USERS:
        raise UsageError(
            f"--max-users {options.max_users}: give 1 to {MAX_USERS:,} concurrent iterations "
            "per process"
        )


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
    print(
        "  journeys: "
        + ", ".join(
            f"{j.name} (weight {j.weight}{', browser' if j.uses_browser else ''})" for j in journeys
        ),
        flush=True,
    )


def _write_results(
    run: RunDirectory,
    aggregator: LoadAggregator,
    outcome: LoadOutcome,
    chosen: list[Target],
    describe: str,
) -> Health:
    """Histograms, health and summary.md into the run folder; the generator's health (assessed
    from the aggregator alone when the folder cannot be written)."""
    try:
        health = _write_measurements(run, aggregator)
        run.write_text(
            "summary.md",
            summary_markdown(
                run_id=run.path.name,
                target=" vs ".join(t.name for t in chosen),
                plan_text=describe,
                elapsed_s=outcome.elapsed_s,
                aggregator=aggregator,
                health=health,
            ),
        )
    except OSError as exc:
        run.failed_to_write("the run's measurements", exc)
        health = assess_health(aggregator, aggregator.iterations)
    return health


def _print_measured(
    run: RunDirectory, aggregator: LoadAggregator, outcome: LoadOutcome, health: Health
) -> None:
    """The latency table, the generator's health and lost or refused workers."""
    print()
    for line in table(latency_rows(aggregator.hdr, aggregator.journeys)):
        print(line)
    print(
        f"\n  generator: CPU median {health.cpu_median:.0f}% (max {health.cpu_max:.0f}%), "
        f"Chromium max {health.browser_cpu_max:.0f}%, loop lag p95 {health.lag_p95_ms:.1f} ms, "
        f"late {health.late}, dropped {health.dropped}, RSS max {health.rss_max_mb:.0f} MB"
    )
    if health.saturated:
        print(f"  WARNING: the generator was saturated: {'; '.join(health.reasons)}")
    for warning in health.warnings:
        print(f"  WARNING: {warning}")
    if outcome.refused:
        run.meta["refused_workers"] = outcome.refused
    if outcome.missing_finals:
        print(
            f"  WARNING: lost workers {', '.join(outcome.missing_finals)}: no final report; "
            "their measurements up to their last report are included, so the run fails"
        )


def _record_evidence(run: RunDirectory, telemetry: Telemetry, missing: list[str]) -> None:
    """Span counts, OTLP delivery and any evidence that could not be completed, into run.json
    (and said on the terminal)."""
    missing = [*telemetry.missing, *missing]
    counts = dict(telemetry.counts)
    if counts:
        run.meta["spans"] = counts
    if counts.get("otlp_unsent"):
        line = (
            f"traces: {counts['otlp_unsent']:,} spans were not sent to the OTLP endpoint "
            f"({counts.get('otlp_error') or 'unknown error'}); traces.jsonl has them all"
        )
        print(line, flush=True)
        summary = run.path / "summary.md"
        if summary.is_file():
            with summary.open("a", encoding="utf-8") as out:
                out.write(f"\n**Spans not sent:** {md_text(line.removeprefix('traces: '))}\n")
    if missing:
        run.meta["incomplete_evidence"] = missing
        for part in missing:
            print(f"WARNING: incomplete evidence: {part}", flush=True)
    try:
        run.write_json(RUN_FILE, run.meta)
    except OSError as exc:
        run.failed_to_write(RUN_FILE, exc)


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


def _cluster_key(options: argparse.Namespace) -> str | None:
    """The cluster key (`--cluster-key`, else HARNESS_CLUSTER_KEY), checked before anything
    listens or connects: required by a master bound off loopback, and by a worker whose master
    is not on loopback. `--processes` makes its own for its own workers."""
    key: str | None = options.cluster_key
    where = "--cluster-key"
    if key is None and os.environ.get(KEY_ENV):
        key, where = os.environ[KEY_ENV], KEY_ENV
    if key is not None:
        check_key(key, where=where)
    loopback_bind = is_loopback(options.master_bind)
    if options.worker:
        parse_duration(options.master_wait, what="--master-wait")
        if key is None and not is_loopback(options.master_host):
            raise UsageError(
                f"--master-host {options.master_host} is not on this machine: give the master's "
                f"cluster key in {KEY_ENV} (or --cluster-key), so that this worker runs a plan "
                "only from a master that holds it"
            )
    elif options.master and not options.processes and key is None and not loopback_bind:
        raise UsageError(
            f"--master-bind {options.master_bind} lets other machines connect: set a cluster "
            f"key that workers must prove, e.g. export {KEY_ENV}=$(python -c 'import "
            "secrets; print(secrets.token_urlsafe(32))') on the master and each worker"
        )
    return key


def _workers(options: argparse.Namespace) -> int:
    """Load processes: `--processes`, the workers a master expects, or this one."""
    return int(options.processes or (options.expect_workers if options.master else 1))


def _fewest_users(options: argparse.Namespace) -> int | None:
    """The user count that must hold every journey: `--users`, the largest `--steps` stage (each
    journey runs at least there), None for the open model."""
    if options.shape == ShapeKind.ARRIVAL.value:
        return None
    if options.shape == ShapeKind.STEPS.value and options.steps:
        return max(stage.users for stage in parse_stages(options.steps))
    return int(options.users)


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
        key = _cluster_key(options)
        if options.processes:  # its own children, on loopback, with a key of their own
            port, bind, key = free_port(), "127.0.0.1", new_key()
            spawn = locust_driver.spawn_local_workers(
                options.processes, _worker_argv(options, journey_paths), key
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


def _write_measurements(run: RunDirectory, aggregator: LoadAggregator) -> Health:
    """histograms/ (merged and per source), timeline.json and health.json."""
    aggregator.hdr.write(run.path / "histograms")
    for index, (source, totals) in enumerate(sorted(aggregator.sources.items())):
        totals.hdr.write(run.path / "histograms" / "by-source" / f"{index}")
        run.meta.setdefault("sources", {})[str(index)] = source
    run.write_json("timeline.json", aggregator.timeline())
    run.write_json("counts.json", aggregator.counts())
    health = assess_health(aggregator, aggregator.iterations)
    run.write_json("health.json", {"summary": health.as_dict(), "samples": aggregator.health})
    run.meta["generator"] = health.as_dict()
    browser = summarise([s["browser_sandbox"] for s in aggregator.health if "browser_sandbox" in s])
    if browser is not None:
        run.meta["browser"] = browser
    run.meta["workers"] = {k: v.iterations for k, v in aggregator.sources.items()}
    return health


def _plan(
    options: argparse.Namespace,
    seed: int,
    targets: list[Target],
    run_id: str,
    results_root: str,
    config: HarnessConfig,
) -> LoadPlan:
    workers = _workers(options)
    try:
        return LoadPlan(
            run_id=run_id,
            shape=ShapeKind(options.shape),
            users=options.users,
            spawn_rate=options.spawn_rate,
            duration_s=parse_duration(options.duration),
            stages=parse_stages(options.steps) if options.steps else [],
            rate=options.rate,
            max_users=options.max_users,
            browser_users=options.browser_users,
            browser_cpus=options.browser_cpus,
            step_sample_rate=options.step_sample_rate,
            max_iterations=options.max_iterations,
            workers=workers,
            seed=seed,
            profile=config.profile,
            locale=config.locale,
            targets=[t.model_dump() for t in targets],
            results_root=results_root,
            request_timeout=config.request_timeout,
            action_timeout=config.action_timeout,
            navigation_timeout=config.navigation_timeout,
            keyword=options.keyword,
            traces=not options.no_traces,
            trace_sample=options.trace_sample,
            otlp_endpoint=options.otlp_endpoint,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]).replace("_", "-") if error["loc"] else "plan"
        raise UsageError(f"--{field}: {error['msg']} (got {error.get('input')!r})") from None


def _describe(plan: LoadPlan) -> str:
    if plan.shape is ShapeKind.ARRIVAL:
        shape = (
            f"arrival {plan.rate:g}/s (at most {plan.max_users} concurrent per process) "
            f"for {plan.duration_s:g} s"
        )
    elif plan.shape is ShapeKind.STEPS:
        shape = "steps " + ", ".join(
            f"{plural(s.users, 'user')} × {s.duration_s:g} s" for s in plan.stages
        )
    else:
        shape = (
            f"ramp to {plural(plan.users, 'user')} at {plan.spawn_rate:g}/s "
            f"for {plan.duration_s:g} s"
        )
    procs = plural(plan.workers, "process", "processes")
    return f"{shape}, {plural(plan.browser_users, 'browser user')} per process, {procs}"


def _worker_argv(options: argparse.Namespace, journey_paths: Sequence[Path]) -> list[str]:
    argv: list[str] = []
    for path in journey_paths:
        argv += ["--journeys", str(path)]
    if options.config is not None:
        argv += ["--config", str(options.config)]
    return argv
