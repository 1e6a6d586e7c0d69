"""OTLP JSON lines: how `traces.jsonl` stores spans, written by the harness and by the sandbox.

Each line is one `ExportTraceServiceRequest` in the OTLP/JSON encoding (ids as lowercase hex, as
the OTLP specification asks, not protobuf-JSON's base64), flushed as written. `read_spans`
flattens a file back into rows and skips a torn last line.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from harness.folder_io import LineTally, lines, loads_line
from harness.telemetry.spool import EndedSpan

_KINDS = {
    0: "SPAN_KIND_UNSPECIFIED",
    1: "SPAN_KIND_INTERNAL",
    2: "SPAN_KIND_SERVER",
    3: "SPAN_KIND_CLIENT",
    4: "SPAN_KIND_PRODUCER",
    5: "SPAN_KIND_CONSUMER",
}
_STATUSES = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}


def spans_to_otlp_json(spans: Sequence[ReadableSpan]) -> str:
    """The OTLP/JSON text of an export request holding the SDK's `spans`.

    Encoded straight to text (no protobuf round trip: it cost ~150 µs a span, which capped a
    traced sandbox at a third of its throughput). Enums are integers and ids hex, as the OTLP/JSON
    encoding specifies.
    """
    groups: dict[tuple[int, str, str], tuple[Any, list[str]]] = {}
    for span in spans:
        scope = span.instrumentation_scope
        name, version = (scope.name, scope.version or "") if scope is not None else ("", "")
        resource = span.resource
        _, texts = groups.setdefault((id(resource), name, version), (resource.attributes, []))
        texts.append(span_text(_row(span)))
    return _request_text(
        [
            (attributes, name, version, texts)
            for (_, name, version), (attributes, texts) in groups.items()
        ]
    )


def rows_to_otlp_json(resource_attributes: Any, scope: str, rows: Iterable[EndedSpan]) -> str:
    """The OTLP/JSON text of an export request of one resource and one scope. A row's
    attributes may be a spool pair (shared, own) (see `harness.telemetry.spool`): the
    shared dict's text is made once for all the rows that hold it."""
    shared: dict[int, str] = {}  # id → text, valid while `rows` holds those dicts
    return _request_text(
        [(resource_attributes, scope, "", [span_text(row, shared) for row in rows])]
    )


def _request_text(groups: list[tuple[Any, str, str, list[str]]]) -> str:
    resources: dict[str, list[str]] = {}
    for attributes, name, version, texts in groups:
        head = f'{{"scope":{{"name":{_str(name)},"version":{_str(version)}}},"spans":['
        scope = f"{head}{','.join(texts)}]}}"
        resources.setdefault(_attributes_text(attributes), []).append(scope)
    return "".join(
        [
            '{"resourceSpans":[',
            ",".join(
                f'{{"resource":{{"attributes":{resource}}},"scopeSpans":[{",".join(scopes)}]}}'
                for resource, scopes in resources.items()
            ),
            "]}",
        ]
    )


