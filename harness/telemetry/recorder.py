"""A light OpenTelemetry tracer for processes that run journeys: spans through the API, recorded
as plain rows and spooled to a file that `harness.telemetry.sidecar` turns into SDK spans and
exports, in its own process.

Why not the SDK's `Tracer` here: under gevent an SDK span cost ≈ 55 µs to start and end (four
gevent locks, attribute cleaning, a tracer lookup) plus ≈ 27 µs to encode as OTLP JSON — three
spans per iteration cut a one-request journey's throughput by half. A span here is a slotted
object around its row (a list it fills as it goes); `end()` appends that row to the batch, and
batches are `marshal`led to the spool. The harness's own journey, step and request spans start
through `LightTracer.root`/`child` (see `harness.telemetry.spans`) with attributes they share
with every span of that journey, step or request, never copied. The SDK still does everything
after that — sampling, `ReadableSpan`s, the OTLP/JSON file and OTLP/HTTP exporters — on the
other core.

Spool format: records of a 4-byte big-endian length and a `marshal` payload (a list of `Row`s);
a zero length marks the end. A torn last record (a killed process) is ignored by the reader.
In a spooled row the attributes may be a pair (shared, own): a dict that many spans share (the
harness's spans of one journey, step or request: never changed once made) and the span's own;
`marshal` writes a shared dict once per batch, and the sidecar encodes it once per batch.
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
END_MARK = HEADER.pack(0)  #: the last bytes of a closed spool
# measured in one process: a traced one-request iteration cost 8.4 µs more than untraced with
# batches of 256, 9.9 to 10.1 with 2,048
BATCH_SPANS = 256
BATCH_AGE_S = 0.5
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NONE: dict[str, Any] = {}  #: the shared attributes of spans started through the API: none
_OK = StatusCode.OK._value_
_UNSET = StatusCode.UNSET._value_
INTERNAL = SpanKind.INTERNAL._value_  #: the kinds as a row holds them
CLIENT = SpanKind.CLIENT._value_

#: One ended span: (trace id, span id, parent span id or 0, name, kind, start ns, end ns,
#: attributes, status code, status description, events as (name, ns, attributes)).
Row = tuple[
    int, int, int, str, int, int, int, dict[str, Any], int, str | None, tuple[tuple[Any, ...], ...]
]
#: A row as the spool holds it: a `Row`, or the list a `LightSpan` fills in the same order.
SpooledRow = Row | list[Any]


class SpanSpool:
    """Ended spans of this process, written to the spool file in batches."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[bytes] = open(path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        self._rows: list[SpooledRow] = []
        self._due = 0.0  #: when the pending batch is to be written at the latest
        self.spans = 0
        self.lost = 0  #: spans that could not be written (a full disk)
        self.error: str | None = None  #: why, the first time

    def add(self, row: SpooledRow) -> None:
        """Keep one span; write the batch when it is full or half a second old. (Marshalling a
        batch costs half what marshalling its rows one by one does, and writes a shared
        attribute dict once.)"""
        rows = self._rows
        rows.append(row)
        if len(rows) == 1:
            self._due = time.monotonic() + BATCH_AGE_S
        elif len(rows) >= BATCH_SPANS or time.monotonic() >= self._due:
            self.flush()

    def flush(self) -> None:
        """Write the pending spans as one record (one `write`, so a kill never tears a batch
        it has returned from)."""
        if not self._rows or self._file.closed:
            return
        rows, self._rows = self._rows, []
        payload = marshal.dumps(rows)
        try:
            self._file.write(HEADER.pack(len(payload)) + payload)
        except OSError as exc:  # a full disk must not fail the journey that ended a span
            self.lost += len(rows)
            self.error = self.error or (exc.strerror or str(exc))
            return
        self.spans += len(rows)

    def close(self) -> None:
        """Flush and write the end mark (when it cannot be written, `error` says why)."""
        if self._file.closed:
            return
        self.flush()
        try:
            self._file.write(END_MARK)
        except OSError as exc:
            self.error = self.error or (exc.strerror or str(exc))
        self._file.close()


def read_spool(handle: IO[bytes], *, merge: bool = True) -> Iterator[list[Row] | None]:
    """Batches from a spool from the handle's position; None at the end mark. Stops (leaving the
    position before it) at an incomplete record, so a reader can come back for more. With
    `merge=False` rows keep their (shared, own) attribute pairs (the sidecar encodes a shared
    dict once per batch)."""
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
        rows = marshal.loads(payload)
        if not merge:
            yield rows
            continue
        for index, row in enumerate(rows):
            if type(row[7]) is tuple:
                rows[index] = (*row[:7], merged(row[7]), *row[8:])
        yield rows


def spool_closed(handle: IO[bytes], size: int) -> bool:
    """Whether the spool open in `handle`, `size` bytes long, ends with the end mark: its writer
    has closed it. (A batch that happens to end with the same bytes reads as closed too: a
    reader only starts early.)"""
    mark = len(END_MARK)
    return size >= mark and os.pread(handle.fileno(), mark, size - mark) == END_MARK


