"""The span sidecar's two threads: one follows the spool at the lowest priority while the run
goes on; once the spool's end mark is written the thread that started it takes over between two
batches, at its own priority. No batch is exported twice, none is skipped."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from harness.telemetry.export_deferral import Deferral
from harness.telemetry.otlp_json import read_spans
from harness.telemetry.recorder import LightTracer
from harness.telemetry.sidecar import SpoolExport
from harness.telemetry.spool import EndedSpan, SpanSpool
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
        self.batches.append((threading.get_ident(), policy, [r.trace_id for r in rows]))
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
        outcome["thread"] = threading.get_ident()
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
