"""Run a load plan on Locust: locally, as a master (with local or remote workers), or as a worker.

Locust does the scheduling and the distribution. The harness adds: per-process collectors whose
deltas reach the master through Locust's `report_to_master` / `worker_report` events (and a final
`harness_final` message once a worker's users have stopped, so nothing is lost or counted twice),
a live progress line, and a generator-health sampler in every load process.
"""

from __future__ import annotations

import argparse
import functools
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gevent
from locust import LoadTestShape
from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments
from locust.env import Environment
from locust.exception import RPCError
from locust.rpc import Message
from locust.runners import STATE_STOPPED

from harness.children import SpawnedProcess
from harness.engine import locust_users
from harness.engine.cluster import KeyedMasterRunner, KeyedWorkerRunner, WorkerGaveUp
from harness.engine.cluster_auth import MasterGate
from harness.engine.collector import LoadAggregator
from harness.engine.generator_health import health_loop
from harness.engine.local_workers import WORKER_WAIT_S, stop_children, wait_for_workers
from harness.engine.outcome import LoadOutcome, Progress, StopRequest, Watch
from harness.engine.plan import LoadPlan
from harness.errors import HarnessError, UsageError
from harness.journey import Journey
from harness.lifetime import die_with_parent
from harness.runtime import RunSink
from harness.telemetry import tracing

LOCAL = "local"
FINAL_MESSAGE = "harness_final"
PLAN_OPTION = "harness_plan"
REPORT_KEY = "harness"
DELTA_INTERVAL_S = 1.0
FINAL_WAIT_S = 20.0

logging.getLogger("locust").setLevel(logging.ERROR)


class PlanShape(LoadTestShape):
    """A Locust shape that follows the plan: users per stage, then stop."""

    def __init__(self, plan: LoadPlan) -> None:
        super().__init__()
        self.plan = plan

    def tick(self) -> tuple[int, float] | None:
        """(users, spawn rate) now, or None when the plan's duration is over."""
        users = self.plan.users_at(self.get_run_time())
        if users is None:
            return None
        rate = float(users) if self.plan.open_model else self.plan.spawn_rate
        return users, max(rate, 1.0)


def _options(plan: LoadPlan | None) -> argparse.Namespace:
    """Locust's parsed options with the plan attached (workers receive it from the master)."""
    parser = get_empty_argument_parser()
    setup_parser_arguments(parser)
    options: argparse.Namespace = parser.parse(args=[])
    options.headless = False  # the harness, not the shape greenlet, decides when to quit
    if plan is not None:
        setattr(options, PLAN_OPTION, plan.model_dump_json())
    return options


def _environment(classes: list[Any], plan: LoadPlan | None) -> Environment:
    env = Environment(
        user_classes=classes,
        shape_class=PlanShape(plan) if plan is not None else None,
        host=str(plan.targets[-1]["web"]) if plan is not None else None,
        parsed_options=_options(plan),
        stop_timeout=5.0,
    )
    return env


def _serve_web_ui(env: Environment, port: int) -> None:
    """Locust's web UI on loopback. Its index page lists "extra arguments" by parsing the
    process's command line with Locust's own parser, which refuses the harness's options (every
    page load ended the run with exit 2): it parses an empty command line instead."""
    from locust import argument_parser

    original = argument_parser.ui_extra_args_dict
    if not isinstance(original, functools.partial):
        argument_parser.ui_extra_args_dict = functools.partial(original, [])
    env.create_web_ui("127.0.0.1", port)


def _start_process_side(
    env: Environment,
    journeys: Sequence[Journey],
    worker: int,
    plan: LoadPlan,
    sinks: Sequence[RunSink] = (),
) -> list[gevent.Greenlet]:
    locust_users.prepare(plan, journeys, worker, env, sinks)
    return [gevent.spawn(health_loop, env)]


