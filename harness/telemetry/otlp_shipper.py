"""Delivery of the span sidecar's batches to an OTLP endpoint from a thread of its own
(`OtlpShipper`), so a slow or unreachable collector never holds the local trace file back:
each export has a deadline, a collector that keeps failing is given up on, and every span not
delivered is counted.

Building the SDK's spans and encoding them is most of the sidecar's CPU when an endpoint takes
every span: with `--trace-sample 1`, 1.13 s of a 20 s load at 1,658 iterations, against 0.17 s
for following the spool. So while the run goes on the shipping thread runs at the priority
`lowered` sets (the spool follower's lowest), and once the run is over (`handover`) a new thread
started by the caller, at the caller's priority (Linux threads inherit their creator's), takes
the queue over: the run is waiting for its spans then, and beside busy neighbours a thread at the
lowest priority gets next to no CPU.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from harness.telemetry.spool import EndedSpan

OTLP_TIMEOUT_S = 5.0  #: one export to the endpoint, unless OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT
OTLP_GIVE_UP = 3  #: failed exports in a row after which the endpoint is given up on
OTLP_GRACE_S = 5.0  #: after the spool's end, time left to deliver what is queued (at least)
#: the longest grace: the specification's default deadline of a batch processor's export
#: (OTEL_BSP_EXPORT_TIMEOUT, 30000 ms), whatever deadline one export was given
OTLP_GRACE_MAX_S = 30.0
OTLP_QUEUE = 256  #: batches waiting for the endpoint; beyond it a batch is counted unsent
HANDOVER_S = 1.0  #: how long `handover` waits for the lowered thread's export in flight
POLL_S = 0.2  #: how often the lowered thread looks whether it has been handed over


def grace_for(timeout_s: float) -> float:
    """The time left after the run to deliver what is queued, for exports of `timeout_s`: one
    deadline, so that an export started at the end can finish, but at least `OTLP_GRACE_S` and
    at most `OTLP_GRACE_MAX_S`, so that the end stays bounded."""
    return min(max(OTLP_GRACE_S, timeout_s), OTLP_GRACE_MAX_S)


class OtlpShipper:
    """Delivers span batches to an OTLP endpoint from a thread of its own, counting what it
    could not deliver; `close()` waits a bounded time."""

    def __init__(
        self,
        exporter: SpanExporter,
        build: Callable[[EndedSpan], ReadableSpan],
        *,
        lowered: Callable[[], None] | None = None,
    ) -> None:
        """`lowered`, called first by the shipping thread, lowers its priority until `handover`."""
        self.exporter = exporter
        self.build = build
        self.sent = 0
        self.unsent = 0
        self.error: str | None = None
        self._inflight: dict[int, int] = {}  #: spans in an export, per shipping thread
        self._queue: queue.Queue[list[EndedSpan] | None] = queue.Queue(OTLP_QUEUE)
        self._given_up = threading.Event()
        self._handed_over = threading.Event() if lowered is not None else None
        self._closed = False
        self._lock = threading.Lock()
        self._thread = self._start(lowered, self._handed_over)

    def _start(
        self, lowered: Callable[[], None] | None, until: threading.Event | None
    ) -> threading.Thread:
        def ship() -> None:
            if lowered is not None:
                lowered()
            self._ship(until)

        thread = threading.Thread(target=ship, name="otlp-shipper", daemon=True)
        thread.start()
        return thread

    def handover(self, wait_s: float = HANDOVER_S) -> None:
        """The run is over: ship from a new thread at the calling thread's priority. The lowered
        thread stops after the export it is in (waited for at most `wait_s`: beside busy
        neighbours it may get no CPU to finish it; it then finishes alongside, or is counted
        unsent at `close`). Nothing is shipped twice; a shipper never lowered stays as it is."""
        if self._handed_over is None or self._handed_over.is_set():
            return
        self._handed_over.set()
        self._thread.join(wait_s)
        self._thread = self._start(None, None)

    def put(self, rows: list[EndedSpan]) -> None:
        """Queue a batch; counted unsent at once when the endpoint was given up or is behind."""
        if self._given_up.is_set():
            self._count_unsent(len(rows))
            return
        try:
            self._queue.put_nowait(rows)
        except queue.Full:
            self._count_unsent(len(rows))
            self.error = self.error or f"the endpoint fell behind ({OTLP_QUEUE} batches queued)"

    def give_up(self, why: str) -> None:
        """Stop delivering: what is queued and what comes is counted unsent."""
        self.error = self.error or why
        self._given_up.set()

    def close(self, grace_s: float = OTLP_GRACE_S) -> None:
        """Let the queue drain and the exports in flight end (a lowered thread's too) for at
        most `grace_s`, then count the rest unsent."""
        deadline = time.monotonic() + grace_s

        def pending() -> bool:
            return not self._queue.empty() or bool(self._inflight)

        while pending() and time.monotonic() < deadline:
            if self._given_up.is_set():
                break
            time.sleep(0.05)
        if pending() and not self._given_up.is_set():
            self.give_up(f"not delivered within {grace_s:g} s of the run's end")
        self._given_up.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(max(0.0, deadline - time.monotonic()) + 0.1)
        with self._lock:  # an export still in flight past the deadline is abandoned, unsent
            self._closed = True
            self.unsent += sum(self._inflight.values())
            self._inflight.clear()
        self._drain_unsent()

    def _ship(self, until: threading.Event | None) -> None:
        """Export batches until the sentinel, or (the lowered thread) until `until` is set."""
        failures = 0
        me = threading.get_ident()
        while True:
            if until is None:
                rows = self._queue.get()
            elif until.is_set():
                return
            else:
                try:
                    rows = self._queue.get(timeout=POLL_S)
                except queue.Empty:
                    continue
            if rows is None:
                return
            if self._given_up.is_set():
                self._count_unsent(len(rows))
                continue
            with self._lock:
                self._inflight[me] = len(rows)
            try:
                ok = self.exporter.export([self.build(r) for r in rows]) is SpanExportResult.SUCCESS
            except Exception as exc:
                ok, self.error = False, self.error or f"{type(exc).__name__}: {exc}"
            with self._lock:
                if self._closed:
                    return  # abandoned: close() counted it unsent
                self._inflight.pop(me, None)
                if ok:
                    self.sent += len(rows)
                else:
                    self.unsent += len(rows)
            if ok:
                failures = 0
                continue
            failures += 1
            if failures >= OTLP_GIVE_UP:
                self.give_up(self.error or f"{failures} exports in a row failed")

    def _count_unsent(self, n: int) -> None:
        with self._lock:
            self.unsent += n

    def _drain_unsent(self) -> None:
        while True:
            try:
                rows = self._queue.get_nowait()
            except queue.Empty:
                return
            if rows is not None:
                self._count_unsent(len(rows))
