"""A light OpenTelemetry tracer for processes that run journeys: spans through the API, recorded
as plain tuples and spooled to a file that `harness.telemetry.sidecar` turns into SDK spans and
exports, in its own process.

Why not the SDK's `Tracer` here: under gevent an SDK span cost ≈ 55 µs to start and end (four
gevent locks, attribute cleaning, a tracer lookup) plus ≈ 27 µs to encode as OTLP JSON — three
spans per iteration cut a one-request journey's throughput by half. A span here is a slotted
object whose `end()` appends one tuple to a list; batches are `marshal`led to the spool (a few
µs a span). The SDK still does everything after that — sampling, `ReadableSpan`s, the OTLP/JSON
file and OTLP/HTTP exporters — on the other core.

Spool format: records of a 4-byte big-endian length and a `marshal` payload (a list of `Row`s);
a zero length marks the end. A torn last record (a killed process) is ignored by the reader.
"""

from __future__ import annotations

import marshal
import os
import random
import struct
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from opentelemetry import trace
from opentelemetry.context import Context, get_current
from opentelemetry.trace import (
    Link,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

# the key of the current span in a context (what `trace.get_current_span` reads, minus its ABC
# isinstance check, which cost more than the lookup)
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.util._decorator import _agnosticcontextmanager
from opentelemetry.util.types import Attributes, AttributeValue

HEADER = struct.Struct(">I")
BATCH_SPANS = 2048
BATCH_AGE_S = 0.5
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)

#: One ended span: (trace id, span id, parent span id or 0, name, kind, start ns, end ns,
#: attributes, status code, status description, events as (name, ns, attributes)).
Row = tuple[
    int, int, int, str, int, int, int, dict[str, Any], int, str | None, tuple[tuple[Any, ...], ...]
]


