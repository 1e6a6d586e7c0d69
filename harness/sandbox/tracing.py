"""The sandbox's OpenTelemetry SDK wiring, used only with `--trace-file` or `--otlp-endpoint`.

Spans go through one `BatchSpanProcessor` per destination (an OTLP JSON lines file, an OTLP
HTTP/protobuf collector), with a short schedule delay so that a short run's spans land quickly.
The resource is `service.name=shop-sandbox`, `service.version=<release>`. This module is imported
only when tracing is asked for, so an untraced sandbox never loads the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Tracer

from harness.errors import UsageError
from harness.telemetry.otlp_json import OtlpJsonLinesExporter

__all__ = ["SERVICE_NAME", "SandboxTracing", "otlp_traces_url", "start_tracing"]

SERVICE_NAME = "shop-sandbox"
_SCHEDULE_DELAY_MILLIS = 200
# Room for a few seconds of spans at load (several per request); beyond it the SDK drops spans
# rather than slowing the server down.
_MAX_QUEUE_SIZE = 65_536
_MAX_BATCH_SIZE = 2048
# Bounds each OTLP export (retries included), so that a missing collector cannot hold up the
# stop beyond the 5 s `SandboxProcess.stop` waits before SIGKILL.
_OTLP_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class SandboxTracing:
    """A configured tracer provider and the sandbox's tracer; `shutdown` flushes every span."""

    provider: TracerProvider
    tracer: Tracer

    def shutdown(self) -> None:
        """Export every pending span, then close the exporters (idempotent)."""
        self.provider.shutdown()


def otlp_traces_url(endpoint: str) -> str:
    """The traces URL for an OTLP/HTTP base URL (`http://host:4318` → `.../v1/traces`).

    Raises `UsageError` when `endpoint` is not an http(s) URL.
    """
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"--otlp-endpoint {endpoint!r} is not an http(s) URL; give the collector's OTLP/HTTP "
            "base URL, e.g. http://127.0.0.1:4318 (spans go to <URL>/v1/traces)"
        )
    return endpoint.rstrip("/") + "/v1/traces"


def _processor(exporter: SpanExporter) -> BatchSpanProcessor:
    return BatchSpanProcessor(
        exporter,
        schedule_delay_millis=_SCHEDULE_DELAY_MILLIS,
        max_queue_size=_MAX_QUEUE_SIZE,
        max_export_batch_size=_MAX_BATCH_SIZE,
    )


def start_tracing(
    release: str, *, trace_file: Path | None = None, otlp_endpoint: str | None = None
) -> SandboxTracing:
    """A tracer provider exporting to `trace_file` and/or `otlp_endpoint` (at least one).

    Raises `UsageError` for an endpoint that is not an http(s) URL and `OSError` when the trace
    file cannot be opened for appending. The provider is not made global: the sandbox hands
    its tracer to the middleware and the store.
    """
    if trace_file is None and otlp_endpoint is None:
        raise ValueError("start_tracing needs a trace file, an OTLP endpoint or both")
    url = otlp_traces_url(otlp_endpoint) if otlp_endpoint is not None else None
    resource = Resource.create({"service.name": SERVICE_NAME, "service.version": release})
    # Every request recorded whatever `traceparent`'s flag says (and whatever OTEL_TRACES_SAMPLER
    # it inherits): the harness counts every journey trace's join and cuts the rest at the end.
    provider = TracerProvider(resource=resource, sampler=ALWAYS_ON, shutdown_on_exit=False)
    # The file first: at shutdown it is flushed before a slow collector is waited for.
    if trace_file is not None:
        provider.add_span_processor(_processor(OtlpJsonLinesExporter(trace_file)))
    if url is not None:
        # Imported here: the protobuf/requests exporter is only needed with a collector.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=url, timeout=_OTLP_TIMEOUT_SECONDS)
        provider.add_span_processor(_processor(exporter))
    return SandboxTracing(provider, provider.get_tracer("harness.sandbox"))
