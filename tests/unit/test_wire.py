"""The HTTP/1.1 transport against a scripted server on loopback: body framings, keep-alive and
its loss, deadlines, refusals, and what it writes on the wire."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.errors import ConnectionFailed, StepTimeout
from harness.http.transport import GeventTransport, HttpRequest
from harness.http.wire import WireError, encode_request, parse_head

#: A scripted server's reply to one request: the bytes to send and whether to close after them.
Reply = tuple[bytes, bool]


class Scripted:
    """A loopback server answering the n-th request on any connection with `replies[n]`, and
    keeping every request it read."""

    def __init__(self, replies: list[Reply | Callable[[socket.socket], None]]) -> None:
        self.replies = replies
        self.requests: list[bytes] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            buffer = b""
            while self.replies:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + buffer[:length])
                buffer = buffer[length:]
                reply = self.replies.pop(0)
                if callable(reply):
                    reply(conn)
                    return
                data, close = reply
                conn.sendall(data)
                if close:
                    return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._listener.close()


Start = Callable[..., Scripted]


@pytest.fixture
def server() -> Iterator[Start]:
    started: list[Scripted] = []

    def start(*replies: Reply | Callable[[socket.socket], None]) -> Scripted:
        started.append(Scripted(list(replies)))
        return started[-1]

    yield start
    for s in started:
        s.close()


@pytest.fixture
def transport() -> Iterator[GeventTransport]:
    """The transport under test, its connections closed after the test, pass or fail."""
    made = GeventTransport()
    yield made
    made.close()


def ok(body: bytes = b'{"ok":true}', *, close: bool = False, extra: str = "") -> Reply:
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    return (head + extra + "\r\n").encode() + body, close


def get(
    url: str, method: str = "GET", body: bytes | None = None, timeout: float = 5.0
) -> HttpRequest:
    return HttpRequest(method, url, {"accept": "application/json"}, body, timeout)


def test_keep_alive_reuses_one_connection_and_writes_a_plain_request(
    server: Start, transport: GeventTransport
) -> None:
    s = server(ok(b"one"), ok(b"two"))
    first = transport.send(get(f"{s.url}/a?x=1"))
    second = transport.send(get(f"{s.url}/b", "POST", b'{"n":1}'))
    assert (first.status, first.body, second.body) == (200, b"one", b"two")
    assert first.headers["content-type"] == "application/json"
    assert s.connections == 1
    assert (
        s.requests[0]
        == (
            f"GET /a?x=1 HTTP/1.1\r\nhost: 127.0.0.1:{s.port}\r\naccept: application/json\r\n\r\n"
        ).encode()
    )
    assert s.requests[1].endswith(b'content-length: 7\r\n\r\n{"n":1}')


def test_chunked_body_with_extensions_and_trailers(
    server: Start, transport: GeventTransport
) -> None:
    body = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        b"5;name=x\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nx-trailer: 1\r\n\r\n"
    )
    s = server((body, False), ok(b"after"))
    assert transport.send(get(s.url)).body == b"hello world"
    assert transport.send(get(s.url)).body == b"after"
    assert s.connections == 1


def test_close_delimited_body_and_connection_close(
    server: Start, transport: GeventTransport
) -> None:
    s = server(
        (b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end", True),
        ok(b"next", close=True, extra="connection: close\r\n"),
        ok(b"third"),
    )
    assert transport.send(get(s.url)).body == b"until the end"
    assert transport.send(get(s.url)).body == b"next"
    assert transport.send(get(s.url)).body == b"third"
    assert s.connections == 3


def test_no_body_for_head_204_and_304_and_interim_answers_skipped(
    server: Start, transport: GeventTransport
) -> None:
    s = server(
        (b"HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n", False),
        (b"HTTP/1.1 204 No Content\r\n\r\n", False),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\netag: x\r\n\r\n", False),
        ok(b"still in step"),
    )
    head = transport.send(get(s.url, "HEAD"))
    assert (head.status, head.body, head.headers["content-length"]) == (200, b"", "500")
    assert transport.send(get(s.url)).status == 204
    assert transport.send(get(s.url)).status == 304
    assert transport.send(get(s.url)).body == b"still in step"
    assert s.connections == 1


def test_a_keep_alive_connection_the_server_dropped_is_reopened_once(
    server: Start, transport: GeventTransport
) -> None:
    s = server(ok(b"first", close=True), ok(b"second"))  # closes without saying so
    assert transport.send(get(s.url)).body == b"first"
    time.sleep(0.05)
    assert transport.send(get(s.url)).body == b"second"
    assert s.connections == 2


def test_a_new_connection_closed_without_an_answer_fails(
    server: Start, transport: GeventTransport
) -> None:
    s = server(lambda conn: None)
    with pytest.raises(ConnectionFailed, match="closed the connection without answering"):
        transport.send(get(s.url))


def test_an_answer_cut_short_fails(server: Start, transport: GeventTransport) -> None:
    s = server((b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this", True))
    with pytest.raises(ConnectionFailed, match="mid-body"):
        transport.send(get(s.url))


def test_the_deadline_covers_the_whole_exchange(server: Start, transport: GeventTransport) -> None:
    def drip(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n")
        for _ in range(50):  # each byte well within any per-read timeout
            time.sleep(0.02)
            try:
                conn.sendall(b"x")
            except OSError:
                return

    s = server(drip)
    started = time.monotonic()
    with pytest.raises(StepTimeout, match=r"GET / timed out after 0.3 s"):
        transport.send(get(s.url + "/", timeout=0.3))
    assert time.monotonic() - started < 0.8


def test_each_request_has_its_own_deadline(server: Start, transport: GeventTransport) -> None:
    """Ten answers of 50 ms on one connection with a 0.3 s timeout: each is well within it
    (a gevent timer reused across requests kept its first deadline and failed the sixth)."""

    def slow(conn: socket.socket) -> None:  # called with the first request already read
        for n in range(10):
            head = b"" if n else b"\r\n\r\n"
            while not head.endswith(b"\r\n\r\n"):
                head += conn.recv(1)
            time.sleep(0.05)
            conn.sendall(ok(b"late")[0])

    s = server(slow)
    bodies = [transport.send(get(s.url, timeout=0.3)).body for _ in range(10)]
    assert bodies == [b"late"] * 10
    assert s.connections == 1


def test_refused_connection_is_a_connection_failure(transport: GeventTransport) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionFailed, match="could not connect: Connection refused"):
        transport.send(get(f"http://127.0.0.1:{port}/"))


def test_not_http_is_a_connection_failure(server: Start, transport: GeventTransport) -> None:
    s = server((b"SSH-2.0-OpenSSH\r\n\r\n", True))
    with pytest.raises(ConnectionFailed, match=r"not an HTTP/1\.x answer"):
        transport.send(get(s.url))


def test_head_parsing_joins_repeated_headers_and_lowers_names() -> None:
    status, version, headers = parse_head(
        b"HTTP/1.1 201 Created\r\nSet-Cookie: a=1\r\nSET-COOKIE: b=2\r\nX-Empty:\r\nbad line\r\n"
        b"Vary: a\r\nvary: b"
    )
    assert (status, version) == (201, "HTTP/1.1")
    # Set-Cookie lines stay apart (an Expires holds a comma); the transport splits them
    assert headers == {"set-cookie": "a=1\nb=2", "x-empty": "", "vary": "a, b"}


def test_header_values_cannot_smuggle_lines() -> None:
    with pytest.raises(WireError, match="line break"):
        encode_request("GET", "/", "h", {"x-evil": "1\r\nhost: other"}, None)
    assert encode_request("PUT", "/p", "h", {}, None).endswith(b"content-length: 0\r\n\r\n")


def test_https_verifies_the_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transport: GeventTransport
) -> None:
    """TLS through gevent's ssl: a server whose certificate the client trusts answers; the same
    server is refused when its self-signed certificate is not trusted."""
    import http.server
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://localhost:{server.server_address[1]}/x"
    try:
        with pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED"):
            GeventTransport().send(get(url))
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        assert [transport.send(get(url)).body for _ in range(2)] == [b"ok", b"ok"]
        assert len(transport._connections) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_a_large_body_arrives_whole_by_length_and_by_chunks(
    server: Start, transport: GeventTransport
) -> None:
    """16 MB in many small reads (read into one growing bytearray, not bytes += bytes, which
    copied everything so far on every read: 3 s for this body instead of 0.05)."""
    body = bytes(range(256)) * (16 * 4096)
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(part), part)
        for part in (body[i : i + 1_000_000] for i in range(0, len(body), 1_000_000))
    )
    head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    s = server(ok(body), (head.encode() + chunked + b"0\r\n\r\n", False))
    for _ in range(2):
        answer = transport.send(get(f"{s.url}/big", timeout=60.0))
        assert answer.status == 200 and answer.body == body


def test_https_to_a_plain_http_server_says_the_tls_handshake_stalled(server: Start) -> None:
    """A plain HTTP server waits for a request head that a TLS ClientHello never completes: the
    error says the handshake is where it stood (it said only "timed out")."""
    from harness.http.transport import HttpSettings

    plain = server(ok())
    https = plain.url.replace("http://", "https://") + "/"
    first = GeventTransport()
    try:
        with pytest.raises(StepTimeout, match=r"after 0\.5 s during the TLS handshake"):
            first.send(get(https, timeout=0.5))
    finally:
        first.close()
    quick = GeventTransport(HttpSettings(connect_timeout=0.3))
    try:
        with pytest.raises(ConnectionFailed, match=r"no TLS handshake within 0.3 s"):
            quick.send(get(https, timeout=5.0))
    finally:
        quick.close()


def test_a_tls_server_that_goes_quiet_is_bounded_by_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the handshake, a TLS read waits on the gevent hub under the exchange's deadline.
    The standard library's context (what `gevent.ssl.create_default_context` returns in a
    process gevent has not patched) read in blocking C: with the socket's timeout cleared for
    the exchange, a quiet server held the request, and the whole process, for ever."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def quiet() -> None:
        conn, _ = listener.accept()
        with context.wrap_socket(conn, server_side=True):  # handshakes, then says nothing
            stop.wait(30)

    threading.Thread(target=quiet, daemon=True).start()
    url = f"https://localhost:{listener.getsockname()[1]}/"
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    made = GeventTransport()
    started = time.monotonic()
    try:
        with pytest.raises(StepTimeout, match=r"after 0.5 s$"):
            made.send(get(url, timeout=0.5))
    finally:
        took = time.monotonic() - started
        stop.set()
        made.close()
        listener.close()
    assert took < 3.0
