"""Parsed command-line options into a `RunRequest`: the one place a run command's flags meet
`harness.toml` (read here, once) and the defaults. No Locust is imported."""

from __future__ import annotations

import argparse
from typing import Any

from harness.commands.run_options import apply_otel_env
from harness.config import LoadedConfig, load_config
from harness.durations import parse_duration
from harness.flags import parse_flags
from harness.run.request import (
    Distribution,
    DrillSettings,
    Mode,
    RunRequest,
    Shape,
    Sides,
    Tracing,
    build_request,
    parse_shape,
    rollout_settings,
)
from harness.run.workload_run import with_workload


def request_from_options(
    options: argparse.Namespace, mode: Mode, loaded: LoadedConfig | None = None
) -> RunRequest:
    """The request of a run command: its flags, else `harness.toml` (`loaded`, else read now),
    else the defaults; a malformed value is the user's mistake (exit 2), said before any
    target is started or reached."""
    apply_otel_env(options)  # the OTEL_* environment where no flag says otherwise
    loaded = loaded if loaded is not None else load_config(options.config)
    sections: dict[str, Any] = {
        "sides": _sides(options),
        "tracing": Tracing(
            traces=not options.no_traces,
            sample_rate=options.trace_sample,
            otlp_endpoint=options.otlp_endpoint,
            headed=bool(getattr(options, "headed", False)),
        ),
        "min_samples": getattr(options, "min_samples", None),
    }
    if hasattr(options, "users"):  # the load family
        sections["shape"] = _shape(options)
        sections["distribution"] = _distribution(options)
    if mode == "rollout":
        settings = rollout_settings(
            loaded,
            stages=options.stages,
            stage_duration=options.stage_duration,
            max_extensions=options.max_extensions,
            min_samples=options.min_samples,
            hooks={h: getattr(options, h) for h in ("on_stage", "on_promote", "on_rollback")},
        )
        sections["rollout"] = settings
        sections["min_samples"] = settings.min_samples
        if options.duration is None:  # no --duration: room for every stage and extension
            shape = sections["shape"]
            sections["shape"] = shape.model_copy(update={"duration_s": settings.bound_s})
    if mode == "drill":
        sections["drill"] = DrillSettings(
            faults=tuple(options.fault),
            expect=tuple(options.expect),
            aa=options.aa,
            runs=options.runs,
            direct_baseline=options.direct_baseline,
            replay_step_s=options.replay_step,
            preserve_host=options.preserve_host,
        )
    return build_request(
        mode,
        loaded,
        journeys=options.journeys,
        keyword=options.keyword,
        seed=options.seed,
        results=options.results,
        **sections,
    )


def _sides(options: argparse.Namespace) -> Sides:
    return Sides(
        sandbox=bool(getattr(options, "sandbox", False)),
        target=getattr(options, "target", None),
        baseline=getattr(options, "baseline", None),
        candidate=getattr(options, "candidate", None),
        regressions=tuple(getattr(options, "regression", None) or ()),
        allow_production=tuple(getattr(options, "allow_production", None) or ()),
        flags=parse_flags(getattr(options, "flags", None) or []),
        flag_matrix=getattr(options, "flag_matrix", None),
    )


def _shape(options: argparse.Namespace) -> Shape:
    shape = parse_shape(
        kind=options.shape,
        duration=options.duration or "30s",
        steps=options.steps,
        users=options.users,
        spawn_rate=options.spawn_rate,
        rate=options.rate,
        max_users=options.max_users,
        browser_users=options.browser_users,
        browser_cpus=options.browser_cpus,
        browser_context=getattr(options, "browser_context", None),
        browser_trace=bool(getattr(options, "browser_trace", False)),
        max_iterations=options.max_iterations,
        step_sample_rate=options.step_sample_rate,
        max_error_rate=options.max_error_rate,
    )
    workload = getattr(options, "workload", None)
    speed = getattr(options, "speed", None)
    return with_workload(shape, workload, speed, rate_given=options.rate > 0)


def _distribution(options: argparse.Namespace) -> Distribution:
    return Distribution(
        processes=options.processes,
        master=options.master,
        worker=options.worker,
        master_host=options.master_host,
        master_port=options.master_port,
        expect_workers=options.expect_workers,
        master_bind=options.master_bind,
        cluster_key=options.cluster_key,
        master_wait_s=parse_duration(options.master_wait, what="--master-wait"),
        web_ui_port=options.web_port if options.web_ui else None,
    )
