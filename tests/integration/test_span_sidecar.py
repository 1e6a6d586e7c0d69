"""The span sidecar as a real process: it exports a finished run's spans and exits, and it keeps
every span spooled by a process that was killed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import journey
from harness.telemetry import tracing
from harness.telemetry.otlp_json import read_spans
from harness.telemetry.recorder import LightTracer
from harness.telemetry.spool import SpanSpool
from harness.testing import FakeTransport, json_response, run_once


@journey
def one_step(j):
    with j.step("only", on="api"):
        j.api.get("/ping")


def test_setup_exports_through_the_sidecar_and_cleans_up(tmp_path: Path) -> None:
    telemetry = tracing.setup(trace_file=tmp_path / "traces.jsonl", run_id="run-1")
    try:
        records = [
            run_once(one_step, transport=FakeTransport(lambda r: json_response(200, {})))[0]
            for _ in range(5)
        ]
    finally:
        telemetry.shutdown()
    assert telemetry.sidecar is not None and telemetry.sidecar.process.returncode == 0
    rows = list(read_spans(tmp_path / "traces.jsonl"))
    assert len(rows) == 5 * 3  # journey, step, request
    assert {r.trace_id for r in rows} == {r.trace_id for r in records}
    assert {r.service for r in rows} == {"journey-harness"}
    # The spool and stats are removed; the journey index (every trace, kept or not, for the
    # trace gate) waits for the run's end to be settled into trace-joins.json.
    assert sorted(tmp_path.iterdir()) == [tmp_path / "traces", tmp_path / "traces.jsonl"]
    (index,) = (tmp_path / "traces").iterdir()
    assert index.name.startswith("journeys-") and len(index.read_text().splitlines()) == 5


def test_the_sidecar_follows_the_spool_at_the_lowest_cpu_priority(tmp_path: Path) -> None:
    # while the load runs it must never take a core from the load generator or the target on a
    # busy machine, nor preempt the generator when it wakes up (SCHED_IDLE, which nice 19 alone
    # does not give): the thread that follows the spool runs so, its other thread only looks
    # every 0.2 s whether the run is over
    telemetry = tracing.setup(trace_file=tmp_path / "traces.jsonl", run_id="run-1")

    def lowest() -> bool:
        return any(
            os.sched_getscheduler(tid) == os.SCHED_IDLE
            and os.getpriority(os.PRIO_PROCESS, tid) == 19
            for tid in _threads(pid)
        )

    try:
        assert telemetry.sidecar is not None
        pid = telemetry.sidecar.process.pid
        deadline = time.monotonic() + 20
        while not lowest() and time.monotonic() < deadline:
            time.sleep(0.05)  # it starts that thread once it has started
        assert lowest()
    finally:
        telemetry.shutdown()


def test_after_the_run_the_export_is_not_left_to_the_cores_neighbours_leave_idle(
    tmp_path: Path,
) -> None:
    # Beside busy loops on its core a SCHED_IDLE thread gets a few thousandths of it (0.4%
    # beside one): when the export of a closed spool ran so, a 14 s rehearsal beside two CPU
    # hogs could not write its spans in the 120 s a run waits. The bound is the run's
    # wait; the export's 0.15 s of CPU take about 1 s at a third of a core.
    spool = SpanSpool(tmp_path / "spans.spool")
    tracer = LightTracer(spool)
    for _ in range(60_000):
        tracer.root("journey j", {"harness.journey": "j"}, None).end()
    spool.close()
    cpu = max(os.sched_getaffinity(0))
    busy = "import time\nend = time.time() + 150\nwhile time.time() < end: pass"
    hogs = [subprocess.Popen([sys.executable, "-c", busy]) for _ in range(2)]
    process = None
    try:
        for hog in hogs:
            os.sched_setaffinity(hog.pid, {cpu})
        process = subprocess.Popen(_sidecar_argv(tmp_path, spool, "1"))
        os.sched_setaffinity(process.pid, {cpu})  # before its threads start: they inherit it
        assert process.wait(timeout=tracing.SIDECAR_WAIT_S / 2) == 0
    finally:
        for child in [*hogs, *([process] if process is not None else [])]:
            child.kill()
            child.wait()
    assert len(list(read_spans(tmp_path / "traces.jsonl"))) == 60_000


def test_spans_spooled_before_a_kill_are_exported(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from harness import journey
        from harness.telemetry import tracing
        from harness.testing import FakeTransport, json_response, run_once

        @journey
        def one_step(j):
            with j.step("only", on="api"):
                j.api.get("/ping")

        telemetry = tracing.setup(trace_file=Path({str(tmp_path / "traces.jsonl")!r}), run_id="r")
        for _ in range(20):
            run_once(one_step, transport=FakeTransport(lambda r: json_response(200, {{}})))
        telemetry.provider.spool.flush()
        print(telemetry.sidecar.process.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert child.returncode == -9, child.stderr
    sidecar_pid = int(child.stdout.split()[0])
    deadline = time.monotonic() + 20
    while _alive(sidecar_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(sidecar_pid), "the orphaned sidecar did not finish"
    rows = list(read_spans(tmp_path / "traces.jsonl"))
    assert len(rows) == 20 * 3
    assert len({r.trace_id for r in rows}) == 20


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _threads(pid: int) -> list[int]:
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        return []


def _sidecar_argv(tmp_path: Path, spool: SpanSpool, idle_cores: str) -> list[str]:
    """A real sidecar following `spool` into tmp_path/traces.jsonl, for this process."""
    return [
        sys.executable,
        "-m",
        "harness.telemetry.sidecar",
        str(spool.path),
        "--out",
        str(tmp_path / "traces.jsonl"),
        "--resource",
        '{"service.name": "t"}',
        "--parent",
        str(os.getpid()),
        "--idle-cores",
        idle_cores,
    ]


@contextmanager
def _sidecar_on(tmp_path: Path, spool: SpanSpool, idle_cores: str) -> Iterator[None]:
    """A real sidecar following `spool` while the block writes it; after the block the spool is
    closed and the sidecar must exit 0 (it is stopped by PID whatever happens)."""
    process = subprocess.Popen(_sidecar_argv(tmp_path, spool, idle_cores))
    try:
        yield
        spool.close()
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
        process.communicate()  # reaps it and closes its pipes


def _write_while(spool: SpanSpool, until: Callable[[], bool], limit_s: float) -> int:
    """Spool a one-span trace every 50 ms until `until()` or `limit_s`; returns how many."""
    tracer = LightTracer(spool)
    written = 0
    deadline = time.monotonic() + limit_s
    while not until() and time.monotonic() < deadline:
        tracer.root("journey j", {}, None).end()
        spool.flush()
        written += 1
        time.sleep(0.05)
    return written


def test_without_an_idle_core_the_export_waits_until_the_spool_stops_growing(
    tmp_path: Path,
) -> None:
    spool = SpanSpool(tmp_path / "spans.spool")
    out = tmp_path / "traces.jsonl"
    with _sidecar_on(tmp_path, spool, "1000"):  # never 1,000 idle cores: always waits
        written = _write_while(spool, lambda: False, limit_s=2.0)
        assert not out.exists() or out.stat().st_size == 0  # nothing exported while it grew
        deadline = time.monotonic() + 20
        while len(list(read_spans(out)) if out.exists() else []) < written:
            assert time.monotonic() < deadline, "the backlog was not exported after the run"
            time.sleep(0.1)  # the spool is quiet now (no end mark yet): it catches up
    assert len(list(read_spans(out))) == written


def test_with_an_idle_core_spans_are_exported_while_the_run_goes_on(tmp_path: Path) -> None:
    spool = SpanSpool(tmp_path / "spans.spool")
    out = tmp_path / "traces.jsonl"
    with _sidecar_on(tmp_path, spool, "0"):  # 0: never waits
        written = _write_while(spool, lambda: out.exists() and out.stat().st_size > 0, 20.0)
        assert out.exists() and out.stat().st_size > 0, "nothing exported during the run"
    assert len(list(read_spans(out))) == written