def merged(attributes: Any) -> dict[str, Any]:
    """The attributes of a spooled row as one dict (a (shared, own) pair merged)."""
    if type(attributes) is tuple:
        shared, own = attributes
        return {**shared, **own}
    return dict(attributes or {})


class LightSpan(trace.Span):
    """A recording span that is its spool row: `end()` hands that row (a list, in `Row`
    order) to the spool, with this span's own attributes and events put in."""

    __slots__ = ("_attributes", "_context", "_events", "_hex", "_row", "_spool", "_trace_state")

    def __init__(
        self,
        spool: SpanSpool,
        ids: tuple[int, int, int],
        name: str,
        kind: int,
        start_ns: int,
        shared: dict[str, Any],
        own: dict[str, Any] | None,
        trace_state: TraceState | None = None,
        trace_hex: str | None = None,
    ) -> None:
        """`ids`: (trace id, span id, parent span id or 0); `kind`: a `SpanKind` value;
        `shared`: attributes many spans hold (never changed); `own`: this span's, kept as
        given (the caller's to hand over)."""
        self._spool = spool
        trace_id, span_id, parent_id = ids
        #: [trace id, span id, parent span id or 0, name, kind value, start ns, end ns (0 until
        #: it ends), shared attributes, status code value, status description, events]
        self._row: list[Any] = [
            trace_id,
            span_id,
            parent_id,
            name,
            kind,
            start_ns,
            0,
            shared,
            _UNSET,
            None,
            (),
        ]
        self._trace_state = trace_state
        self._hex = trace_hex  #: the trace id in hex, once someone needed it
        self._context: SpanContext | None = None  # built when asked for: most never are
        self._attributes = own  # made on first need when None
        self._events: list[tuple[Any, ...]] | None = None  # most spans have none

    def get_span_context(self) -> SpanContext:
        """This span's ids."""
        if self._context is None:
            row = self._row
            self._context = SpanContext(row[0], row[1], False, _SAMPLED, self._trace_state)
        return self._context

    def trace_hex(self) -> str:
        """The trace id in lower-case hex (formatted once per span)."""
        if self._hex is None:
            self._hex = f"{self._row[0]:032x}"
        return self._hex

    def traceparent(self) -> str:
        """The W3C `traceparent` of this span (always sampled), without building its
        `SpanContext`."""
        return f"00-{self._hex or self.trace_hex()}-{self._row[1]:016x}-01"

    def is_recording(self) -> bool:
        """True until the span ends."""
        return not self._row[6]

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set one attribute (values are the harness's own, already of OTel types); ignored
        once the span has ended, as the SDK does."""
        if self._row[6]:
            return
        if self._attributes is None:
            self._attributes = {key: value}
        else:
            self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        """Set several attributes."""
        if self._row[6]:
            return
        if self._attributes is None:
            self._attributes = dict(attributes)
        else:
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
        self._row[3] = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """Set the status; an explicit OK is final, as the specification asks."""
        row = self._row
        if row[8] == _OK or row[6]:
            return
        if isinstance(status, Status):
            row[8], row[9] = status.status_code._value_, status.description
        else:
            row[8], row[9] = status._value_, description

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
        row = self._row
        if row[6]:
            return
        row[6] = end_time or time.time_ns()
        own = self._attributes
        if own:
            row[7] = (row[7], own) if row[7] else own
        if self._events:
            # A tuple of plain values: the garbage collector stops tracking it.
            row[10] = tuple(self._events)
        self._spool.add(row)

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
        start = start_time or time.time_ns()
        trace_state: TraceState | None
        if type(parent) is LightSpan:  # the usual case: no SpanContext to build or read
            trace_id, parent_id, trace_state = (
                parent._row[0],
                parent._row[1],
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
        # the attributes copied, as the API promises callers
        own = (
            (attributes.copy() if type(attributes) is dict else dict(attributes))
            if attributes
            else None
        )
        return LightSpan(
            self.spool,
            (trace_id, span_id, parent_id),
            name,
            kind._value_,
            start,
            _NONE,
            own,
            trace_state,
        )

    # The harness's own spans (`harness.telemetry.spans`) start here, past the API's generic
    # `start_span`: no context to search, no attributes to copy (a shared dict plus a few own).

    def root(self, name: str, shared: dict[str, Any], own: dict[str, Any] | None) -> LightSpan:
        """A span that starts a new trace (its hex id made at once: the harness's records and
        every request's `traceparent` need it)."""
        ids = self._ids.getrandbits
        trace_id = ids(128) or 1
        return LightSpan(
            self.spool,
            (trace_id, ids(64) or 1, 0),
            name,
            INTERNAL,
            time.time_ns(),
            shared,
            own,
            None,
            f"{trace_id:032x}",
        )

    def child(
        self,
        name: str,
        parent: LightSpan,
        kind: int,
        shared: dict[str, Any],
        own: dict[str, Any] | None,
    ) -> LightSpan:
        """A span under `parent`, in its trace (`kind`: a `SpanKind` value)."""
        above = parent._row
        return LightSpan(
            self.spool,
            (above[0], self._ids.getrandbits(64) or 1, above[1]),
            name,
            kind,
            time.time_ns(),
            shared,
            own,
            parent._trace_state,
            parent._hex,
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
