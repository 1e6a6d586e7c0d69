"""A smoke run (`harness smoke`): every selected journey once, in this process, through the
same runtime as every other mode; the session's `smoke()`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from harness.console import ConsoleSink, closing_table, summary_markdown
from harness.drivers.smoke import run_smoke
from harness.exitcodes import ExitCode
from harness.records import Outcome
from harness.results import RunDirectory, new_run_id
from harness.run.evidence import (
    FanOut,
    merge_traces_on_exit,
    publish_reports,
    remember_run,
    start_telemetry,
)
from harness.run.inputs import run_inputs
from harness.run.request import RunRequest
from harness.run.targets import check_reachable, resolve_target
from harness.runtime import RunSettings
from harness.target_http import announce_http
from harness.targets import without_userinfo
from harness.text import plural


def run_smoke_request(request: RunRequest, on_folder: Callable[[Path], None] | None = None) -> int:
    """Run every selected journey of `request` once; returns the exit code. `on_folder` is told
    the run folder once it exists (the monitor reads each check's)."""
    inputs = run_inputs(request)
    sides, tracing = request.sides, request.tracing
    config = inputs.config
    journeys = inputs.journeys
    seed = inputs.seed
    mode = "monitor" if request.mode == "monitor" else "smoke"  # a monitor's check is a smoke run
    with ExitStack() as stack:
        run_id = new_run_id(mode)
        sandbox_traces = merge_traces_on_exit(
            inputs.results_root / run_id,
            stack,
            traces=tracing.traces,
            sample_rate=tracing.sample_rate,
        )
        target = resolve_target(
            config,
            stack,
            sandbox=sides.sandbox,
            target=sides.target,
            regressions=sides.regressions,
            sandbox_traces=sandbox_traces,
        )
        check_reachable(target)
        run = RunDirectory(inputs.results_root, run_id)
        stack.callback(run.close)
        if on_folder is not None:
            on_folder(run.path)
        telemetry = start_telemetry(
            run.path,
            run_id,
            stack,
            traces=tracing.traces,
            endpoint=tracing.otlp_endpoint,
            sample_rate=tracing.sample_rate,
        )
        run.start(
            mode=mode,
            target={"target": target.model_dump()},
            seed=seed,
            config=config.model_dump(),
            request=request.recorded(),
        )
        print(
            f"journey-harness {mode} · target {target.name} ({without_userinfo(target.web)}) · "
            f"{plural(len(journeys), 'journey')} · seed {seed} · run {run_id}",
            flush=True,
        )
        announce_http(target)
        settings = RunSettings(
            run_id=run_id,
            target=target,
            artifacts_dir=run.artifacts,
            seed=seed,
            profile=config.profile,
            locale=config.locale,
            request_timeout=config.request_timeout,
            action_timeout=config.action_timeout,
            navigation_timeout=config.navigation_timeout,
            flags=dict(sides.flags),
        )
        console = ConsoleSink()
        sink = FanOut(run, console, *([telemetry.metrics] if telemetry.metrics else []))
        try:
            iterations = run_smoke(
                journeys,
                settings,
                sink,
                headless=not tracing.headed,
                browser_seen=lambda choice: run.meta.update(browser=choice.as_dict()),
            )
        except KeyboardInterrupt:
            run.finish("aborted")
            raise
        except BaseException:
            run.finish("error")
            raise
        failed = [i for i in iterations if i.outcome is Outcome.FAILED]
        run.write_text("summary.md", summary_markdown("Smoke", iterations, str(run.path)))
        run.finish("failed" if failed else "passed", journeys=len(iterations), failed=len(failed))
        print()
        for row in closing_table(iterations):
            print(row)
        print(
            f"\n{'FAIL' if failed else 'PASS'}: {len(iterations) - len(failed)}/{len(iterations)} "
            f"journeys passed · results in {run.path}"
        )
    # The reports are rendered once the stack has closed: the span sidecar has flushed and the
    # sandbox's spans are merged, so every failure's trace tree is whole.
    remember_run(run.path, config.history, inputs.results_root)
    publish_reports(run.path)
    return ExitCode.FAILED if failed else ExitCode.PASSED