class SpanSpool:
    """Ended spans of this process, written to the spool file in batches."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[bytes] = open(path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        self._rows: list[Row] = []
        self._oldest = 0.0
        self.spans = 0

    def add(self, row: Row) -> None:
        """Keep one span; write the batch when it is full or half a second old. (Marshalling a
        batch costs half what marshalling its rows one by one does; the rows waiting meanwhile
        are why load processes collect garbage less often, see `tune_garbage_collector`.)"""
        rows = self._rows
        if not rows:
            self._oldest = time.monotonic()
        rows.append(row)
        if len(rows) >= BATCH_SPANS or time.monotonic() - self._oldest >= BATCH_AGE_S:
            self.flush()

    def flush(self) -> None:
        """Write the pending spans as one record (one `write`, so a kill never tears a batch
        it has returned from)."""
        if not self._rows or self._file.closed:
            return
        rows, self._rows = self._rows, []
        payload = marshal.dumps(rows)
        self._file.write(HEADER.pack(len(payload)) + payload)
        self.spans += len(rows)

    def close(self) -> None:
        """Flush and write the end mark."""
        if self._file.closed:
            return
        self.flush()
        self._file.write(HEADER.pack(0))
        self._file.close()


def read_spool(handle: IO[bytes]) -> Iterator[list[Row] | None]:
    """Batches from a spool from the handle's position; None at the end mark. Stops (leaving the
    position before it) at an incomplete record, so a reader can come back for more."""
    while True:
        start = handle.tell()
        head = handle.read(HEADER.size)
        if len(head) < HEADER.size:
            handle.seek(start)
            return
        (size,) = HEADER.unpack(head)
        if size == 0:
            yield None
            return
        payload = handle.read(size)
        if len(payload) < size:
            handle.seek(start)
            return
        yield marshal.loads(payload)


class LightSpan(trace.Span):
    """A recording span that becomes one `Row` on `end()`."""

    __slots__ = (
        "_attributes",
        "_context",
        "_end",
        "_events",
        "_kind",
        "_name",
        "_parent",
        "_span_id",
        "_spool",
        "_start",
        "_status",
        "_status_text",
        "_trace_id",
        "_trace_state",
    )

    def __init__(
        self,
        spool: SpanSpool,
        name: str,
        trace_id: int,
        span_id: int,
        parent: int,
        trace_state: TraceState | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        start_ns: int,
    ) -> None:
        self._spool = spool
        self._name = name
        self._trace_id = trace_id
        self._span_id = span_id
        self._parent = parent
        self._trace_state = trace_state
        self._context: SpanContext | None = None  # built when asked for: most never are
        self._kind = kind
        self._attributes = attributes  # the tracer's own copy
        self._start = start_ns
        self._end = 0
        self._status = StatusCode.UNSET
        self._status_text: str | None = None
        self._events: list[tuple[Any, ...]] | None = None  # most spans have none

    def get_span_context(self) -> SpanContext:
        """This span's ids."""
        if self._context is None:
            self._context = SpanContext(
                self._trace_id, self._span_id, False, _SAMPLED, self._trace_state
            )
        return self._context

    def traceparent(self) -> str:
        """The W3C `traceparent` of this span (always sampled), without building its
        `SpanContext`."""
        return f"00-{self._trace_id:032x}-{self._span_id:016x}-01"

    def is_recording(self) -> bool:
        """True until the span ends."""
        return self._end == 0

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set one attribute (values are the harness's own, already of OTel types)."""
        self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        """Set several attributes."""
        self._attributes.update(attributes)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        """Record an event."""
        event_attributes = dict(attributes) if attributes else {}
        if self._events is None:
            self._events = []
        self._events.append((name, timestamp or time.time_ns(), event_attributes))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        """Links are not recorded by this tracer (the harness makes none)."""

    def update_name(self, name: str) -> None:
        """Rename the span."""
        self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """Set the status; an explicit OK is final, as the specification asks."""
        if self._status is StatusCode.OK:
            return
        if isinstance(status, Status):
            self._status, self._status_text = status.status_code, status.description
        else:
            self._status, self._status_text = status, description

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """Record an `exception` event with its type and message."""
        self.add_event(
            "exception",
            {
                "exception.type": type(exception).__name__,
                "exception.message": str(exception),
                **(dict(attributes) if attributes else {}),
            },
            timestamp,
        )

    def end(self, end_time: int | None = None) -> None:
        """End the span (again is a no-op) and hand its row to the spool."""
        if self._end:
            return
        self._end = end_time or time.time_ns()
        self._spool.add(
            (
                self._trace_id,
                self._span_id,
                self._parent,
                self._name,
                self._kind._value_,  # `.value` is a descriptor call; this is a plain read
                self._start,
                self._end,
                self._attributes,
                self._status._value_,
                self._status_text,
                # A tuple of plain values: the garbage collector stops tracking it, and rows
                # waiting for their batch no longer cost every collection a scan.
                tuple(self._events) if self._events else (),
            )
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if exc_val is not None and self.is_recording():
            self.record_exception(exc_val)
            self.set_status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}")
        self.end()


class LightTracer(trace.Tracer):
    """Starts `LightSpan`s: children of the span in `context`, else new traces, all sampled."""

    def __init__(self, spool: SpanSpool) -> None:
        self.spool = spool
        # Its own generator: ids must not follow the seeded `random` a journey may use.
        self._ids = random.Random(int.from_bytes(os.urandom(16), "big"))

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        """A recording span under the span current in `context`."""
        parent = (context if context is not None else get_current()).get(_SPAN_KEY)
        span_id = self._ids.getrandbits(64) or 1
        # The attributes are copied, as the API promises callers; the harness's own spans pass
        # a `dict`, which copies fastest.
        own = attributes.copy() if type(attributes) is dict else dict(attributes or {})
        start = start_time or time.time_ns()
        trace_state: TraceState | None
        if type(parent) is LightSpan:  # the usual case: no SpanContext to build or read
            trace_id, parent_id, trace_state = (
                parent._trace_id,
                parent._span_id,
                parent._trace_state,
            )
        else:
            remote = trace.get_current_span(context).get_span_context()
            if remote.is_valid:
                trace_id, parent_id, trace_state = (
                    remote.trace_id,
                    remote.span_id,
                    remote.trace_state,
                )
            else:
                trace_id, parent_id, trace_state = self._ids.getrandbits(128) or 1, 0, None
        return LightSpan(
            self.spool, name, trace_id, span_id, parent_id, trace_state, kind, own, start
        )

    @_agnosticcontextmanager  # the API's own decorator, which the signature asks for
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        """`start_span`, made current for the block."""
        span = self.start_span(name, context, kind, attributes, links, start_time)
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class LightTracerProvider(trace.TracerProvider):
    """One `LightTracer` over one spool, whatever the instrumentation scope asked for."""

    def __init__(self, spool: SpanSpool) -> None:
        self.spool = spool
        self._tracer = LightTracer(spool)

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace.Tracer:
        """The one tracer."""
        return self._tracer

    def shutdown(self) -> None:
        """Flush the spool and mark its end."""
        self.spool.close()
