"""The drill proxy with no fault is transparent, as nginx in front of an app would be: what
httpbin (gunicorn's gevent worker, which keeps connections alive) and a WebSocket server serve
reaches the client unchanged and when it is sent, compared with going direct."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect
from websockets.sync.server import ServerConnection, serve

from harness.faults.process import ProxyProcess
from tests.integration.http_servers import free_port, httpbin

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with httpbin(tmp_path_factory.mktemp("httpbin"), worker="gevent") as url:
        yield url


@pytest.fixture(scope="module")
def drill(bin_url: str) -> Iterator[str]:
    with ProxyProcess(bin_url) as proxy:
        yield proxy.url


def _open(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sock


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    return data


def _exchange(url: str, request: bytes) -> bytes:
    """Send one request that closes its connection; everything answered, dates blanked."""
    with _open(url) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"date:")]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@pytest.mark.parametrize(
    "request_line",
    [
        "GET /response-headers?Set-Cookie=a%3D1&Set-Cookie=b%3D2 HTTP/1.1",  # two lines stay two
        "GET /gzip HTTP/1.1\r\nAccept-Encoding: gzip",  # the coded bytes, untouched
        "GET /range/100 HTTP/1.1\r\nRange: bytes=10-19",
        "HEAD /bytes/100?seed=1 HTTP/1.1",
        "GET /status/204 HTTP/1.1",
        "GET /stream-bytes/300000?chunk_size=4096&seed=3 HTTP/1.1",
        "GET /get HTTP/1.0",
    ],
)
def test_what_the_app_answers_reaches_the_client_byte_for_byte(
    bin_url: str, drill: str, request_line: str
) -> None:
    upstream_host = bin_url.removeprefix("http://")
    request = f"{request_line}\r\nHost: {upstream_host}\r\nConnection: close\r\n\r\n".encode()
    direct = _exchange(bin_url, request)
    assert direct.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2"))
    assert _exchange(drill, request) == direct


def _time_to_head(url: str, target: str) -> float:
    with _open(url) as sock:
        started = time.monotonic()
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = _read_head(sock)
        took = time.monotonic() - started
        assert head.startswith(b"HTTP/1.1 200"), head
        while sock.recv(65536):  # to the end: httpbin's one worker is then free again
            pass
        return took


def test_a_body_sent_slowly_does_not_hold_back_its_head(bin_url: str, drill: str) -> None:
    """httpbin's /drip announces 4 bytes and sends them over 1.5 s: the head comes at once
    direct, and must through the proxy too (it came with the whole body, 1.5 s later)."""
    target = "/drip?duration=1.5&numbytes=4&delay=0"
    assert _time_to_head(bin_url, target) < 0.5
    assert _time_to_head(drill, target) < 0.5


@pytest.mark.parametrize("path", ["/post", "/status/401"])
def test_a_client_that_expects_100_continue_gets_it_before_sending_the_body(
    bin_url: str, drill: str, path: str
) -> None:
    """`Expect: 100-continue` (curl's default above 1 MiB): the upstream's 100 reaches the
    client, which then sends its body; the proxy waited for the body, so each such upload
    stalled for the client's own wait (1 s for curl) before it went on. An answer that does
    not read the body (401) reaches the client too, and what follows is as direct."""
    body = bytes(range(256)) * 4096 * 8  # 8 MiB: more than the sockets buffer
    answers = []
    for url in (bin_url, drill):
        with _open(url) as sock:
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n".encode()
                + b"Content-Type: application/octet-stream\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            sock.settimeout(2)
            got = _read_head(sock)
            assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), url
            sock.settimeout(10)
            sock.sendall(body)
            sock.sendall(b"GET /get HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while chunk := sock.recv(65536):
                got += chunk
        answers.append([ln[9:12] for ln in got.split(b"\r\n") if ln.startswith(b"HTTP/1.1 ")])
        if path == "/post":
            assert b'"Content-Length": "8388608"' in got
    assert answers[0][:2] == [b"100", path[-3:].encode() if path[-3:].isdigit() else b"200"]
    assert answers[1] == answers[0]


@pytest.fixture
def echo_ws() -> Iterator[str]:
    """A WebSocket server (the `websockets` package) that echoes every message."""

    def echo(conn: ServerConnection) -> None:
        for message in conn:
            conn.send(f"echo:{message!s}")

    port = free_port()
    with serve(echo, "127.0.0.1", port) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.shutdown()
            thread.join(timeout=5)


def test_a_websocket_upgrade_carries_messages_both_ways(echo_ws: str, tmp_path: Path) -> None:
    """After `101 Switching Protocols` the proxy passes bytes both ways until a close: the
    client's frames never reached the server before, so the first answer never came."""
    with ProxyProcess(echo_ws) as proxy:
        for url in (echo_ws, proxy.url):
            with connect(url.replace("http://", "ws://") + "/", open_timeout=5) as ws:
                for n in range(3):
                    ws.send(f"hello {n}")
                    assert ws.recv(timeout=3) == f"echo:hello {n}"


@pytest.fixture
def truncating() -> Iterator[str]:
    """A server that announces 1,000 bytes, sends 100 and closes (an app that dies mid-body)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                _read_head(conn)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_body_cut_short_by_the_app_reaches_the_client_cut_short(truncating: str) -> None:
    """The client sees the head and the 100 bytes, then the close: a truncated answer it can
    tell from a complete one, as direct (it got no answer at all, as if nothing was served)."""
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    with ProxyProcess(truncating) as proxy:
        for url in (truncating, proxy.url):
            got = _exchange(url, request)
            assert got == b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100, url


def test_a_request_head_too_large_is_answered_not_dropped(bin_url: str, drill: str) -> None:
    """A 90 kB request head: gunicorn answers 431, and so does the proxy, whose limit is 64 kB
    (it closed the connection without a word, a connection error where the app says 4xx)."""
    filler = "a" * 30_000
    lines = "".join(f"X-Filler-{n}: {filler}\r\n" for n in range(3))
    request = f"GET /get HTTP/1.1\r\nHost: x\r\n{lines}Connection: close\r\n\r\n".encode()
    for url in (bin_url, drill):
        assert _exchange(url, request).startswith(b"HTTP/1.1 431 "), url
