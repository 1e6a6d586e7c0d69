"""The span sidecar: a process that follows a journey process's span spool (see
`harness.telemetry.recorder`), applies the journey sampler and exports the spans — OTLP JSON
lines to the run's trace file, and through the SDK's OTLP/HTTP exporter to an endpoint — so that
none of that work runs on the load generator's core.

`python -m harness.telemetry.sidecar SPOOL --out FILE --resource JSON [--endpoint URL]
[--otlp-timeout S] [--sample R] [--parent PID] [--stats FILE] [--idle-cores N]` exits when it
reads the spool's end mark, or when its parent has gone and the spool has been quiet for a second
(a killed run keeps every span it spooled).

Without an OTLP endpoint it exports only while the machine has a core to spare: while fewer than
`--idle-cores` (1) cores are idle (this process's own time counted as idle) and the spool still
grows, it leaves the spool alone (`harness/telemetry/export_deferral.py`), and catches up when the
load stops or a core is free. On 2 cores, a generator-bound run kept 0.87 of its untraced
throughput this way, against 0.79 with the export during the load (the exporter's work on the other
core still slowed the generator). With an endpoint, spans are exported as they come (people watch
them live), at that cost.

While the run goes on, the spool is followed by a thread at the lowest CPU priority; once the run
is over the main thread takes over at normal priority (`harness/telemetry/spool_follower.py`).

The endpoint is shipped to from a thread of its own (`OtlpShipper`,
`harness/telemetry/otlp_shipper.py`), never from the loop that writes the trace file: a slow or
unreachable collector cannot hold the local file back. It too runs at the lowest priority while
the run goes on, and at the main thread's once it is over. Each export has a deadline
(`--otlp-timeout`: `OTLP_TIMEOUT_S`, or `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT` as the journey
process read it), a collector that fails `OTLP_GIVE_UP` exports in a row is given up on, and
after the spool's end the shipper gets one deadline to drain (`grace_for`: 5 to 30 s); every span
not delivered is counted in the stats (`otlp_unsent`). SIGTERM gives up the endpoint at once and
finishes the local file.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import logging
import signal
import sys
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from harness.telemetry.export_deferral import Deferral
from harness.telemetry.joins import head_sampled, index_line
from harness.telemetry.otel_env import HTTP_PROTOCOL, OtlpTarget, otlp_exporter, ratio_bound
from harness.telemetry.otlp_json import OtlpJsonLinesExporter, rows_to_otlp_json
from harness.telemetry.otlp_shipper import OTLP_TIMEOUT_S, OtlpShipper, grace_for
from harness.telemetry.spool import EndedSpan, merged, read_spool
from harness.telemetry.spool_follower import lowest_priority, run

IDLE_CORES = 1.0  #: cores idle (but for this process) below which the export waits
MAX_PENDING_TRACES = 20_000
SLOW_WINDOW = 200
_KINDS = {k.value: k for k in SpanKind}
_STATUS = {s.value: s for s in StatusCode}
_FLAGS = TraceFlags(TraceFlags.SAMPLED)


class RowSampler:
    """Holds a trace's spans until its `journey` root ends, then keeps or drops the whole trace:
    kept when sampled by trace id, when the journey failed, or when it is among the slowest
    (at or above the 99th percentile of that journey's recent iterations). `on_root` hears of
    every journey root with whether it was kept (the journey index)."""

    def __init__(
        self, rate: float, on_root: Callable[[EndedSpan, bool], None] | None = None
    ) -> None:
        self.rate = rate
        self.bound = ratio_bound(rate)
        self.on_root = on_root
        self._pending: dict[int, list[EndedSpan]] = defaultdict(list)
        #: per journey, its last `SLOW_WINDOW` root durations in arrival order and sorted
        self._recent: dict[str, tuple[deque[int], list[int]]] = {}
        self.kept = 0
        self.dropped = 0

    def sample(self, rows: list[EndedSpan]) -> list[EndedSpan]:
        """The rows of this batch that belong to kept traces (with their held children)."""
        if self.rate >= 1.0:
            for row in rows:
                if _is_root(row):
                    self.kept += 1
                    if self.on_root is not None:
                        self.on_root(row, True)
            return rows
        kept: list[EndedSpan] = []
        for row in rows:
            trace_id = row.trace_id
            if not _is_root(row):
                if len(self._pending) >= MAX_PENDING_TRACES and trace_id not in self._pending:
                    self._pending.pop(next(iter(self._pending)))  # an orphan; keep memory bounded
                self._pending[trace_id].append(row)
                continue
            held = self._pending.pop(trace_id, [])
            keep = self._keep(row)
            if self.on_root is not None:
                self.on_root(row, keep)
            if keep:
                self.kept += 1
                kept += held
                kept.append(row)
            else:
                self.dropped += 1
        return kept

    def _keep(self, root: EndedSpan) -> bool:
        journey = str(merged(root.attributes).get("harness.journey", root.name))
        duration = root.end_ns - root.start_ns
        recent, ordered = self._recent.get(journey) or self._recent.setdefault(
            journey, (deque(), [])
        )
        slow = len(ordered) >= SLOW_WINDOW // 2 and duration >= ordered[int(0.99 * len(ordered))]
        # the window kept sorted as it slides: two bisections and a short move a root, where
        # sorting the window anew took 3/4 of a sampled export's time (300,000 roots at 0.1)
        if len(recent) == SLOW_WINDOW:
            del ordered[bisect.bisect_left(ordered, recent.popleft())]
        recent.append(duration)
        bisect.insort(ordered, duration)
        failed = root.status_code == StatusCode.ERROR.value
        # The head decision, which the root's `traceparent` carried; failed and slow traces
        # are kept besides (the tail), though their flag said "not sampled".
        return head_sampled(root.trace_id, self.bound) or failed or slow


def _is_root(row: EndedSpan) -> bool:
    return row.parent_id == 0 and row.name.startswith("journey ")


class SpoolExport:
    """Spool batches → sampled → OTLP JSON lines (encoded straight from the rows) and, with an
    endpoint, the SDK's OTLP/HTTP exporter (given rebuilt `ReadableSpan`s)."""

    def __init__(
        self,
        out: Path,
        resource: dict[str, Any],
        *,
        endpoint: str | None = None,
        sample_rate: float = 1.0,
        scope: str = "journey-harness",
        protocol: str = HTTP_PROTOCOL,
        index: Path | None = None,
        timeout_s: float = OTLP_TIMEOUT_S,
    ) -> None:
        """`timeout_s` is each export's deadline at the endpoint."""
        self.file = OtlpJsonLinesExporter(out)
        self._index: IO[str] | None = None
        if index is not None:
            index.parent.mkdir(parents=True, exist_ok=True)
            self._index = open(index, "a", encoding="utf-8")  # noqa: SIM115 - closed in shutdown()
        self.resource_attributes = resource
        self.scope_name = scope
        self.otlp: OtlpShipper | None = None
        self.resource = Resource(resource)  # as the journey process resolved it, unchanged
        self.scope = InstrumentationScope(scope)
        self.sampler = RowSampler(sample_rate, self._indexed if self._index is not None else None)
        self.spans = 0
        self.timeout_s = timeout_s
        if endpoint:
            # The SDK logs every retry; the run says once what was not sent, and why.
            logging.getLogger("opentelemetry.exporter.otlp").setLevel(logging.CRITICAL)
            exporter = otlp_exporter(OtlpTarget(endpoint, protocol), "traces", timeout_s)
            # at the lowest priority while the run goes on, as the spool's follower (`over`)
            self.otlp = OtlpShipper(exporter, self._span, lowered=lowest_priority)

    def batch(self, rows: list[EndedSpan]) -> None:
        """Sample and export one spool batch."""
        self.spans += len(rows)
        kept = self.sampler.sample(rows)
        if self._index is not None:
            self._index.flush()
        if not kept:
            return
        self.file.write(rows_to_otlp_json(self.resource_attributes, self.scope_name, kept))
        if self.otlp is not None:
            self.otlp.put(kept)

    def follow(self, handle: IO[bytes], stop: Callable[[], bool] | None = None) -> bool:
        """Export every complete batch from the handle's position; True at the end mark. With
        `stop`, returns False after the first batch at which it is true (the handle then stands
        just after that batch)."""
        for rows in read_spool(handle, merge=False):
            if rows is None:
                return True
            self.batch(rows)
            if stop is not None and stop():
                return False
        return False

    def over(self) -> None:
        """The run is over: ship to the endpoint at the calling thread's priority from now on."""
        if self.otlp is not None:
            self.otlp.handover()

    def _indexed(self, root: EndedSpan, kept: bool) -> None:
        assert self._index is not None
        target = str(merged(root.attributes).get("harness.target", ""))
        self._index.write(index_line(root.trace_id, target, root.start_ns, kept))

    def shutdown(self) -> None:
        """Close the files; give the endpoint its bounded time to take what is queued."""
        self.file.shutdown()
        if self._index is not None:
            self._index.close()
        if self.otlp is not None:
            self.otlp.close(grace_for(self.timeout_s))
            with contextlib.suppress(Exception):
                self.otlp.exporter.shutdown()

    def stats(self) -> dict[str, Any]:
        """Span counts for the run: exported to the file, kept, dropped by sampling, and (with an
        endpoint) delivered and not."""
        counts: dict[str, Any] = {
            "spans": self.spans,
            "kept": self.sampler.kept,
            "dropped": self.sampler.dropped,
        }
        if self.otlp is not None:
            counts.update(
                otlp_sent=self.otlp.sent, otlp_unsent=self.otlp.unsent, otlp_error=self.otlp.error
            )
        return counts

    def _span(self, row: EndedSpan) -> ReadableSpan:
        trace_id = row.trace_id
        return ReadableSpan(
            name=row.name,
            context=SpanContext(trace_id, row.span_id, False, _FLAGS),
            parent=SpanContext(trace_id, row.parent_id, False, _FLAGS) if row.parent_id else None,
            resource=self.resource,
            attributes=merged(row.attributes),
            events=[Event(n, a, timestamp=ts) for n, ts, a in row.events],
            kind=_KINDS.get(row.kind, SpanKind.INTERNAL),
            status=Status(_STATUS.get(row.status_code, StatusCode.UNSET), row.status_message),
            start_time=row.start_ns,
            end_time=row.end_ns,
            instrumentation_scope=self.scope,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m harness.telemetry.sidecar`."""
    parser = argparse.ArgumentParser(prog="python -m harness.telemetry.sidecar")
    parser.add_argument("spool", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resource", default="{}", help="resource attributes as JSON")
    parser.add_argument("--endpoint", default=None, help="OTLP traces URL (or gRPC address)")
    parser.add_argument("--protocol", default=HTTP_PROTOCOL, help="http/protobuf or grpc")
    parser.add_argument(
        "--otlp-timeout",
        type=float,
        default=OTLP_TIMEOUT_S,
        help="each export's deadline at the endpoint, in seconds",
    )
    parser.add_argument("--sample", type=float, default=1.0)
    parser.add_argument("--parent", type=int, default=None, help="exit when this PID has gone")
    parser.add_argument("--stats", type=Path, default=None, help="write span counts here")
    parser.add_argument(
        "--index", type=Path, default=None, help="write every journey trace (kept or not) here"
    )
    parser.add_argument(
        "--idle-cores",
        type=float,
        default=IDLE_CORES,
        help="without --endpoint, wait while fewer cores than this are idle (0: never wait)",
    )
    options = parser.parse_args(argv)
    resource_attributes: dict[str, Any] = json.loads(options.resource)
    export = SpoolExport(
        options.out,
        resource_attributes,
        endpoint=options.endpoint,
        sample_rate=options.sample,
        protocol=options.protocol,
        index=options.index,
        timeout_s=options.otlp_timeout,
    )
    # Ctrl-C to the process group is for the run: its process closes the spool and this follows
    # to the end mark. SIGTERM means finish now: the endpoint is given up (its spans counted
    # unsent), the spool is written to the local file without deferral to its last complete
    # batch, and the process exits.
    stopping = threading.Event()

    def terminate(signum: int, frame: Any) -> None:
        stopping.set()
        if export.otlp is not None:
            export.otlp.give_up("stopped by SIGTERM")

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, terminate)
    try:
        deferral = None if options.endpoint else Deferral(options.idle_cores)
        ended = run(
            options.spool, export, parent=options.parent, deferral=deferral, stopping=stopping
        )
    except OSError as exc:  # a full disk: the run names its spans as incomplete
        print(f"span sidecar: cannot write {options.out}: {exc.strerror or exc}", file=sys.stderr)
        return 3
    finally:
        with contextlib.suppress(OSError):
            export.shutdown()
    if ended:
        with contextlib.suppress(OSError):
            options.spool.unlink()
    if options.stats is not None:
        options.stats.write_text(json.dumps(export.stats()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
