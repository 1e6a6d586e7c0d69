"""The span sidecar's two threads: one follows the spool at the lowest priority while the run
goes on; once the spool's end mark is written the thread that started it takes over between two
batches, at its own priority. No batch is exported twice, none is skipped."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, cast

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext

from harness.telemetry.export_deferral import Deferral
from harness.telemetry.otel_env import HTTP_PROTOCOL, OtlpTarget, otlp_exporter
from harness.telemetry.otlp_json import read_spans
from harness.telemetry.otlp_shipper import OtlpShipper
from harness.telemetry.receiver import OtlpReceiver
from harness.telemetry.recorder import LightTracer
from harness.telemetry.sidecar import SpoolExport
from harness.telemetry.spool import EndedSpan, SpanSpool
from harness.telemetry.spool_follower import lowest_priority
from harness.telemetry.spool_follower import run as run_sidecar


class WatchedExport(SpoolExport):
    """A `SpoolExport` that notes, for every batch, the thread that exported it and that
    thread's scheduling policy; `delay_s` makes each batch that much slower."""

    def __init__(self, out: Path, delay_s: float = 0.0) -> None:
        super().__init__(out, {"service.name": "t"})
        self.delay_s = delay_s
        self.batches: list[tuple[int, int, list[int]]] = []  #: (thread, policy, trace ids)

    def batch(self, rows: list[EndedSpan]) -> None:
        policy = os.sched_getscheduler(0)  # the calling thread's
        self.batches.append((threading.get_native_id(), policy, [r.trace_id for r in rows]))
        super().batch(rows)
        time.sleep(self.delay_s)


class NoIdleCore(Deferral):
    """The machine never has a core to spare and the spool never stops growing."""

    def __init__(self) -> None:
        super().__init__(1.0)

    def wait(self, size: int, backlog: int, now: float) -> bool:
        return backlog > 0


def _spool_traces(spool: SpanSpool, count: int) -> list[int]:
    """`count` one-span traces, a batch each; their trace ids."""
    tracer = LightTracer(spool)
    ids = []
    for _ in range(count):
        span = tracer.root("journey j", {}, None)
        ids.append(span.get_span_context().trace_id)
        span.end()
        spool.flush()
    return ids


def _hex(trace_ids: list[int]) -> list[str]:
    return [f"{i:032x}" for i in trace_ids]


def _sidecar_in_a_thread(
    spool: SpanSpool, export: SpoolExport, deferral: Deferral | None = None
) -> dict[str, Any]:
    """`run` in a thread of its own (the sidecar's main thread); its result lands in the dict
    under "ended", its thread id under "thread"."""
    outcome: dict[str, Any] = {}

    def main() -> None:
        outcome["thread"] = threading.get_native_id()
        outcome["ended"] = run_sidecar(spool.path, export, parent=None, deferral=deferral)

    outcome["runner"] = threading.Thread(target=main, daemon=True)
    outcome["runner"].start()
    return outcome


def test_what_is_left_at_the_end_mark_is_exported_by_the_thread_at_normal_priority(
    tmp_path: Path,
) -> None:
    # During the load no core is idle: the thread at the lowest priority leaves the spool alone;
    # after the end mark the run waits, and the rest is exported at the sidecar's own priority.
    spool = SpanSpool(tmp_path / "spans.spool")
    export = WatchedExport(tmp_path / "traces.jsonl")
    written = _spool_traces(spool, 5)
    sidecar = _sidecar_in_a_thread(spool, export, NoIdleCore())
    time.sleep(0.5)  # the follower polls and waits
    assert export.batches == []
    written += _spool_traces(spool, 5)
    spool.close()
    sidecar["runner"].join(20)
    assert sidecar["ended"] is True
    assert {(thread, policy) for thread, policy, _ in export.batches} == {
        (sidecar["thread"], os.sched_getscheduler(0))
    }
    assert os.sched_getscheduler(0) != os.SCHED_IDLE
    export.shutdown()
    assert [r.trace_id for r in read_spans(tmp_path / "traces.jsonl")] == _hex(written)


def test_the_follower_hands_over_between_two_batches_and_nothing_is_written_twice(
    tmp_path: Path,
) -> None:
    # The follower is exporting a long backlog at the lowest priority when the end mark comes:
    # it stops after its batch and the sidecar's own thread goes on from there.
    spool = SpanSpool(tmp_path / "spans.spool")
    export = WatchedExport(tmp_path / "traces.jsonl", delay_s=0.02)
    written = _spool_traces(spool, 100)  # 2 s of export at 20 ms a batch
    sidecar = _sidecar_in_a_thread(spool, export)
    deadline = time.monotonic() + 20
    while len(export.batches) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    spool.close()
    sidecar["runner"].join(30)
    assert sidecar["ended"] is True
    threads = [thread for thread, _, _ in export.batches]
    follower = threads[0]
    assert follower != sidecar["thread"]
    handed = threads.index(sidecar["thread"])  # some batches were left for the sidecar's thread
    assert handed >= 3 and set(threads[:handed]) == {follower}
    assert set(threads[handed:]) == {sidecar["thread"]}
    assert {policy for _, policy, _ in export.batches[:handed]} == {os.SCHED_IDLE}
    assert [i for _, _, ids in export.batches for i in ids] == written
    export.shutdown()
    assert [r.trace_id for r in read_spans(tmp_path / "traces.jsonl")] == _hex(written)


