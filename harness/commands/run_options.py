"""The options every command that runs journeys shares, and the `OTEL_*` environment applied
to them once they are parsed (kept apart from `harness.cli`, which imports no Locust either)."""

from __future__ import annotations

import argparse
from pathlib import Path

LOAD_TRACE_SAMPLE = 0.01  #: load, rehearse, rollout, drill: keep 1% of the passing traces


def add_run_options(
    parser: argparse.ArgumentParser, trace_sample: float = LOAD_TRACE_SAMPLE
) -> None:
    """The options every command that runs journeys takes (config, selection, seed, results,
    tracing)."""
    parser.add_argument("--config", type=Path, metavar="FILE", help="harness.toml to use")
    parser.add_argument("--journeys", type=Path, action="append", metavar="PATH")
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="select journeys by name/tag")
    parser.add_argument(
        "--seed", type=int, help="synthetic-data seed (default: config, else a fresh one per run)"
    )
    parser.add_argument("--results", type=Path, metavar="DIR", help="where run folders go")
    parser.add_argument("--headed", action="store_true", help="show the browser window")
    parser.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        help="also send spans (and metrics) over OTLP to this base URL, whatever "
        "OTEL_TRACES_EXPORTER says (default: the OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT "
        "environment, unless OTEL_TRACES_EXPORTER=none)",
    )
    parser.add_argument(
        "--trace-sample",
        type=float,
        default=None,
        metavar="RATE",
        help=f"share of journey traces sampled at their root (traceparent's flag); failed ones "
        f"and the slowest 1%% are kept besides, and the trace gate counts every trace (default: "
        f"OTEL_TRACES_SAMPLER[_ARG], else {trace_sample:g})",
    )
    parser.add_argument(
        "--no-traces",
        action="store_true",
        help="record no spans at all (no traces.jsonl; also OTEL_SDK_DISABLED=true)",
    )
    parser.set_defaults(trace_sample_default=trace_sample)


def apply_otel_env(options: argparse.Namespace) -> None:
    """The `OTEL_*` environment where no flag says otherwise (`harness.telemetry.otel_env`):
    the root sampler's rate, tracing off, and (with tracing on) an exporter, OTLP protocol,
    export timeout or propagator the harness cannot apply refused before the run starts
    (`UsageError`)."""
    if not hasattr(options, "trace_sample_default"):
        return  # not a command that runs journeys (a second call finds the rate resolved)
    from harness.telemetry import otel_env

    given, default = options.trace_sample, options.trace_sample_default
    options.trace_sample = otel_env.sample_rate(given, default)[0]
    options.no_traces = options.no_traces or otel_env.sdk_disabled()
    if not options.no_traces:
        otel_env.check()
