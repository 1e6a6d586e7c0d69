"""The `OTEL_*` environment, read as the OpenTelemetry SDK specification defines it.

Flags win over the environment (`--otlp-endpoint`, `--trace-sample`, `--no-traces`); the
environment wins over the harness's defaults. What the SDK reads by itself is left to it:
`Resource.create()` reads `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME`, and the OTLP
exporters read their headers, compression, certificates and timeout
(`OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]HEADERS`, ...). This module resolves what the harness must
decide before there is an exporter: whether tracing is on, where spans and metrics go, over which
protocol, and the share of journey traces sampled at their root.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import UsageError

HTTP_PROTOCOL = "http/protobuf"
GRPC = "grpc"
PROTOCOLS = (HTTP_PROTOCOL, GRPC)
DEFAULT_SERVICE_NAME = "journey-harness"

#: OTEL_TRACES_SAMPLER values and the root sampling rate each means (None: read the argument).
#: The harness's roots have no parent, so a parent-based sampler decides as its root sampler.
_SAMPLERS: dict[str, float | None] = {
    "always_on": 1.0,
    "always_off": 0.0,
    "traceidratio": None,
    "parentbased_always_on": 1.0,
    "parentbased_always_off": 0.0,
    "parentbased_traceidratio": None,
}


@dataclass(frozen=True)
class OtlpTarget:
    """Where one signal goes: its full URL (or gRPC address) and the protocol."""

    url: str
    protocol: str


def sdk_disabled(env: Mapping[str, str] = os.environ) -> bool:
    """`OTEL_SDK_DISABLED=true` (case-insensitive; any other value is false, as specified)."""
    return env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def protocol(signal: str, env: Mapping[str, str] = os.environ) -> str:
    """`OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else
    http/protobuf. Raises `UsageError` for a protocol the harness cannot speak."""
    name = f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL"
    given = (env.get(name) or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "").strip()
    if not given:
        return HTTP_PROTOCOL
    if given not in PROTOCOLS:
        raise UsageError(
            f"{name if env.get(name) else 'OTEL_EXPORTER_OTLP_PROTOCOL'}={given!r} is not a "
            f"protocol the harness exports with: use {' or '.join(PROTOCOLS)} "
            "(the Python SDK has no http/json exporter)"
        )
    return given


def otlp_target(
    signal: str, flag: str | None = None, env: Mapping[str, str] = os.environ
) -> OtlpTarget | None:
    """Where `signal` ("traces", "metrics") goes, or None: nowhere.

    `flag` (`--otlp-endpoint`, a base URL) wins and gets `/v1/<signal>` unless it ends with
    it. Else `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` is used as is, else
    `OTEL_EXPORTER_OTLP_ENDPOINT` gets `/v1/<signal>` appended (over gRPC both are used as
    they are)."""
    chosen = protocol(signal, env)
    if flag:
        base = flag.rstrip("/")
        if chosen == GRPC or base.endswith(f"/v1/{signal}"):
            return OtlpTarget(flag if chosen == GRPC else base, chosen)
        return OtlpTarget(f"{base}/v1/{signal}", chosen)
    own = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
    if own:
        return OtlpTarget(own, chosen)
    generic = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not generic:
        return None
    if chosen == GRPC:
        return OtlpTarget(generic, chosen)
    return OtlpTarget(f"{generic.rstrip('/')}/v1/{signal}", chosen)


def sample_rate(
    flag: float | None, default: float, env: Mapping[str, str] = os.environ
) -> tuple[float, str]:
    """The share of journey traces sampled at their root, and where it came from: `flag`
    (`--trace-sample`) wins, else `OTEL_TRACES_SAMPLER` (with `OTEL_TRACES_SAMPLER_ARG` for the
    ratio samplers: 1.0 when unset or invalid, as specified), else the harness's `default`.
    A sampler the harness does not know is refused (`UsageError`)."""
    if flag is not None:
        return flag, "--trace-sample"
    sampler = env.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if not sampler:
        return default, "default"
    if sampler not in _SAMPLERS:
        raise UsageError(
            f"OTEL_TRACES_SAMPLER={sampler!r} is not a sampler the harness applies: use one of "
            f"{', '.join(_SAMPLERS)} (or --trace-sample RATE)"
        )
    rate = _SAMPLERS[sampler]
    if rate is None:
        try:
            rate = float(env.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))
        except ValueError:
            rate = 1.0
        if not 0.0 <= rate <= 1.0:
            rate = 1.0
    return rate, f"OTEL_TRACES_SAMPLER={sampler}"


def ratio_bound(rate: float) -> int:
    """The bound the root sampler compares a trace id's low 64 bits against: the SDK's
    `TraceIdRatioBased` rule, so a downstream service sampling at the same ratio agrees."""
    from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

    return TraceIdRatioBased.get_bound_for_rate(rate)


def resource_attributes(own: dict[str, str], service_name: str) -> dict[str, str]:
    """The resource of the harness's spans and metrics: `own` attributes merged over
    `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME` and the SDK's `telemetry.sdk.*` by
    `Resource.create()`; `service_name` when the environment names no service."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    attributes = dict(Resource.create(own).attributes)
    if str(attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        attributes[SERVICE_NAME] = service_name
    return {key: str(value) for key, value in attributes.items()}


def otlp_exporter(to: OtlpTarget, signal: str, timeout_s: float) -> Any:
    """The SDK's OTLP exporter of `signal` ("traces", "metrics") for `to`'s protocol; the SDK
    reads the headers, compression and certificates from the `OTEL_EXPORTER_OTLP_*`
    environment itself."""
    import importlib

    transport = "grpc" if to.protocol == GRPC else "http"
    module, name = (
        ("trace_exporter", "OTLPSpanExporter")
        if signal == "traces"
        else ("metric_exporter", "OTLPMetricExporter")
    )
    found = importlib.import_module(f"opentelemetry.exporter.otlp.proto.{transport}.{module}")
    exporter: Any = getattr(found, name)
    return exporter(endpoint=to.url, timeout=timeout_s)


_W3C = {"tracecontext", "baggage"}


def custom_propagators(env: Mapping[str, str] = os.environ) -> bool:
    """Whether `OTEL_PROPAGATORS` names other propagators than the W3C `tracecontext` and
    `baggage` pair the harness writes itself (then the API's global propagator, which the SDK
    builds from that variable, writes every request's trace headers)."""
    given = env.get("OTEL_PROPAGATORS", "").strip()
    return bool(given) and {n.strip().lower() for n in given.split(",")} != _W3C


def check_propagators(env: Mapping[str, str] = os.environ) -> None:
    """Raises `UsageError` when a propagator `OTEL_PROPAGATORS` names is not installed."""
    if not custom_propagators(env):
        return
    from importlib.metadata import entry_points

    for name in env.get("OTEL_PROPAGATORS", "").split(","):
        name = name.strip()
        if name.lower() in ("", "none"):
            continue
        if not entry_points(group="opentelemetry_propagator", name=name):
            raise UsageError(
                f"OTEL_PROPAGATORS names {name!r}, which is not installed: tracecontext, "
                "baggage and none come with the harness; b3 and jaeger are the "
                "opentelemetry-propagator-* packages"
            )
