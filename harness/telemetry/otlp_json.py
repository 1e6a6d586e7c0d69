"""OTLP JSON lines: how `traces.jsonl` stores spans, written by the harness and by the sandbox.

Each line is one `ExportTraceServiceRequest` in the OTLP/JSON encoding (ids as lowercase hex, as
the OTLP specification asks, not protobuf-JSON's base64), flushed as written. `read_spans`
flattens a file back into rows and skips a torn last line.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_KINDS = {
    0: "SPAN_KIND_UNSPECIFIED",
    1: "SPAN_KIND_INTERNAL",
    2: "SPAN_KIND_SERVER",
    3: "SPAN_KIND_CLIENT",
    4: "SPAN_KIND_PRODUCER",
    5: "SPAN_KIND_CONSUMER",
}
_STATUSES = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}


def spans_to_otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """The OTLP/JSON form of an export request holding `spans`.

    Built directly from the SDK's spans (no protobuf round trip: it cost ~150 µs a span, which
    capped a traced sandbox at a third of its throughput). Enums are integers and ids hex, as
    the OTLP/JSON encoding specifies.
    """
    resources: dict[int, tuple[Any, dict[tuple[str, str], list[dict[str, Any]]]]] = {}
    for span in spans:
        resource = span.resource
        _, scopes = resources.setdefault(id(resource), (resource, {}))
        scope = span.instrumentation_scope
        key = (scope.name, scope.version or "") if scope is not None else ("", "")
        scopes.setdefault(key, []).append(_span(span))
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _encode_attributes(resource.attributes)},
                "scopeSpans": [
                    {"scope": {"name": name, "version": version}, "spans": encoded}
                    for (name, version), encoded in scopes.items()
                ],
            }
            for resource, scopes in resources.values()
        ]
    }


def _span(span: ReadableSpan) -> dict[str, Any]:
    context = span.context
    assert context is not None
    return span_json(
        context.trace_id,
        context.span_id,
        span.parent.span_id if span.parent is not None else 0,
        span.name,
        span.kind.value,
        span.start_time or 0,
        span.end_time or 0,
        span.attributes,
        span.status.status_code.value,
        span.status.description,
        [(e.name, e.timestamp, e.attributes) for e in span.events],
    )


def span_json(
    trace_id: int,
    span_id: int,
    parent_id: int,
    name: str,
    kind: int,
    start_ns: int,
    end_ns: int,
    attributes: Any,
    status_code: int,
    status_text: str | None,
    events: Sequence[tuple[str, int, Any]],
) -> dict[str, Any]:
    """One span in OTLP/JSON, from its parts (`kind` and `status_code` as the API's enums'
    values; a `parent_id` of 0 means a root)."""
    encoded: dict[str, Any] = {
        "traceId": f"{trace_id:032x}",
        "spanId": f"{span_id:016x}",
        "name": name,
        "kind": kind + 1,  # the API's enum starts at INTERNAL = 0; OTLP's at 1
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(end_ns),
        "attributes": _encode_attributes(attributes),
        "status": {"code": status_code},
    }
    if parent_id:
        encoded["parentSpanId"] = f"{parent_id:016x}"
    if status_text:
        encoded["status"]["message"] = status_text
    if events:
        encoded["events"] = [
            {"timeUnixNano": str(ts), "name": event, "attributes": _encode_attributes(attrs)}
            for event, ts, attrs in events
        ]
    return encoded


def export_request(
    resource_attributes: Any, scope: str, span_dicts: list[dict[str, Any]]
) -> dict[str, Any]:
    """An OTLP/JSON export request of one resource and one scope."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _encode_attributes(resource_attributes)},
                "scopeSpans": [{"scope": {"name": scope, "version": ""}, "spans": span_dicts}],
            }
        ]
    }


def _encode_attributes(attributes: Any) -> list[dict[str, Any]]:
    return [
        {"key": key, "value": _encode_value(value)} for key, value in (attributes or {}).items()
    ]


def _encode_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_encode_value(v) for v in value]}}
    return {"stringValue": str(value)}


class OtlpJsonLinesExporter(SpanExporter):
    """A span exporter that appends one OTLP/JSON line per batch to a file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in shutdown
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write the batch and flush it."""
        if not spans:
            return SpanExportResult.SUCCESS
        return (
            SpanExportResult.SUCCESS
            if self.write(spans_to_otlp_json(spans))
            else (SpanExportResult.FAILURE)
        )

    def write(self, request: dict[str, Any]) -> bool:
        """Append one export request as a line and flush it; False once shut down."""
        line = json.dumps(request, separators=(",", ":"))
        with self._lock:
            if self._file.closed:
                return False
            self._file.write(line + "\n")
            self._file.flush()
        return True

    def shutdown(self) -> None:
        """Close the file."""
        with self._lock:
            self._file.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Lines are flushed as written."""
        return True


@dataclass
class SpanRow:
    """One span read back from OTLP/JSON, with its service name."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, Any] = field(default_factory=dict)
    scope: str = ""

    @property
    def duration_ms(self) -> float:
        """Wall time of the span."""
        return (self.end_ns - self.start_ns) / 1e6


def read_spans(path: Path) -> Iterator[SpanRow]:
    """Every span in an OTLP JSON lines file (a torn last line is skipped)."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                return
            yield from _rows(json.loads(line))


def _rows(message: dict[str, Any]) -> Iterator[SpanRow]:
    for resource in message.get("resourceSpans", []):
        resource_attrs = _attributes(resource.get("resource", {}).get("attributes", []))
        service = str(resource_attrs.get("service.name", "unknown"))
        for scope in resource.get("scopeSpans", []):
            scope_name = str(scope.get("scope", {}).get("name", ""))
            for span in scope.get("spans", []):
                yield SpanRow(
                    trace_id=span["traceId"],
                    span_id=span["spanId"],
                    parent_id=span.get("parentSpanId") or None,
                    name=span.get("name", ""),
                    kind=_KINDS.get(span.get("kind"), str(span.get("kind", ""))),
                    service=service,
                    start_ns=int(span.get("startTimeUnixNano", 0)),
                    end_ns=int(span.get("endTimeUnixNano", 0)),
                    status=_STATUSES.get(
                        span.get("status", {}).get("code", 0),
                        str(span.get("status", {}).get("code", "")),
                    ),
                    attributes=_attributes(span.get("attributes", [])),
                    scope=scope_name,
                )


def _attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items:
        value = item.get("value", {})
        found[item["key"]] = next(iter(value.values()), None) if value else None
    return found
