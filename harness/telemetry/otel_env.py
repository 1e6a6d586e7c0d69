"""The `OTEL_*` environment, read as the OpenTelemetry SDK specification defines it.

Flags win over the environment (`--otlp-endpoint`, `--trace-sample`, `--no-traces`); the
environment wins over the harness's defaults. What the SDK reads by itself is left to it:
`Resource.create()` reads `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME`, and the OTLP
exporters read their headers, compression and certificates
(`OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]HEADERS`, ...). This module resolves what the harness must
decide before there is an exporter: whether tracing is on, whether a signal goes over OTLP at all
(`OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`), where and over which protocol, each export's
deadline, and the share of journey traces sampled at their root.
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
OTLP = "otlp"
NONE = "none"
#: The longest deadline an export is given: what the specification's timeout 0 ("indefinite")
#: becomes, the largest count of milliseconds a 32-bit integer holds, as it suggests.
INDEFINITE_S = (2**31 - 1) / 1000
#: The Python SDK's names of the OTLP exporter of one protocol (its entry points), which
#: `OTEL_<SIGNAL>_EXPORTER` may give instead of `otlp`: the protocol they name wins over
#: `OTEL_EXPORTER_OTLP_[<SIGNAL>_]PROTOCOL`, as in the SDK.
_OTLP_BY_PYTHON_NAME = {"otlp_proto_http": HTTP_PROTOCOL, "otlp_proto_grpc": GRPC}
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
    """The protocol a Python SDK name in `OTEL_<SIGNAL>_EXPORTER` names (`otlp_proto_grpc`,
    `otlp_proto_http`: it wins, as in the SDK), else `OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`, else
    `OTEL_EXPORTER_OTLP_PROTOCOL`, else http/protobuf. Raises `UsageError` for a protocol the
    harness cannot speak."""
    named = _named_protocol(signal, env)
    if named is not None:
        return named
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


def _exporter_names(signal: str, env: Mapping[str, str]) -> tuple[str, str, set[str]]:
    """`OTEL_<SIGNAL>_EXPORTER`: the variable's name, its value, and the names it lists."""
    name = f"OTEL_{signal.upper()}_EXPORTER"
    given = env.get(name, "").strip()
    return name, given, {n.strip().lower() for n in given.split(",")} - {""}


def _named_protocol(signal: str, env: Mapping[str, str]) -> str | None:
    """The protocol of the Python SDK's `otlp_proto_*` name in `OTEL_<SIGNAL>_EXPORTER`, if any.
    Raises `UsageError` when the list names more than one OTLP exporter (the harness sends a
    signal once)."""
    name, given, names = _exporter_names(signal, env)
    otlp = names & ({OTLP} | set(_OTLP_BY_PYTHON_NAME))
    if len(otlp) > 1:
        raise UsageError(
            f"{name}={given!r} names {len(otlp)} OTLP exporters: the harness sends each signal "
            "to one endpoint over one protocol; name one (otlp, with OTEL_EXPORTER_OTLP_PROTOCOL)"
        )
    return next((_OTLP_BY_PYTHON_NAME[n] for n in otlp if n in _OTLP_BY_PYTHON_NAME), None)


def selected_exporter(signal: str, env: Mapping[str, str] = os.environ) -> str:
    """`OTEL_<SIGNAL>_EXPORTER` ("traces", "metrics"): `otlp` (the default, also when unset or
    empty; the Python SDK's `otlp_proto_http` and `otlp_proto_grpc` too) or `none`, what the
    signal sends to an OTLP endpoint; a comma-separated list is read as the SDK reads it. The
    spans always go to the run's `traces.jsonl` besides. Raises `UsageError` for an exporter the
    harness does not run (`console`, `prometheus`, `zipkin`, an unknown name): the SDK would warn
    and export otherwise than the variable says."""
    name, given, names = _exporter_names(signal, env)
    if names == {NONE}:
        return NONE
    if NONE in names:
        raise UsageError(f"{name}={given!r} names none besides an exporter: give one of them")
    other = sorted(names - {OTLP} - set(_OTLP_BY_PYTHON_NAME))
    if not other:
        _named_protocol(signal, env)
        return OTLP
    if "console" in other:
        local = (
            "spans are always written to results/<run>/traces.jsonl (OTLP JSON) and `harness "
            "trace RUN_DIR` prints them as trees"
            if signal == "traces"
            else "the run's latencies are in results/<run>/histograms and its summary"
        )
        why = (
            f"the harness does not print {signal} to standard output, where its progress and "
            f"verdict go (console is the SDK's debugging exporter); {local}"
        )
    else:
        why = "the harness exports over OTLP only"
    raise UsageError(
        f"{name}={given!r}: {why}. Use {OTLP} (the default: to the OTLP endpoint, when one is "
        f"set) or {NONE} (nothing over OTLP)"
    )