def _row(span: ReadableSpan) -> EndedSpan:
    context = span.context
    assert context is not None
    return EndedSpan(
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


def span_text(row: EndedSpan, shared: dict[int, str] | None = None) -> str:
    """One span in OTLP/JSON text (`shared`: the texts of shared attribute dicts, by id, as
    `rows_to_otlp_json` keeps them)."""
    parent = f',"parentSpanId":"{row.parent_id:016x}"' if row.parent_id else ""
    attributes, code, message = row.attributes, row.status_code, row.status_message
    status = f'{{"code":{code},"message":{_str(message)}}}' if message else f'{{"code":{code}}}'
    attributes_text = (
        _pair_text(attributes, shared if shared is not None else {})
        if type(attributes) is tuple
        else _attributes_text(attributes)
    )
    text = (
        f'{{"traceId":"{row.trace_id:032x}","spanId":"{row.span_id:016x}"{parent},'
        f'"name":{_str(row.name)},'
        # the API's SpanKind starts at INTERNAL = 0; OTLP's at 1
        f'"kind":{row.kind + 1},"startTimeUnixNano":"{row.start_ns}",'
        f'"endTimeUnixNano":"{row.end_ns}","attributes":{attributes_text},"status":{status}'
    )
    events = row.events
    if events:
        encoded = ",".join(
            f'{{"timeUnixNano":"{ts}","name":{_str(event)},"attributes":{_attributes_text(attrs)}}}'
            for event, ts, attrs in events
        )
        text += f',"events":[{encoded}]'
    return text + "}"


_str = json.encoder.encode_basestring_ascii  # the C encoder, when available
_PAIRS: dict[tuple[str, str], str] = {}
_PAIRS_LIMIT = 8192
_KEYS: dict[str, str] = {}  #: key → the text of a key/value pair up to its value


def _attributes_text(attributes: Any) -> str:
    if not attributes:
        return "[]"
    parts = []
    for key, value in attributes.items():
        kind = type(value)
        if kind is str:
            # Most string attributes repeat (journey, step, touchpoint, route): encode them once.
            pair = _PAIRS.get((key, value))
            if pair is None:
                if len(_PAIRS) >= _PAIRS_LIMIT:
                    _PAIRS.clear()
                pair = _PAIRS[(key, value)] = f'{{"key":{_str(key)},"value":{_value_text(value)}}}'
            parts.append(pair)
        else:
            prefix = _KEYS.get(key)
            if prefix is None:
                if len(_KEYS) >= _PAIRS_LIMIT:
                    _KEYS.clear()
                prefix = _KEYS[key] = f'{{"key":{_str(key)},"value":'
            if kind is int:  # iteration, user, status code: the usual non-string values
                parts.append(f'{prefix}{{"intValue":"{value}"}}}}')
            else:
                parts.append(f"{prefix}{_value_text(value)}}}")
    return f"[{','.join(parts)}]"


def _pair_text(pair: tuple[dict[str, Any], dict[str, Any]], known: dict[int, str]) -> str:
    shared, own = pair
    text = known.get(id(shared))
    if text is None:
        text = known[id(shared)] = _attributes_text(shared)
    if not own:
        return text
    if text == "[]":
        return _attributes_text(own)
    return f"{text[:-1]},{_attributes_text(own)[1:]}"


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return '{"boolValue":true}' if value else '{"boolValue":false}'
    if isinstance(value, int):
        return f'{{"intValue":"{value}"}}'
    if isinstance(value, float):
        return f'{{"doubleValue":{json.dumps(value)}}}'
    if isinstance(value, str):
        return f'{{"stringValue":{_str(value)}}}'
    if isinstance(value, (list, tuple)):
        return f'{{"arrayValue":{{"values":[{",".join(_value_text(v) for v in value)}]}}}}'
    return f'{{"stringValue":{_str(str(value))}}}'


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

    def write(self, line: str) -> bool:
        """Append one export request (OTLP/JSON text) as a line and flush it; False once shut
        down."""
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


def read_spans(path: Path, tally: LineTally | None = None) -> Iterator[SpanRow]:
    """Every span in an OTLP JSON lines file, streamed in bounded memory (see
    `harness.folder_io`): a torn last line is skipped; a damaged line (too long, not JSON, spans
    of the wrong shape) is skipped and counted in `tally`."""
    tally = tally if tally is not None else LineTally(path)
    for line in lines(path, tally):
        message = loads_line(line)
        try:
            rows = list(_rows(message)) if message is not None else None
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            rows = None
        if rows is None:
            tally.lines -= 1
            tally.damaged += 1
            continue
        yield from rows


def _rows(message: dict[str, Any]) -> Iterator[SpanRow]:
    for resource in message.get("resourceSpans", []):
        resource_attrs = _attributes(resource.get("resource", {}).get("attributes", []))
        service = str(resource_attrs.get("service.name", "unknown"))
        for scope in resource.get("scopeSpans", []):
            scope_name = str(scope.get("scope", {}).get("name", ""))
            for span in scope.get("spans", []):
                texts = (span["traceId"], span["spanId"], span.get("name", ""))
                parent = span.get("parentSpanId") or None
                if not all(isinstance(t, str) for t in texts) or not isinstance(parent, str | None):
                    raise TypeError("a span's ids and name must be strings")
                yield SpanRow(
                    trace_id=span["traceId"],
                    span_id=span["spanId"],
                    parent_id=parent,
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
