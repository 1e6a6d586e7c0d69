"""A target that misbehaves during a load run — 5xx, garbage instead of HTTP, connection resets,
hangs past the request timeout, dying mid-run, TLS where there is none: the run ends by itself,
records every failure with its kind, writes its results and verdict, and never shows a
traceback."""

from __future__ import annotations

import json
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.exitcodes import ExitCode
from tests.integration.conftest import only_run_dir, run_cli

JOURNEY = """
from harness import journey


@journey
def fetch(j):
    with j.step("fetch", on="api"):
        j.api.get("/thing")
"""


class Hostile(socketserver.ThreadingTCPServer):
    """Answers `/` (the harness's reachability probe) with 200 and every other path as `mode`
    says; with `dies_after` it drops every connection and answers no more once that many seconds
    have passed since the first journey request."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str, dies_after: float | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.first_hit: float | None = None
        self.dies_after = dies_after
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def dead(self) -> bool:
        if self.dies_after is None or self.first_hit is None:
            return False
        return time.monotonic() - self.first_hit > self.dies_after


class _Handler(socketserver.BaseRequestHandler):
    server: Hostile

    def handle(self) -> None:
        conn: socket.socket = self.request
        with self.server.lock:
            self.server.open.add(conn)
        try:
            self._serve(conn)
        except OSError:
            pass
        finally:
            with self.server.lock:
                self.server.open.discard(conn)

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        while not self.server.dead():
            conn.settimeout(0.2)
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            buffer += chunk
            if b"\r\n\r\n" not in buffer:
                continue
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            mode = "ok" if path == b"/" else self.server.mode
            if path != b"/" and self.server.first_hit is None:
                self.server.first_hit = time.monotonic()
            if mode == "ok":
                conn.sendall(_response(200, b'{"ok":true}'))
            elif mode == "status500":
                conn.sendall(_response(500, b'{"error":"boom"}'))
            elif mode == "garbage":
                conn.sendall(b"\x00\xffTHIS IS NOT HTTP\r\n\r\n")
                return
            elif mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            elif mode == "hang":  # keep the connection open, answer nothing
                while not self.server.dead():
                    time.sleep(0.1)
                return


def _response(status: int, body: bytes) -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body


@pytest.fixture
def hostile(request: pytest.FixtureRequest) -> Iterator[Hostile]:
    mode, dies_after = request.param
    server = Hostile(mode, dies_after)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        with server.lock:
            for conn in list(server.open):
                conn.close()
        thread.join(10)


def _load(tmp_path: Path, url: str) -> tuple[int, str, Path | None]:
    (tmp_path / "j").mkdir(exist_ok=True)
    (tmp_path / "j" / "fetch.py").write_text(JOURNEY)
    (tmp_path / "harness.toml").write_text("request_timeout = 1.0\n")
    result = run_cli(
        "load", "--target", url, "--journeys", "j", "--users", "2", "--spawn-rate", "2",
        "--duration", "4s", "--browser-users", "0", "--results", str(tmp_path / "results"),
        cwd=tmp_path, timeout=90, html=True,
    )  # fmt: skip
    results = tmp_path / "results"
    run_dir = only_run_dir(results) if results.exists() else None
    return result.code, result.out + result.err, run_dir


@pytest.mark.parametrize(
    ("hostile", "kind"),
    [
        (("status500", None), "http_status"),
        (("garbage", None), "connection"),
        (("reset", None), "connection"),
        (("hang", None), "timeout"),
        (("ok", 1.0), "connection"),  # answers, then dies mid-run
    ],
    indirect=["hostile"],
    ids=["5xx", "garbage", "reset", "hang", "dies-mid-run"],
)
def test_a_misbehaving_target_is_recorded_not_crashed_on(
    hostile: Hostile, kind: str, tmp_path: Path
) -> None:
    code, text, run_dir = _load(tmp_path, hostile.url)
    assert code == ExitCode.FAILED, text
    assert "Traceback" not in text and "internal error" not in text
    assert run_dir is not None
    lines = [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]
    failed = Counter(
        r["error_kind"] for r in lines if r["kind"] == "step" and r["outcome"] == "failed"
    )
    assert failed[kind] > 0, failed
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "failed" and run["failed"] > 0
    for written in ("summary.md", "junit.xml", "report.html", "histograms"):
        assert (run_dir / written).exists(), written
    if hostile.dies_after:
        passed = [r for r in lines if r["kind"] == "step" and r["outcome"] == "passed"]
        assert passed, "the target answered before it died"


@pytest.mark.parametrize("hostile", [("ok", None)], indirect=True)
def test_tls_against_a_plain_http_target_is_a_clear_error_before_any_load(
    hostile: Hostile, tmp_path: Path
) -> None:
    code, text, run_dir = _load(tmp_path, hostile.url.replace("http://", "https://"))
    assert code == ExitCode.HARNESS_ERROR, text
    assert "did not answer" in text and "Nothing was run" in text
    assert "SSL" in text or "handshake" in text
    assert "Traceback" not in text and run_dir is None