class PolicyNoted:
    """Wraps a span exporter, noting each export's thread and that thread's scheduling policy."""

    def __init__(
        self, inner: Any, gate: threading.Event | None = None, delay_s: float = 0.0
    ) -> None:
        self.inner = inner
        self.gate = gate  #: the first export waits for it (a shipper starved mid-export)
        self.delay_s = delay_s  #: each export takes that much longer
        #: (thread, policy, spans); the thread by its Linux id, which a new thread does not
        #: reuse at once as it may reuse an ended one's `threading.get_ident()`
        self.calls: list[tuple[int, int, int]] = []

    def export(self, spans: Any) -> Any:
        self.calls.append((threading.get_native_id(), os.sched_getscheduler(0), len(spans)))
        if self.gate is not None and len(self.calls) == 1:
            self.gate.wait(10)
        time.sleep(self.delay_s)
        return self.inner.export(spans)

    def shutdown(self) -> None:
        self.inner.shutdown()


def test_the_endpoint_is_shipped_to_at_the_lowest_priority_until_the_run_is_over(
    tmp_path: Path,
) -> None:
    # Building and encoding the SDK's spans is most of the sidecar's CPU with an endpoint: while
    # the load goes on it must not run at the generator's priority; once the run is over it must
    # not starve beside busy neighbours. A real OTLP/HTTP receiver takes every span.
    spool = SpanSpool(tmp_path / "spans.spool")
    with OtlpReceiver() as receiver:
        export = SpoolExport(
            tmp_path / "traces.jsonl",
            {"service.name": "t"},
            endpoint=f"{receiver.endpoint}/v1/traces",
        )
        assert export.otlp is not None
        noted = PolicyNoted(export.otlp.exporter, delay_s=0.2)  # a slow collector
        export.otlp.exporter = cast(Any, noted)
        written = _spool_traces(spool, 2)
        sidecar = _sidecar_in_a_thread(spool, export)
        deadline = time.monotonic() + 20
        while len(noted.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        written += _spool_traces(spool, 5)  # queued behind the slow exports at the end mark
        spool.close()
        sidecar["runner"].join(30)
        export.shutdown()
        assert sidecar["ended"] is True
        policies = [policy for _, policy, _ in noted.calls]
        handed = policies.index(os.sched_getscheduler(0))
        assert os.sched_getscheduler(0) != os.SCHED_IDLE
        assert handed >= 2 and set(policies[:handed]) == {os.SCHED_IDLE}
        assert set(policies[handed:]) == {os.sched_getscheduler(0)}
        lowered = {thread for thread, _, _ in noted.calls[:handed]}
        assert lowered.isdisjoint(thread for thread, _, _ in noted.calls[handed:])
        # all 7 reach the receiver, unless the lowered thread's export in flight at the
        # handover got no CPU within the end's grace beside busy neighbours: counted unsent
        stats = export.stats()
        assert stats["otlp_sent"] + stats["otlp_unsent"] == 7 and stats["otlp_unsent"] <= 1
        received = [int(s.trace_id, 16) for s in receiver.spans]
        assert len(received) == stats["otlp_sent"] and set(received) <= set(written)


def test_a_shipper_starved_in_its_export_holds_the_handover_no_longer_than_its_wait() -> None:
    # Beside busy neighbours the lowered thread may get no CPU to finish the export it is in:
    # the handover waits a bounded time, the new thread ships the rest, and what the stuck one
    # never delivered is counted unsent, never lost from the counts.
    gate = threading.Event()
    with OtlpReceiver() as receiver:
        url = f"{receiver.endpoint}/v1/traces"
        exporter = otlp_exporter(OtlpTarget(url, HTTP_PROTOCOL), "traces", 5.0)
        noted = PolicyNoted(exporter, gate)
        shipper = OtlpShipper(cast(Any, noted), _span_of, lowered=lowest_priority)
        shipper.put(_rows(2))
        while not noted.calls:
            time.sleep(0.01)
        started = time.monotonic()
        shipper.handover(wait_s=0.3)
        assert time.monotonic() - started < 2.0
        shipper.put(_rows(3))
        shipper.close(grace_s=2.0)  # the stuck export is waited for this long, then unsent
        gate.set()
        assert (shipper.sent, shipper.unsent) == (3, 2)
        assert [(p, n) for _, p, n in noted.calls] == [
            (os.SCHED_IDLE, 2),
            (os.sched_getscheduler(0), 3),
        ]
        assert len(receiver.spans) == 3


def _rows(n: int) -> list[EndedSpan]:
    return [EndedSpan(7, i + 1, 0, "s", 1, 0, 1, {}, 0, None, ()) for i in range(n)]


def _span_of(row: EndedSpan) -> ReadableSpan:
    context = SpanContext(row.trace_id, row.span_id, False)
    return ReadableSpan(name=row.name, context=context, start_time=1, end_time=2)
