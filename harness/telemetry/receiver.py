"""A small OTLP/HTTP receiver (protobuf), for tests and for checking what the harness exports.

It decodes the real `ExportTraceServiceRequest` and `ExportMetricsServiceRequest` payloads with
`opentelemetry-proto` and keeps them in memory.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


@dataclass
class ReceivedSpan:
    """One span as received: service, ids in hex, name, parent and attributes."""

    service: str
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    attributes: dict[str, Any]
    resource: dict[str, Any] = field(default_factory=dict)  #: its resource's attributes


@dataclass
class OtlpReceiver:
    """Serves `POST /v1/traces` and `POST /v1/metrics` on loopback; use as a context manager."""

    host: str = "127.0.0.1"
    port: int = 0
    spans: list[ReceivedSpan] = field(default_factory=list)
    metric_names: set[str] = field(default_factory=set)
    metric_kinds: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    trace_headers: list[dict[str, str]] = field(default_factory=list)  #: of each traces request

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """The base URL to give an OTLP exporter."""
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}"

    def __enter__(self) -> OtlpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path == "/v1/traces":
                    receiver._traces(body, {k.lower(): v for k, v in self.headers.items()})
                elif self.path == "/v1/metrics":
                    receiver._metrics(body)
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _traces(self, body: bytes, headers: dict[str, str]) -> None:
        message = ExportTraceServiceRequest.FromString(body)
        found = []
        for resource in message.resource_spans:
            attrs = {a.key: _value(a.value) for a in resource.resource.attributes}
            for scope in resource.scope_spans:
                for span in scope.spans:
                    found.append(
                        ReceivedSpan(
                            service=str(attrs.get("service.name", "")),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex() or None,
                            name=span.name,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            resource=attrs,
                        )
                    )
        with self._lock:
            self.requests += 1
            self.trace_headers.append(headers)
            self.spans.extend(found)

    def _metrics(self, body: bytes) -> None:
        message = ExportMetricsServiceRequest.FromString(body)
        with self._lock:
            self.requests += 1
            for resource in message.resource_metrics:
                for scope in resource.scope_metrics:
                    for metric in scope.metrics:
                        self.metric_names.add(metric.name)
                        self.metric_kinds[metric.name] = metric.WhichOneof("data") or ""


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@dataclass
class OtlpGrpcReceiver(OtlpReceiver):
    """The same receiver over OTLP/gRPC (the trace and metrics services), on loopback; the
    exporter's metadata is kept as the headers of each traces request."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._grpc: Any = None
        self._grpc_port = 0

    @property
    def endpoint(self) -> str:
        """The address to give an OTLP/gRPC exporter."""
        return f"http://{self.host}:{self._grpc_port}"

    def __enter__(self) -> OtlpGrpcReceiver:
        from concurrent import futures

        import grpc  # type: ignore[import-untyped]  # grpcio ships no type hints
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as metrics
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceResponse,
        )
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as traces
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse,
        )

        receiver = self

        class Traces(traces.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                metadata = {k.lower(): v for k, v in context.invocation_metadata()}
                receiver._traces(request.SerializeToString(), metadata)
                return ExportTraceServiceResponse()

        class Metrics(metrics.MetricsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                receiver._metrics(request.SerializeToString())
                return ExportMetricsServiceResponse()

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        traces.add_TraceServiceServicer_to_server(Traces(), server)  # type: ignore[no-untyped-call]
        metrics.add_MetricsServiceServicer_to_server(Metrics(), server)  # type: ignore[no-untyped-call]
        self._grpc_port = server.add_insecure_port(f"{self.host}:0")
        server.start()
        self._grpc = server
        return self

    def __exit__(self, *exc: object) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace=None)