def export_timeout(
    signal: str, default_s: float, env: Mapping[str, str] = os.environ
) -> tuple[float, str]:
    """One export's deadline in seconds, and where it came from:
    `OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT`, else `OTEL_EXPORTER_OTLP_TIMEOUT`, else `default_s`
    ("default"). The value is an integer count of milliseconds, as the specification defines a
    timeout (0: indefinite, `INDEFINITE_S`). Raises `UsageError` for anything else: the Python
    SDK reads these variables in seconds, so a "2.5" or "-1" is refused rather than guessed."""
    own = f"OTEL_EXPORTER_OTLP_{signal.upper()}_TIMEOUT"
    name = own if env.get(own, "").strip() else "OTEL_EXPORTER_OTLP_TIMEOUT"
    given = env.get(name, "").strip()
    if not given:
        return default_s, "default"
    if not (given.isascii() and given.isdigit()):
        try:
            hint = f" ({given} s is {round(float(given) * 1000)})" if float(given) > 0 else ""
        except (ValueError, OverflowError):
            hint = ""
        raise UsageError(
            f"{name}={given!r} is not a timeout: an integer count of milliseconds, as the "
            "OpenTelemetry specification defines it (10000 is 10 s; 0 waits indefinitely). The "
            f"Python SDK reads seconds here; the harness reads the specification's milliseconds"
            f"{hint}"
        )
    millis = int(given)
    return (min(millis / 1000, INDEFINITE_S) if millis else INDEFINITE_S), f"{name}={millis}"


def otlp_target(
    signal: str, flag: str | None = None, env: Mapping[str, str] = os.environ
) -> OtlpTarget | None:
    """Where `signal` ("traces", "metrics") goes, or None: nowhere.

    `flag` (`--otlp-endpoint`, a base URL) wins and gets `/v1/<signal>` unless it ends with
    it. Else nothing when `OTEL_<SIGNAL>_EXPORTER=none`; else
    `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` is used as is, else `OTEL_EXPORTER_OTLP_ENDPOINT` gets
    `/v1/<signal>` appended (over gRPC both are used as they are). Raises `UsageError` for an
    exporter or protocol the harness cannot apply."""
    chosen = protocol(signal, env)
    if flag:
        base = flag.rstrip("/")
        if chosen == GRPC or base.endswith(f"/v1/{signal}"):
            return OtlpTarget(flag if chosen == GRPC else base, chosen)
        return OtlpTarget(f"{base}/v1/{signal}", chosen)
    if selected_exporter(signal, env) == NONE:
        return None
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
    """The SDK's OTLP exporter of `signal` ("traces", "metrics") for `to`'s protocol, each
    export's deadline `timeout_s` (from `export_timeout`: the SDK would read the timeout variables
    in seconds); the SDK reads the headers, compression and certificates from the
    `OTEL_EXPORTER_OTLP_*` environment itself."""
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


def check(env: Mapping[str, str] = os.environ) -> None:
    """Raises `UsageError` when the environment names an exporter, protocol, export timeout or
    propagator the harness cannot apply: checked before a run starts, as a flag would be."""
    for signal in ("traces", "metrics"):
        selected_exporter(signal, env)
        protocol(signal, env)
        export_timeout(signal, 1.0, env)
    check_propagators(env)
