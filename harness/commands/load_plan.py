"""The plan of a `harness load` and the options it is built from: process and cluster-key
checks, the user count that must hold every journey, the `LoadPlan` itself, its one-line
description, and the argv of local worker processes."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from harness.config import HarnessConfig
from harness.durations import parse_duration
from harness.engine.cluster_auth import KEY_ENV, check_key, is_loopback
from harness.engine.plan import LoadPlan, ShapeKind, parse_stages
from harness.errors import UsageError
from harness.targets import Target
from harness.text import plural

MAX_PROCESSES = 64  #: local worker processes (`--processes`)
MAX_USERS = 100_000  #: concurrent iterations per process (`--max-users`)


def check_options(options: argparse.Namespace) -> None:
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


def cluster_key(options: argparse.Namespace) -> str | None:
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


def process_count(options: argparse.Namespace) -> int:
    """Load processes: `--processes`, the workers a master expects, or this one."""
    return int(options.processes or (options.expect_workers if options.master else 1))


def fewest_users(options: argparse.Namespace) -> int | None:
    """The user count that must hold every journey: `--users`, the largest `--steps` stage (each
    journey runs at least there), None for the open model."""
    if options.shape == ShapeKind.ARRIVAL.value:
        return None
    if options.shape == ShapeKind.STEPS.value and options.steps:
        return max(stage.users for stage in parse_stages(options.steps))
    return int(options.users)


def build_plan(
    options: argparse.Namespace,
    seed: int,
    targets: list[Target],
    run_id: str,
    results_root: str,
    config: HarnessConfig,
) -> LoadPlan:
    """The `LoadPlan` every load process runs, from the options; a value the plan refuses is
    the user's mistake (exit 2)."""
    workers = process_count(options)
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


def describe_plan(plan: LoadPlan) -> str:
    """The plan in one line: shape, browser users and processes."""
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


def worker_argv(options: argparse.Namespace, journey_paths: Sequence[Path]) -> list[str]:
    """The arguments each local worker process (`--processes`) gets: journeys and config."""
    argv: list[str] = []
    for path in journey_paths:
        argv += ["--journeys", str(path)]
    if options.config is not None:
        argv += ["--config", str(options.config)]
    return argv
