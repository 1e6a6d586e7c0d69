"""The one session: runs a `RunRequest` with a mode's `RunPlan` on Locust (load, rehearse, flag
matrix, rollout, a drill's runs), or as a smoke run (`harness.run.smoke`).

Inputs first (journeys, every journey allocated a user, or exit 2 before any request), then
targets, the run folder and tracing inside one `ExitStack`; the engine drives the users; the
measurements are written; and only once the stack has closed (spans flushed and merged,
sandboxes stopped, steps.jsonl closed) does the plan judge the folder.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from harness.engine.allocation import allocate
from harness.engine.cluster_auth import new_key
from harness.engine.collector import LoadAggregator
from harness.engine.network import free_port
from harness.engine.outcome import StopRequest
from harness.engine.plan import LoadPlan
from harness.engine.summary import progress_line
from harness.exitcodes import ExitCode
from harness.journey import Journey
from harness.redact import redact
from harness.results import RunDirectory, new_run_id
from harness.run.evidence import (
    merge_traces_on_exit,
    publish_reports,
    remember_run,
    start_telemetry,
)
from harness.run.inputs import RunInputs, run_inputs
from harness.run.load_plan import (
    build_plan,
    check_options,
    cluster_key,
    describe_plan,
    fewest_users,
    worker_argv,
)
from harness.run.measurements import print_measured, record_evidence, write_results
from harness.run.metrics import check_metric_gates, record_metrics
from harness.run.plan import RunPlan
from harness.run.request import RunRequest
from harness.run.targets import check_allowed, check_reachable
from harness.run.workload_run import report_workload
from harness.runtime import RunSink
from harness.target_http import announce_http
from harness.targets import Target

if TYPE_CHECKING:
    from harness.engine.outcome import LoadOutcome, Watch


class Session:
    """One run of one request: `run(plan)` drives it on Locust, `smoke()` runs each journey
    once in this process; each returns the exit code. Locust is imported only by `run` (the
    CLI imports it first for the commands that drive load)."""

    def __init__(self, request: RunRequest) -> None:
        self.request = request
        #: the run folder, once made (a drill reads its runs' folders)
        self.run_path: Path | None = None

    def run(self, plan: RunPlan) -> int:
        """Drive the journeys against `plan`'s targets, write the run folder, then let the plan
        judge it. With `plan.reports` false, the reports are left to the caller."""
        self._import_engine()
        request = self.request
        where = request.distribution
        check_options(where, request.shape)
        key = cluster_key(where)
        inputs = run_inputs(request, select_journeys=not where.worker)
        if where.worker:
            from harness.engine import locust_driver

            return locust_driver.run_worker(
                inputs.journeys,
                where.master_host,
                where.master_port,
                key=key,
                wait_s=where.master_wait_s,
            )
        check_metric_gates(request)  # a provider no [providers] names: exit 2, before any run
        # Every selected journey runs, or the run refuses here, before any target is reached.
        allocate(
            inputs.journeys,
            users=fewest_users(request.shape),
            browser_users=request.shape.browser_users,
            workers=where.process_count,
        )
        missing: list[str] = []  # evidence a process could not complete: named, never silent
        tracing = request.tracing
        with ExitStack() as stack:
            run_id = new_run_id(plan.mode)
            run_path = inputs.results_root / run_id
            self.run_path = run_path
            merge_traces_on_exit(
                run_path,
                stack,
                traces=tracing.traces,
                sample_rate=tracing.sample_rate,
                missing=missing,
            )
            chosen = plan.targets(
                _sandboxes_off_chromium(request, inputs.journeys), stack, run_path
            )
            for target in chosen:
                check_allowed(target, request.sides.allow_production)
                check_reachable(target)
            load_plan = plan.amend(build_plan(request, chosen, run_id))
            run = RunDirectory(inputs.results_root, run_id)
            stack.callback(run.close)
            telemetry = start_telemetry(
                run.path,
                run_id,
                stack,
                traces=tracing.traces,
                endpoint=tracing.otlp_endpoint,
                sample_rate=tracing.sample_rate,
            )
            run.start(
                mode=plan.mode,
                target={_role(i, len(chosen)): t.model_dump() for i, t in enumerate(chosen)},
                seed=inputs.seed,
                config={
                    **request.config.model_dump(),
                    "plan": json.loads(load_plan.model_dump_json()),
                },
                request=request.recorded(),
            )
            aggregator = LoadAggregator(run)
            aggregator.expect([t.name for t in chosen], [j.name for j in inputs.journeys])
            run.meta["selected_journeys"] = [j.name for j in inputs.journeys]
            describe = describe_plan(load_plan)
            _announce(
                plan.mode, chosen, describe, inputs.seed, run_id, inputs.journeys, load_plan.weights
            )
            try:
                watcher = plan.watch(chosen, run)
                sinks = [*([telemetry.metrics] if telemetry.metrics else []), *plan.sinks()]
                stop = StopRequest()
                run.on_write_error = stop.request  # a full disk stops the run (exit 3)
                with _signals_stop(stop):
                    outcome = self._drive(load_plan, inputs, aggregator, watcher, stop, sinks)
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
            report_workload(run, load_plan, request, inputs.journeys, aggregator)
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
        # Here the stack has closed: the span sidecar has written every span (or given up within
        # its deadline), the targets have stopped and flushed theirs, the parts are merged, and
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
        history_root = request.history_root or inputs.results_root
        if outcome.interrupted:
            remember_run(run.path, request.config.history, history_root)
            publish_reports(run.path)
            return ExitCode.HARNESS_ERROR
        record_metrics(request, run, chosen, aggregator)  # before the gates read the folder
        code = plan.judge(run, aggregator, outcome, health)
        remember_run(run.path, request.config.history, history_root)
        if plan.reports:
            publish_reports(run.path)
        return code

    def _import_engine(self) -> None:
        """The engine (Locust, Playwright) is imported before anything starts, so that none of
        its seconds fall between the run folder's start and the first iteration."""
        from harness.engine import local_workers, locust_driver  # noqa: F401

    def smoke(self) -> int:
        """Every selected journey once, in this process (`harness smoke`)."""
        from harness.run.smoke import run_smoke_request

        return run_smoke_request(self.request, on_folder=self._ran_in)

    def _ran_in(self, path: Path) -> None:
        self.run_path = path

    def _drive(
        self,
        plan: LoadPlan,
        inputs: RunInputs,
        aggregator: LoadAggregator,
        watch: Watch | None,
        stop: StopRequest,
        sinks: Sequence[RunSink],
    ) -> LoadOutcome:
        """The engine: Locust's local runner, or a master over local or remote workers."""
        from harness.engine import local_workers, locust_driver

        where = self.request.distribution
        roles = [_role(i, len(plan.targets)) for i in range(len(plan.targets))]
        sides = {str(t["name"]): role for t, role in zip(plan.targets, roles, strict=True)}

        def progress(agg: LoadAggregator, elapsed: float, users: int) -> None:
            line = progress_line(
                agg, elapsed, plan.total_duration_s, users, sides if len(sides) > 1 else None
            )
            print(line, flush=True)

        web_port = where.web_ui_port
        if web_port is not None:
            print(f"  Locust web UI: http://127.0.0.1:{web_port}/", flush=True)
        if plan.workers > 1 or where.master:
            spawn = None
            port, bind, key = where.master_port, where.master_bind, cluster_key(where)
            if where.processes:  # its own children, on loopback, with a key of their own
                port, bind, key = free_port(), "127.0.0.1", new_key()
                argv = worker_argv(self.request.config_source, inputs.journey_paths)
                spawn = local_workers.spawn_local_workers(where.processes, argv, key)
            else:
                print(f"  master listening on {bind}:{port}", flush=True)
            return locust_driver.run_master(
                plan,
                inputs.journeys,
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
            inputs.journeys,
            aggregator,
            progress=progress,
            web_ui_port=web_port,
            watch=watch,
            stop=stop,
            sinks=sinks,
        )


