"""The span sidecar: a process that follows a journey process's span spool (see
`harness.telemetry.recorder`), applies the journey sampler and exports the spans — OTLP JSON
lines to the run's trace file, and through the SDK's OTLP/HTTP exporter to an endpoint — so that
none of that work runs on the load generator's core.

`python -m harness.telemetry.sidecar SPOOL --out FILE --resource JSON [--endpoint URL]
[--sample R] [--parent PID] [--stats FILE]` exits when it reads the spool's end mark, or when
its parent has gone and the spool has been quiet for a second (a killed run keeps every span it
spooled).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from harness.telemetry.otlp_json import OtlpJsonLinesExporter, rows_to_otlp_json
from harness.telemetry.recorder import Row, merged, read_spool

POLL_S = 0.2
QUIET_S = 1.0
MAX_PENDING_TRACES = 20_000
SLOW_WINDOW = 200
_KINDS = {k.value: k for k in SpanKind}
_STATUS = {s.value: s for s in StatusCode}
_FLAGS = TraceFlags(TraceFlags.SAMPLED)


class RowSampler:
    """Holds a trace's spans until its `journey` root ends, then keeps or drops the whole trace:
    kept when sampled by trace id, when the journey failed, or when it is among the slowest
    (at or above the 95th percentile of that journey's recent iterations)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._pending: dict[int, list[Row]] = defaultdict(list)
        self._recent: dict[str, deque[int]] = defaultdict(lambda: deque(maxlen=SLOW_WINDOW))
        self.kept = 0
        self.dropped = 0

    def sample(self, rows: list[Row]) -> list[Row]:
        """The rows of this batch that belong to kept traces (with their held children)."""
        if self.rate >= 1.0:
            self.kept += sum(1 for row in rows if _is_root(row))
            return rows
        kept: list[Row] = []
        for row in rows:
            trace_id = row[0]
            if not _is_root(row):
                if len(self._pending) >= MAX_PENDING_TRACES and trace_id not in self._pending:
                    self._pending.pop(next(iter(self._pending)))  # an orphan; keep memory bounded
                self._pending[trace_id].append(row)
                continue
            held = self._pending.pop(trace_id, [])
            if self._keep(row):
                self.kept += 1
                kept += held
                kept.append(row)
            else:
                self.dropped += 1
        return kept

    def _keep(self, root: Row) -> bool:
        trace_id, _, _, name, _, start, end, attributes, status, _, _ = root
        journey = str(merged(attributes).get("harness.journey", name))
        duration = end - start
        recent = self._recent[journey]
        slow = len(recent) >= 20 and duration >= sorted(recent)[int(0.95 * len(recent))]
        recent.append(duration)
        failed = status == StatusCode.ERROR.value
        sampled = (trace_id & 0xFFFFFFFF) / 0xFFFFFFFF < self.rate
        return sampled or failed or slow


def _is_root(row: Row) -> bool:
    return row[2] == 0 and row[3].startswith("journey ")


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
    ) -> None:
        self.file = OtlpJsonLinesExporter(out)
        self.resource_attributes = resource
        self.scope_name = scope
        self.otlp: SpanExporter | None = None
        if endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.otlp = OTLPSpanExporter(endpoint=endpoint)
        self.resource = Resource.create(resource)
        self.scope = InstrumentationScope(scope)
        self.sampler = RowSampler(sample_rate)
        self.spans = 0

    def batch(self, rows: list[Row]) -> None:
        """Sample and export one spool batch."""
        self.spans += len(rows)
        kept = self.sampler.sample(rows)
        if not kept:
            return
        self.file.write(rows_to_otlp_json(self.resource_attributes, self.scope_name, kept))
        if self.otlp is not None:
            self.otlp.export([self._span(row) for row in kept])

    def follow(self, handle: IO[bytes]) -> bool:
        """Export every complete batch from the handle's position; True at the end mark."""
        for rows in read_spool(handle, merge=False):
            if rows is None:
                return True
            self.batch(rows)
        return False

    def shutdown(self) -> None:
        """Close the file and flush the OTLP exporter."""
        self.file.shutdown()
        if self.otlp is not None:
            self.otlp.shutdown()

    def _span(self, row: Row) -> ReadableSpan:
        trace_id, span_id, parent_id, name, kind, start, end, attributes, code, text, events = row
        return ReadableSpan(
            name=name,
            context=SpanContext(trace_id, span_id, False, _FLAGS),
            parent=SpanContext(trace_id, parent_id, False, _FLAGS) if parent_id else None,
            resource=self.resource,
            attributes=merged(attributes),
            events=[Event(n, a, timestamp=ts) for n, ts, a in events],
            kind=_KINDS.get(kind, SpanKind.INTERNAL),
            status=Status(_STATUS.get(code, StatusCode.UNSET), text),
            start_time=start,
            end_time=end,
            instrumentation_scope=self.scope,
        )


def run(spool: Path, export: SpoolExport, *, parent: int | None) -> bool:
    """Follow `spool` until its end mark (True), or until the parent has gone and it has been
    quiet for `QUIET_S` (False)."""
    while not spool.exists():
        if parent is not None and os.getppid() != parent:
            return False
        time.sleep(POLL_S)
    with open(spool, "rb") as handle:
        quiet_since = time.monotonic()
        while True:
            position = handle.tell()
            if export.follow(handle):
                return True
            now = time.monotonic()
            if handle.tell() != position:
                quiet_since = now
            orphaned = parent is not None and os.getppid() != parent
            if orphaned and now - quiet_since >= QUIET_S:
                return False
            time.sleep(POLL_S)


def lowest_priority() -> None:
    """Run only on a core nothing else wants: the load generator and the target come first and
    the exporter catches up when a core is free (its spool absorbs the backlog). `SCHED_IDLE`
    where there is one (Linux): unlike nice 19, a waking sidecar then never preempts the
    generator on its core."""
    with contextlib.suppress(OSError):
        os.nice(19)
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m harness.telemetry.sidecar`."""
    parser = argparse.ArgumentParser(prog="python -m harness.telemetry.sidecar")
    parser.add_argument("spool", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resource", default="{}", help="resource attributes as JSON")
    parser.add_argument("--endpoint", default=None, help="OTLP/HTTP traces URL")
    parser.add_argument("--sample", type=float, default=1.0)
    parser.add_argument("--parent", type=int, default=None, help="exit when this PID has gone")
    parser.add_argument("--stats", type=Path, default=None, help="write span counts here")
    options = parser.parse_args(argv)
    resource_attributes: dict[str, Any] = json.loads(options.resource)
    export = SpoolExport(
        options.out, resource_attributes, endpoint=options.endpoint, sample_rate=options.sample
    )
    # Ctrl-C and a SIGTERM to the process group are for the run: its process closes the spool
    # and this follows to the end mark (or, orphaned, to the last complete batch).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    lowest_priority()
    try:
        ended = run(options.spool, export, parent=options.parent)
    finally:
        export.shutdown()
    if ended:
        with contextlib.suppress(OSError):
            options.spool.unlink()
    if options.stats is not None:
        counts = {"spans": export.spans, "kept": export.sampler.kept}
        options.stats.write_text(json.dumps({**counts, "dropped": export.sampler.dropped}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
