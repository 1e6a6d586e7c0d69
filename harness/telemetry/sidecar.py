"""The span sidecar: a process that follows a journey process's span spool (see
`harness.telemetry.recorder`), applies the journey sampler and exports the spans — OTLP JSON
lines to the run's trace file, and through the SDK's OTLP/HTTP exporter to an endpoint — so that
none of that work runs on the load generator's core.

`python -m harness.telemetry.sidecar SPOOL --out FILE --resource JSON [--endpoint URL]
[--sample R] [--parent PID] [--stats FILE] [--idle-cores N]` exits when it reads the spool's end
mark, or when its parent has gone and the spool has been quiet for a second (a killed run keeps
every span it spooled).

Without an OTLP endpoint it exports only while the machine has a core to spare: while fewer than
`--idle-cores` (1) cores are idle (this process's own time counted as idle) and the spool still
grows, it leaves the spool alone, and catches up when the load stops or a core is free. On 2
cores, a generator-bound run kept 0.87 of its untraced throughput this way, against 0.79 with the
export during the load (the exporter's work on the other core still slowed the generator).
With an endpoint, spans are exported as they come (people watch them live), at that cost.
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import psutil
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from harness.telemetry.otlp_json import OtlpJsonLinesExporter, rows_to_otlp_json
from harness.telemetry.recorder import Row, merged, read_spool, spool_closed

POLL_S = 0.2
QUIET_S = 1.0
IDLE_CORES = 1.0  #: cores idle (but for this process) below which the export waits
MAX_BACKLOG_BYTES = 256 * 2**20  #: a spool backlog beyond which the export goes on regardless
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


class MachineLoad:
    """How many of the machine's cores were idle, or busy with this process only, since the last
    look (from the kernel's CPU counters)."""

    def __init__(self) -> None:
        self._cores = psutil.cpu_count() or 1
        self._last = self._counters()

    @staticmethod
    def _counters() -> tuple[float, float, float]:
        times = psutil.cpu_times()
        idle = times.idle + getattr(times, "iowait", 0.0)
        # guest time is counted in user time already
        total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
        own = os.times()
        return total, idle, own.user + own.system

    def idle_cores(self) -> float:
        """Cores left idle by other processes since the previous call (all of them when no
        time has passed)."""
        total, idle, own = self._counters()
        last_total, last_idle, last_own = self._last
        self._last = (total, idle, own)
        elapsed = total - last_total
        if elapsed <= 0:
            return float(self._cores)
        return self._cores * min(1.0, (idle - last_idle + own - last_own) / elapsed)


class Deferral:
    """Whether to leave the spool for later: while fewer than `idle_cores` cores are idle and
    the spool still grows, up to a backlog of `MAX_BACKLOG_BYTES` (`idle_cores` 0: never).
    `idle` measures the idle cores (by default `MachineLoad`, made on first need)."""

    def __init__(self, idle_cores: float, idle: Callable[[], float] | None = None) -> None:
        self.threshold = idle_cores
        self._idle = idle
        self._size = -1
        self._grew = 0.0

    def wait(self, size: int, backlog: int, now: float) -> bool:
        """True to skip this poll; `size` the spool's size, `backlog` its unread bytes."""
        if size != self._size:
            self._size, self._grew = size, now
        if self.threshold <= 0 or backlog <= 0 or backlog >= MAX_BACKLOG_BYTES:
            return False
        if now - self._grew >= QUIET_S:  # the run has stopped writing: catch up
            return False
        if self._idle is None:
            self._idle = MachineLoad().idle_cores
        return self._idle() < self.threshold


def run(
    spool: Path, export: SpoolExport, *, parent: int | None, deferral: Deferral | None = None
) -> bool:
    """Follow `spool` until its end mark (True), or until the parent has gone and it has been
    quiet for `QUIET_S` (False). With `deferral`, polls it says to skip read nothing."""
    while not spool.exists():
        if parent is not None and os.getppid() != parent:
            return False
        time.sleep(POLL_S)
    with open(spool, "rb") as handle:
        quiet_since = time.monotonic()
        while True:
            orphaned = parent is not None and os.getppid() != parent
            if deferral is not None and not orphaned:
                size = os.fstat(handle.fileno()).st_size
                ended = spool_closed(handle, size)  # the run is over: nothing to wait for
                if not ended and deferral.wait(size, size - handle.tell(), time.monotonic()):
                    time.sleep(POLL_S)
                    continue
            position = handle.tell()
            if export.follow(handle):
                return True
            now = time.monotonic()
            if handle.tell() != position:
                quiet_since = now
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
    parser.add_argument(
        "--idle-cores",
        type=float,
        default=IDLE_CORES,
        help="without --endpoint, wait while fewer cores than this are idle (0: never wait)",
    )
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
        deferral = None if options.endpoint else Deferral(options.idle_cores)
        ended = run(options.spool, export, parent=options.parent, deferral=deferral)
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