def _announce(
    mode: str,
    chosen: list[Target],
    describe: str,
    seed: int,
    run_id: str,
    journeys: list[Journey],
    weights: dict[str, int] | None = None,
) -> None:
    """The run's header: mode, targets (credentials redacted), plan, seed, journeys and their
    weights (a workload's, per mille of its mix, when one is run)."""
    where = redact(" vs ".join(f"{t.name} ({t.web})" for t in chosen))
    print(f"journey-harness {mode} · {where} · {describe} · seed {seed} · run {run_id}")
    for target in chosen:
        announce_http(target)
    print(
        "  journeys: "
        + ", ".join(
            f"{j.name} ({_weight(j, weights)}{', browser' if j.uses_browser else ''})"
            for j in journeys
        ),
        flush=True,
    )


def _weight(journey: Journey, weights: dict[str, int] | None) -> str:
    if weights:
        return f"workload weight {weights.get(journey.name, 0)}"
    return f"weight {journey.weight}"


@contextmanager
def _signals_stop(stop: StopRequest) -> Iterator[None]:
    """SIGINT and SIGTERM stop the users; what was measured is still written."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.request(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _sandboxes_off_chromium(request: RunRequest, journeys: Sequence[Journey]) -> RunRequest:
    """The request whose sandboxes keep off Chromium's cores, as the generator does, when web
    journeys run: then both sides share the same cores. Left to the scheduler, each sandbox
    sat on Chromium's core now and then, on its own (3–30% of the time), and the API steps of
    the side that sat there ran about 20% slower for as long as it did (bench/README.md)."""
    if not request.sides.sandbox or request.shape.browser_users <= 0:
        return request
    if not any(j.uses_browser for j in journeys) or not hasattr(os, "sched_getaffinity"):
        return request
    from harness.engine.tuning import browser_cpus

    chromium = browser_cpus(request.shape.browser_cpus)
    rest = frozenset(os.sched_getaffinity(0)) - chromium if chromium else frozenset()
    if not rest:
        return request
    sides = request.sides.model_copy(update={"sandbox_cpus": rest})
    return request.model_copy(update={"sides": sides})


def _role(index: int, count: int) -> str:
    return "target" if count == 1 else ("baseline", "candidate")[index]