def run_local(
    plan: LoadPlan,
    journeys: Sequence[Journey],
    aggregator: LoadAggregator,
    *,
    progress: Progress | None = None,
    web_ui_port: int | None = None,
    watch: Watch | None = None,
    stop: StopRequest | None = None,
    sinks: Sequence[RunSink] = (),
) -> LoadOutcome:
    """Run the plan in this process with Locust's local runner; `sinks` also get every
    record."""
    env = _environment(locust_users.user_classes(journeys, plan), plan)
    runner = env.create_local_runner()
    helpers: list[gevent.Greenlet] = []

    def on_start(**_: Any) -> None:
        helpers.extend(_start_process_side(env, journeys, 0, plan, sinks))

    env.events.test_start.add_listener(on_start)
    if web_ui_port is not None:
        _serve_web_ui(env, web_ui_port)
    started = time.perf_counter()
    runner.start_shape()

    def ship() -> None:
        while True:
            gevent.sleep(DELTA_INTERVAL_S)
            aggregator.absorb(LOCAL, locust_users.state().take_delta(encoded=False))

    def show() -> None:
        while progress is not None:
            gevent.sleep(2.0)
            progress(aggregator, time.perf_counter() - started, runner.user_count)

    helpers += [gevent.spawn(ship), gevent.spawn(show)]
    aborted = _wait_stopped(runner, plan, aggregator, started, [LOCAL], watch, stop)
    gevent.killall(helpers)
    current = locust_users.state()
    current.stop()
    aggregator.absorb(LOCAL, current.take_delta(encoded=False), final=True)
    runner.quit()
    if env.web_ui is not None:
        env.web_ui.stop()
    elapsed = time.perf_counter() - started
    outcome = LoadOutcome(aggregator, elapsed, 1, [], *(aborted or (None, None)))
    outcome.interrupted = stop.reason if stop is not None else None
    return outcome


def _wait_stopped(
    runner: Any,
    plan: LoadPlan,
    aggregator: LoadAggregator,
    started: float,
    sources: Sequence[str],
    watch: Watch | None,
    stop: StopRequest | None = None,
) -> tuple[str, float] | None:
    """Wait for the shape to finish; a hard deadline stops a run that would overrun, the run
    ends once every one of `sources` has spent its share of `--max-iterations`, and `watch` may
    stop it early (returning why and when)."""
    deadline = time.perf_counter() + plan.total_duration_s + 60.0
    next_look = time.perf_counter() + 1.0
    while runner.state != STATE_STOPPED:
        now = time.perf_counter()
        if now > deadline or (stop is not None and stop.reason is not None):
            runner.stop()
            break
        if aggregator.spent(sources):
            print(
                f"  --max-iterations {plan.max_iterations:,} spent after {now - started:.1f} s: "
                "the run ends",
                flush=True,
            )
            runner.stop()
            break
        if watch is not None and now >= next_look:
            next_look = now + 1.0
            reason = watch(aggregator, now - started)
            if reason is not None:
                runner.stop()
                return reason, round(now - started, 3)
        gevent.sleep(0.2)
    return None


