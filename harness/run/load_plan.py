"""The engine's `LoadPlan` of a run and the request it is built from: process and cluster-key
checks, the user count that must hold every journey, the `LoadPlan` itself, its one-line
description, and the argv of local worker processes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from harness.engine.cluster_auth import KEY_ENV, check_key, is_loopback
from harness.engine.plan import LoadPlan, ShapeKind
from harness.errors import UsageError
from harness.run.request import Distribution, RunRequest, Shape
from harness.run.workload_run import workload_plan
from harness.targets import Target
from harness.text import plural

MAX_PROCESSES = 64  #: local worker processes (`--processes`)
MAX_USERS = 100_000  #: concurrent iterations per process (`--max-users`)


def check_options(where: Distribution, shape: Shape) -> None:
    """Refuse conflicting or out-of-bounds process options (exit 2)."""
    if where.master and where.worker:
        raise UsageError(
            "--master and --worker together: a process is the master or one of its workers; "
            "start the master with --master, then each worker with --worker --master-host H"
        )
    if not 0 <= where.processes <= MAX_PROCESSES:
        raise UsageError(
            f"--processes {where.processes}: give 0 to {MAX_PROCESSES} local worker processes "
            "(more load machines: --master and --worker)"
        )
    if not 1 <= shape.max_users <= MAX_USERS:
        raise UsageError(
            f"--max-users {shape.max_users}: give 1 to {MAX_USERS:,} concurrent iterations "
            "per process"
        )


def cluster_key(options: Distribution) -> str | None:
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


def fewest_users(shape: Shape) -> int | None:
    """The user count that must hold every journey: `--users`, the largest `--steps` stage (each
    journey runs at least there), None for the open model."""
    if shape.kind in (ShapeKind.ARRIVAL, ShapeKind.REPLAY):
        return None
    if shape.kind is ShapeKind.STEPS and shape.stages:
        return max(stage.users for stage in shape.stages)
    return shape.users


def build_plan(request: RunRequest, targets: list[Target], run_id: str) -> LoadPlan:
    """The `LoadPlan` every load process runs, from the request; a value the plan refuses is
    the user's mistake (exit 2)."""
    shape, config, tracing = request.shape, request.config, request.tracing
    try:
        return LoadPlan(
            run_id=run_id,
            shape=shape.kind,
            users=shape.users,
            spawn_rate=shape.spawn_rate,
            duration_s=shape.duration_s,
            stages=list(shape.stages),
            rate=shape.rate,
            max_users=shape.max_users,
            browser_users=shape.browser_users,
            browser_cpus=shape.browser_cpus,
            browser_context=shape.browser_context or config.browser_context,
            record_browser_trace=shape.browser_trace,
            step_sample_rate=shape.step_sample_rate,
            max_iterations=shape.max_iterations,
            workers=request.distribution.process_count,
            seed=request.seed,
            profile=config.profile,
            locale=config.locale,
            targets=[t.model_dump() for t in targets],
            results_root=str(request.results_root),
            request_timeout=config.request_timeout,
            action_timeout=config.action_timeout,
            navigation_timeout=config.navigation_timeout,
            keyword=request.keyword,
            traces=tracing.traces,
            trace_sample=tracing.sample_rate,
            otlp_endpoint=tracing.otlp_endpoint,
            **workload_plan(shape),
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]).replace("_", "-") if error["loc"] else "plan"
        raise UsageError(f"--{field}: {error['msg']} (got {error.get('input')!r})") from None


def describe_plan(plan: LoadPlan) -> str:
    """The plan in one line: shape, browser users and processes."""
    if plan.shape is ShapeKind.REPLAY:
        shape = (
            f"replay of {sum(plan.curve)} recorded arrivals at {plan.speed:g}x "
            f"(at most {plan.max_users} concurrent per process) for {plan.duration_s:g} s"
        )
    elif plan.shape is ShapeKind.ARRIVAL:
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


def worker_argv(config: Path | None, journey_paths: Sequence[Path]) -> list[str]:
    """The arguments each local worker process (`--processes`) gets: journeys and config."""
    argv: list[str] = []
    for path in journey_paths:
        argv += ["--journeys", str(path)]
    if config is not None:
        argv += ["--config", str(config)]
    return argv
