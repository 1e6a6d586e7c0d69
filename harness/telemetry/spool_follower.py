"""Following a span spool for the sidecar (`harness.telemetry.sidecar`), by one thread at a time.

While the run goes on, the spool is followed by a thread at the lowest CPU priority (`SCHED_IDLE`
and nice 19: `lowest_priority`); the main thread, at the priority the sidecar started with, only
looks every `POLL_S` whether the run is over (the end mark written, the parent gone, SIGTERM) and
then takes the export over between two batches: the run is waiting for it then, and beside busy
neighbours a `SCHED_IDLE` thread gets next to no CPU (beside `stress-ng --cpu 2`, a 15 s load's
export took 3.5 and 11.6 s after its end mark, 0.1–0.2 s this way; beside the full test suite a
rehearsal hit the 120 s the run waits). Linux keeps priorities per thread, so no privilege is
needed: lowering one's own is always allowed, raising it back is not (`CAP_SYS_NICE`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

from harness.telemetry.export_deferral import QUIET_S, Deferral
from harness.telemetry.spool import spool_closed

POLL_S = 0.2


class BatchExport(Protocol):
    """What the follower hands the spool to (the sidecar's `SpoolExport`)."""

    def follow(self, handle: IO[bytes], stop: Callable[[], bool] | None = None) -> bool:
        """Export every complete batch from the handle's position; True at the end mark; with
        `stop`, False after the first batch at which it is true."""
        ...

    def over(self) -> None:
        """The run is over: whatever the export does from threads of its own runs at the calling
        thread's priority from now on."""
        ...


def run(
    spool: Path,
    export: BatchExport,
    *,
    parent: int | None,
    deferral: Deferral | None = None,
    stopping: threading.Event | None = None,
) -> bool:
    """Follow `spool` until its end mark (True), or until the parent has gone (or `stopping` is
    set: SIGTERM) and it has been quiet for `QUIET_S` (False). While the run goes on, from a
    thread at the lowest CPU priority (`lowest_priority`; with `deferral`, polls it says to skip
    read nothing); once it is over (the end mark written, the parent gone, SIGTERM), from the
    calling thread at its own priority: the run is waiting for its spans then, and beside busy
    neighbours a `SCHED_IDLE` thread gets next to no CPU (0.4% of a core beside one busy loop)."""
    stop = stopping or threading.Event()

    def abandoned() -> bool:
        return (parent is not None and os.getppid() != parent) or stop.is_set()

    while not spool.exists():
        if abandoned():
            return False
        time.sleep(POLL_S)
    with open(spool, "rb") as handle:
        follower = SpoolFollower(handle, export, abandoned)
        ended = follower.until_over(deferral)
        export.over()
        return follower.to_the_end() if ended is None else ended


class SpoolFollower:
    """One open spool exported batch by batch, by one thread at a time: while the run goes on, a
    thread at the lowest priority; once it is over, the thread that started it, which takes over
    between two batches (no batch is exported twice, none is skipped)."""

    def __init__(
        self, handle: IO[bytes], export: BatchExport, abandoned: Callable[[], bool]
    ) -> None:
        self.handle = handle
        self.export = export
        self.abandoned = abandoned

    def over(self) -> bool:
        """Whether the run is over: the spool's end mark is written, the parent has gone or
        SIGTERM came."""
        return self.abandoned() or spool_closed(self.handle, os.fstat(self.handle.fileno()).st_size)

    def until_over(self, deferral: Deferral | None) -> bool | None:
        """Follow from a thread at the lowest priority (`while_running`) while this one looks every
        `POLL_S` whether the run is over, then waits for that thread to stop after its batch.
        True when that thread reached the end mark itself, None when it stopped before; raises
        what it raised."""
        handed_over = threading.Event()
        outcome: list[bool | None] = [None]
        failure: list[BaseException] = []

        def follow_at_lowest_priority() -> None:
            lowest_priority()
            try:
                outcome[0] = self.while_running(deferral, handed_over)
            except BaseException as exc:  # raised again in the calling thread
                failure.append(exc)

        thread = threading.Thread(
            target=follow_at_lowest_priority, name="spool-follower", daemon=True
        )
        thread.start()
        while thread.is_alive() and not self.over():
            thread.join(POLL_S)
        handed_over.set()
        thread.join()
        if failure:
            raise failure[0]
        return outcome[0]

    def while_running(self, deferral: Deferral | None, handed_over: threading.Event) -> bool | None:
        """Export what `deferral` lets through until the run is over (None) or `handed_over` is
        set (looked at between batches: None); True if it reached the end mark itself."""
        handle = self.handle
        while not (handed_over.is_set() or self.over()):
            size = os.fstat(handle.fileno()).st_size
            wait = deferral is not None and deferral.wait(
                size, size - handle.tell(), time.monotonic()
            )
            if not wait and self.export.follow(handle, handed_over.is_set):
                return True
            handed_over.wait(POLL_S)
        return None

    def to_the_end(self) -> bool:
        """Export from the calling thread, without deferral, to the end mark (True), or until the
        run is abandoned and the spool has been quiet for `QUIET_S` (False)."""
        handle = self.handle
        quiet_since = time.monotonic()
        while True:
            position = handle.tell()
            if self.export.follow(handle):
                return True
            now = time.monotonic()
            if handle.tell() != position:
                quiet_since = now
            if self.abandoned() and now - quiet_since >= QUIET_S:
                return False
            time.sleep(POLL_S)


def lowest_priority() -> None:
    """Run the calling thread only on a core nothing else wants: the load generator and the
    target come first and the exporter catches up when a core is free (its spool absorbs the
    backlog). `SCHED_IDLE` where there is one (Linux): unlike nice 19, a waking sidecar then
    never preempts the generator on its core. On Linux both apply to the calling thread alone,
    and without `CAP_SYS_NICE` (or an `RLIMIT_NICE` that allows it) no thread can undo them:
    the thread that finishes the export after the load is another one."""
    with contextlib.suppress(OSError):
        os.nice(19)
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