def run_master(
    plan: LoadPlan,
    journeys: Sequence[Journey],
    aggregator: LoadAggregator,
    *,
    bind_host: str = "127.0.0.1",
    bind_port: int = 5557,
    key: str | None = None,
    expect_workers: int,
    spawn_workers: Callable[[int], list[SpawnedProcess]] | None = None,
    progress: Progress | None = None,
    web_ui_port: int | None = None,
    watch: Watch | None = None,
    stop: StopRequest | None = None,
) -> LoadOutcome:
    """Run the plan as Locust's master over `expect_workers` workers (started by
    `spawn_workers(port)` for `--processes`, or by hand on other machines). With `key`, only
    workers that prove they hold it join (`harness.engine.cluster`)."""
    env = _environment(locust_users.user_classes(journeys, plan), plan)
    # Environment.create_master_runner builds Locust's own class; this is the same call with ours.
    try:
        runner: KeyedMasterRunner = env._create_runner(
            KeyedMasterRunner,
            master_bind_host=bind_host,
            master_bind_port=bind_port,
            gate=MasterGate(key),
        )
    except RPCError as exc:
        raise HarnessError(
            f"the master cannot listen on {bind_host}:{bind_port} ({exc}); is another master "
            "running there? Choose another --master-port"
        ) from None
    finals: set[str] = set()

    def on_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        if REPORT_KEY in data:
            aggregator.absorb(client_id, data[REPORT_KEY])

    def on_final(environment: Any, msg: Any, **_: Any) -> None:
        aggregator.absorb(msg.node_id, msg.data, final=True)
        finals.add(msg.node_id)

    env.events.worker_report.add_listener(on_report)
    runner.register_message(FINAL_MESSAGE, on_final)
    if web_ui_port is not None:
        _serve_web_ui(env, web_ui_port)
    children = spawn_workers(bind_port) if spawn_workers else []
    try:
        wait_for_workers(runner, expect_workers, children, stop, f"{bind_host}:{bind_port}")
        workers = list(runner.clients.keys())
        started = time.perf_counter()
        runner.start_shape()

        lost: dict[str, float] = {}

        def show() -> None:
            while True:
                gevent.sleep(2.0)
                elapsed = time.perf_counter() - started
                gone = {node.id for node in runner.clients.missing} - finals - set(lost)
                for worker in sorted(gone & set(workers)):
                    lost[worker] = elapsed
                    print(
                        f"  WORKER LOST at {elapsed:.0f} s: {worker} stopped answering; the run "
                        "goes on with the others and keeps what it reported",
                        flush=True,
                    )
                if progress is not None:
                    progress(aggregator, elapsed, runner.user_count)

        shower = gevent.spawn(show)
        aborted = _wait_stopped(runner, plan, aggregator, started, workers, watch, stop)
        final_deadline = time.perf_counter() + FINAL_WAIT_S
        while not finals.issuperset(set(workers) - set(lost)):
            if time.perf_counter() >= final_deadline:
                break
            gevent.sleep(0.1)
        shower.kill()
        # A worker that reported "stopped" is no longer among the master's clients until it
        # re-registers, so Locust's own quit() would not reach it: tell each one directly.
        for worker in workers:
            runner.server.send_to_client(Message("quit", None, worker))
        runner.quit()
        elapsed = time.perf_counter() - started
    finally:
        stop_children(children)
        if env.web_ui is not None:
            env.web_ui.stop()
    missing = sorted(set(workers) - finals)
    outcome = LoadOutcome(aggregator, elapsed, len(workers), missing, *(aborted or (None, None)))
    outcome.interrupted = stop.reason if stop is not None else None
    outcome.refused = list(runner.refused.values())
    return outcome


def run_worker(
    journeys: Sequence[Journey],
    master_host: str,
    master_port: int,
    *,
    key: str | None = None,
    wait_s: float = WORKER_WAIT_S,
) -> int:
    """Serve as a Locust worker until the master says quit; returns an exit code. With `key`,
    only a master that proves it holds the key is obeyed. Raises `UsageError` when the master
    cannot be trusted or refuses this worker, `HarnessError` when no master answers in `wait_s`
    (before the run, or during it)."""
    die_with_parent()  # a local worker of `--processes` ends with its master, even by SIGKILL
    env = _environment(locust_users.user_classes(journeys, None), None)
    try:
        runner: KeyedWorkerRunner = env._create_runner(
            KeyedWorkerRunner, master_host, master_port, key=key, wait_s=wait_s
        )
    except WorkerGaveUp as exc:
        raise (UsageError if exc.trust else HarnessError)(str(exc)) from None
    helpers: list[gevent.Greenlet] = []

    telemetry: list[tracing.Telemetry] = []

    def on_start(environment: Any, **_: Any) -> None:
        plan = LoadPlan.model_validate_json(getattr(environment.parsed_options, PLAN_OPTION))
        index = runner.worker_index
        parts = Path(plan.results_root) / plan.run_id / "traces"
        wired = (
            tracing.setup(
                trace_file=parts / f"worker-{index}.jsonl",
                run_id=plan.run_id,
                endpoint=plan.otlp_endpoint,
                sample_rate=plan.trace_sample,
                worker=index,
            )
            if plan.traces
            else tracing.switched_off()
        )
        telemetry.append(wired)
        sinks = [wired.metrics] if wired.metrics is not None else []
        helpers.extend(_start_process_side(env, journeys, index, plan, sinks))

    def on_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        if locust_users._state is not None:
            data[REPORT_KEY] = locust_users.state().take_delta()

    def on_stop(**_: Any) -> None:
        gevent.killall(helpers)
        helpers.clear()
        current = locust_users.state()
        current.stop()
        runner.send_message(FINAL_MESSAGE, current.take_delta())
        while telemetry:
            telemetry.pop().shutdown()

    env.events.test_start.add_listener(on_start)
    env.events.report_to_master.add_listener(on_report)
    env.events.test_stop.add_listener(on_stop)
    runner.greenlet.join()
    if runner.gave_up is not None:
        runner.client.close(linger=0)
        raise (UsageError if runner.gave_up.trust else HarnessError)(str(runner.gave_up))
    return 0
