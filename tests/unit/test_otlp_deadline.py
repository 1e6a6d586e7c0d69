"""Each export's deadline at the OTLP endpoint (`OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT`, read by
the journey process and handed to the span sidecar as `--otlp-timeout`) reaches the SDK's
exporter: a collector slower than the deadline gets nothing, one within it everything, and the
end's grace follows the deadline within its bounds."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.telemetry import sidecar
from harness.telemetry.otlp_json import read_spans
from harness.telemetry.otlp_shipper import OTLP_GRACE_MAX_S, OTLP_GRACE_S, grace_for
from harness.telemetry.recorder import LightTracer
from harness.telemetry.spool import SpanSpool

STALL_S = 2.0  #: how long the slow collector takes to answer each export


@contextmanager
def slow_collector(stall_s: float) -> Iterator[dict[str, Any]]:
    """An OTLP/HTTP endpoint on loopback that answers every export after `stall_s`; `answered`
    counts the exports it answered."""
    seen: dict[str, Any] = {"answered": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            time.sleep(stall_s)
            try:
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()
                seen["answered"] += 1
            except OSError:
                pass  # the exporter gave up waiting and closed the connection

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    seen["url"] = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def _sidecar(tmp_path: Path, url: str, *timeout: str) -> dict[str, Any]:
    """Spool 3 one-span traces (one batch, one export), run the sidecar's entry point over them
    to the end mark; its stats."""
    spool = SpanSpool(tmp_path / "spans.spool")
    tracer = LightTracer(spool)
    for _ in range(3):
        tracer.root("journey j", {}, None).end()
    spool.close()
    stats = tmp_path / "stats.json"
    argv = [str(spool.path), "--out", str(tmp_path / "traces.jsonl"), "--endpoint", url]
    argv += ["--stats", str(stats), "--idle-cores", "0", *timeout]
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert sidecar.main(argv) == 0
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    counts: dict[str, Any] = json.loads(stats.read_text())
    assert len(list(read_spans(tmp_path / "traces.jsonl"))) == 3  # the file has them all
    return counts


def test_a_collector_slower_than_the_deadline_gets_nothing(tmp_path: Path) -> None:
    with slow_collector(STALL_S) as collector:
        counts = _sidecar(tmp_path, collector["url"], "--otlp-timeout", "0.3")
    assert (counts["otlp_sent"], counts["otlp_unsent"]) == (0, 3)  # it gave up before the answer


def test_the_default_deadline_waits_for_the_same_collector(tmp_path: Path) -> None:
    with slow_collector(STALL_S) as collector:
        counts = _sidecar(tmp_path, collector["url"])  # the harness's 5 s
    assert (counts["otlp_sent"], counts["otlp_unsent"]) == (3, 0)
    assert collector["answered"] == 1


@pytest.mark.parametrize(
    ("timeout_s", "grace_s"),
    [(0.3, OTLP_GRACE_S), (5.0, 5.0), (12.0, 12.0), (600.0, OTLP_GRACE_MAX_S)],
)
def test_the_ends_grace_is_one_deadline_within_its_bounds(timeout_s: float, grace_s: float) -> None:
    assert grace_for(timeout_s) == grace_s
