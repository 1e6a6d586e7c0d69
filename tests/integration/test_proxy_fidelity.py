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
from tests.integration.http_servers import free_port, httpbin, nginx_reverse_proxy

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


#: What an upstream sends, by name (a list: parts sent 0.3 s apart), for the answers that are
#: not valid HTTP/1.1; nginx (Debian's, as a reverse proxy) decides what the client gets.
INVALID_ANSWERS: dict[str, bytes | list[bytes]] = {
    "nothing": b"",
    "garbage": b"garbage\r\n\r\nmore",  # nginx: HTTP/0.9, relayed as it is
    "status not 3 digits": b"HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok",
    "cut in the status line": b"HTTP/1.",
    "cut in the head": b"HTTP/1.1 200 OK\r\nContent-Le",
    "space in a name": b"HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 2\r\n\r\nok",
    "space before the colon": b"HTTP/1.1 200 OK\r\nX-A : x\r\nContent-Length: 2\r\n\r\nok",
    "NUL in a value": b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok",
    "folded line": b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
    "bad header later": [b"HTTP/1.1 200 OK\r\n", b"X-\x01: b\r\n\r\n"],
    "name alone": b"HTTP/1.1 200 OK\r\nAlone\r\nContent-Length: 2\r\n\r\nok",
    "bare LF line ends": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    "bad Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
    "two Content-Lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
    "Content-Length and chunked": b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "bare LF chunks": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\n0\n\n",
    "bad chunk size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0x2\r\nok\r\n0\r\n\r\n",
    "bad chunk size later": [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n",
        b"zz\r\nok\r\n0\r\n\r\n",
    ],
    "chunk without its line end": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"2\r\nokXX0\r\n\r\n",
}


@pytest.fixture(scope="module")
def invalid_upstream() -> Iterator[str]:
    """A server that answers `GET /<n>` with the nth of `INVALID_ANSWERS`, then closes."""
    answers = list(INVALID_ANSWERS.values())
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            head = _read_head(conn)
            parts = answers[int(head.split(b" ")[1].strip(b"/"))]
            for part in parts if isinstance(parts, list) else [parts]:
                conn.sendall(part)
                time.sleep(0.3)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def _what_the_client_gets(data: bytes) -> tuple[object, ...]:
    """What a client makes of an answer: no complete answer; bytes that are not HTTP (as
    they are); or the status, the headers but framing and hop-by-hop ones, and the body."""
    if data == b"\r\n\r\n":  # `_exchange` of nothing at all
        return ("incomplete",)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if not data.startswith(b"HTTP/1.1 ") or len(parts[1]) != 3 or not parts[1].isdigit():
        return ("not HTTP", data) if data else ("incomplete",)
    if parts[1] == b"502":
        return ("502",)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    chunked = headers.pop(b"transfer-encoding", b"") == b"chunked"
    length = headers.pop(b"content-length", None)
    for hop in (b"date", b"server", b"connection"):
        headers.pop(hop, None)
    if chunked:
        decoded = b""
        while True:
            size_line, found, body = body.partition(b"\r\n")
            if not found:
                return ("incomplete",)
            try:
                size = int(size_line.split(b";")[0], 16)
            except ValueError:
                return ("a chunk size that is none", size_line)
            if size == 0:
                break
            if body[size : size + 2] != b"\r\n":
                return ("incomplete",)
            decoded, body = decoded + body[:size], body[size + 2 :]
        body = decoded
    elif length is not None and len(body) != int(length):
        return ("incomplete",)
    return (int(parts[1]), sorted(headers.items()), body)


def test_an_invalid_upstream_answer_reaches_the_client_as_through_nginx(
    invalid_upstream: str, tmp_path: Path
) -> None:
    """For each kind of invalid answer, the client gets what nginx in front of the app gives
    it: 502 for a head it cannot relay, the bytes as they are for no status line, a cut-short
    answer for broken chunks (the proxy answered 400 to them all, or relayed a broken head, or
    closed without a word, or sent a chunk size that is none and a second answer after it)."""
    names = list(INVALID_ANSWERS)
    got = {}
    with (
        nginx_reverse_proxy(tmp_path / "nginx", invalid_upstream) as nginx,
        ProxyProcess(invalid_upstream) as proxy,
    ):
        for n, name in enumerate(names):
            request = f"GET /{n} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
            behind_nginx = _what_the_client_gets(_exchange(nginx, request))
            behind_drill = _what_the_client_gets(_exchange(proxy.url, request))
            got[name] = (behind_nginx, behind_drill)
    differ = {name: pair for name, pair in got.items() if pair[0] != pair[1]}
    assert differ == {}
    assert {pair[0][0] for pair in got.values()} >= {"502", "not HTTP", "incomplete", 200}
