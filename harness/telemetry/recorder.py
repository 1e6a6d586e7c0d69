"""A light OpenTelemetry tracer for processes that run journeys: spans through the API, recorded
as `EndedSpan` rows and spooled (`harness.telemetry.spool`) to a file that
`harness.telemetry.sidecar` turns into SDK spans and exports, in its own process.

Why not the SDK's `Tracer` here: under gevent an SDK span cost ≈ 55 µs to start and end (four
gevent locks, attribute cleaning, a tracer lookup) plus ≈ 27 µs to encode as OTLP JSON — three
spans per iteration cut a one-request journey's throughput by half. A span here is a slotted
object holding its row's fields; `end()` hands that row to the spool's batch, and batches are
`marshal`led to the spool. The harness's own journey, step and request spans start through
`LightTracer.root`/`child` (see `LightPath` in `harness.telemetry.spans`) with attributes they
share with every span of that journey, step or request, never copied. The SDK still does
everything after that — sampling, `ReadableSpan`s, the OTLP/JSON file and OTLP/HTTP exporters —
on the other core.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

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
from opentelemetry.util.types import Attributes, AttributeValue

from harness.telemetry.otel_private import SPAN_KEY, agnosticcontextmanager
from harness.telemetry.spool import SpanSpool

_FLAGS = (TraceFlags(TraceFlags.DEFAULT), TraceFlags(TraceFlags.SAMPLED))  #: by `sampled`
_ALL = 1 << 64  #: the bound of a rate of 1: every trace id's low 64 bits are under it
_LOW64 = (1 << 64) - 1
_NONE: dict[str, Any] = {}  #: the shared attributes of spans started through the API: none
_OK = StatusCode.OK._value_
_UNSET = StatusCode.UNSET._value_
INTERNAL = SpanKind.INTERNAL._value_  #: the kind of a root, as a row holds it


class LightSpan(trace.Span):
    """A recording span holding the fields of its `EndedSpan` row: `end()` hands that row to
    the spool, with this span's own attributes and events put in."""

    __slots__ = (
        "_attributes",
        "_context",
        "_events",
        "_hex",
        "_shared",
        "_spool",
        "_trace_state",
        "end_ns",
        "kind",
        "name",
        "parent_id",
        "sampled",
        "span_id",
        "start_ns",
        "status_code",
        "status_message",
        "trace_id",
    )

    def __init__(
        self,
        spool: SpanSpool,
        trace_id: int,
        span_id: int,
        parent_id: int,
        name: str,
        kind: int,
        start_ns: int,
        shared: dict[str, Any],
        own: dict[str, Any] | None,
        trace_state: TraceState | None = None,
        trace_hex: str | None = None,
        sampled: int = 1,
    ) -> None:
        """`parent_id`: 0 for a root; `kind`: a `SpanKind` value; `shared`: attributes many
        spans hold (never changed); `own`: this span's, kept as given (the caller's to hand
        over); `sampled`: the root's head-sampling decision (1 or 0), its `traceparent` flag."""
        self._spool = spool
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.name = name
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns = 0  #: 0 until it ends
        self._shared = shared
        self.status_code = _UNSET
        self.status_message: str | None = None
        self._trace_state = trace_state
        self.sampled = sampled
        self._hex = trace_hex  #: the trace id in hex, once someone needed it
        self._context: SpanContext | None = None  # built when asked for: most never are
        self._attributes = own  # made on first need when None
        self._events: list[tuple[Any, ...]] | None = None  # most spans have none

    def get_span_context(self) -> SpanContext:
        """This span's ids."""
        if self._context is None:
            self._context = SpanContext(
                self.trace_id, self.span_id, False, _FLAGS[self.sampled], self._trace_state
            )
        return self._context

    def trace_hex(self) -> str:
        """The trace id in lower-case hex (formatted once per span)."""
        if self._hex is None:
            self._hex = f"{self.trace_id:032x}"
        return self._hex

    def traceparent(self) -> str:
        """The W3C `traceparent` of this span, its flag the root's sampling decision, without
        building its `SpanContext`."""
        return f"00-{self._hex or self.trace_hex()}-{self.span_id:016x}-0{self.sampled}"

    def is_recording(self) -> bool:
        """True until the span ends."""
        return not self.end_ns

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set one attribute (values are the harness's own, already of OTel types); ignored
        once the span has ended, as the SDK does."""
        if self.end_ns:
            return
        if self._attributes is None:
            self._attributes = {key: value}
        else:
            self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        """Set several attributes."""
        if self.end_ns:
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
        self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """Set the status; an explicit OK is final, as the specification asks."""
        if self.status_code == _OK or self.end_ns:
            return
        if isinstance(status, Status):
            self.status_code, self.status_message = status.status_code._value_, status.description
        else:
            self.status_code, self.status_message = status._value_, description

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
        if self.end_ns:
            return
        end = self.end_ns = end_time or time.time_ns()
        attributes: Any = self._shared
        own = self._attributes
        if own:
            attributes = (attributes, own) if attributes else own
        # A plain tuple in `EndedSpan`'s field order (`marshal` writes no named tuple); the
        # events a tuple of plain values too: the garbage collector stops tracking them.
        self._spool.add(
            (
                self.trace_id,
                self.span_id,
                self.parent_id,
                self.name,
                self.kind,
                self.start_ns,
                end,
                attributes,
                self.status_code,
                self.status_message,
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
    """Starts `LightSpan`s: children of the span in `context` (with its sampling decision),
    else new traces, sampled when their id's low 64 bits are under `bound` (OpenTelemetry's
    `TraceIdRatioBased` rule; the default samples every trace). Every span is recorded: the
    sidecar keeps the sampled traces and, besides, the failed and the slowest."""

    def __init__(self, spool: SpanSpool, bound: int = _ALL) -> None:
        self.spool = spool
        self.bound = bound
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
        parent = (context if context is not None else get_current()).get(SPAN_KEY)
        span_id = self._ids.getrandbits(64) or 1
        start = start_time or time.time_ns()
        trace_state: TraceState | None
        if type(parent) is LightSpan:  # the usual case: no SpanContext to build or read
            trace_id, parent_id, trace_state = parent.trace_id, parent.span_id, parent._trace_state
            sampled = parent.sampled
        else:
            remote = trace.get_current_span(context).get_span_context()
            if remote.is_valid:
                trace_id, parent_id, trace_state = (
                    remote.trace_id,
                    remote.span_id,
                    remote.trace_state,
                )
                sampled = 1 if remote.trace_flags.sampled else 0
            else:
                trace_id, parent_id, trace_state = self._ids.getrandbits(128) or 1, 0, None
                sampled = 1 if trace_id & _LOW64 < self.bound else 0
        # the attributes copied, as the API promises callers
        own = (
            (attributes.copy() if type(attributes) is dict else dict(attributes))
            if attributes
            else None
        )
        return LightSpan(
            self.spool,
            trace_id,
            span_id,
            parent_id,
            name,
            kind._value_,
            start,
            _NONE,
            own,
            trace_state,
            None,
            sampled,
        )

    # The harness's own spans (`LightPath` in `harness.telemetry.tracer_paths`) start here, past
    # the API's generic `start_span`: no attributes to copy (a shared dict plus a few own).

    def root(
        self,
        name: str,
        shared: dict[str, Any],
        own: dict[str, Any] | None,
        baggage: Context | None = None,
    ) -> LightSpan:
        """A span that starts a new trace (its hex id made at once: the harness's records and
        every request's `traceparent` need it). `baggage` is not the span's: it stays in the
        caller's context."""
        ids = self._ids.getrandbits
        trace_id = ids(128) or 1
        return LightSpan(
            self.spool,
            trace_id,
            ids(64) or 1,
            0,
            name,
            INTERNAL,
            time.time_ns(),
            shared,
            own,
            None,
            f"{trace_id:032x}",
            1 if trace_id & _LOW64 < self.bound else 0,
        )

    def child(
        self,
        name: str,
        parent: Context | None,
        kind: SpanKind,
        shared: dict[str, Any],
        own: dict[str, Any] | None,
    ) -> trace.Span:
        """A span under the `LightSpan` in `parent`, in its trace: every step and request at
        load. Under anything else (a span from outside the harness, none, or None: the current
        context), `start_span` with the attributes merged."""
        above = parent.get(SPAN_KEY) if parent else None
        if type(above) is not LightSpan:
            return self.start_span(name, parent, kind, {**shared, **own} if own else shared)
        return LightSpan(
            self.spool,
            above.trace_id,
            self._ids.getrandbits(64) or 1,
            above.span_id,
            name,
            kind._value_,
            time.time_ns(),
            shared,
            own,
            above._trace_state,
            above._hex,
            above.sampled,
        )

    @agnosticcontextmanager  # the API's own decorator, which the signature asks for
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

    def __init__(self, spool: SpanSpool, bound: int = _ALL) -> None:
        self.spool = spool
        self._tracer = LightTracer(spool, bound)

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
