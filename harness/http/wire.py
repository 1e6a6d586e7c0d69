"""HTTP/1.1 over one keep-alive gevent socket: under the harness's one HTTP transport.

Why not geventhttpclient (the client under Locust's FastHttpSession), which the harness used
before: measured here against nginx with 20 greenlets on one core, a GET through its
`HTTPClient` costs ≈ 56 µs of CPU — a liveness `select` before every reuse of a pooled socket,
a Python callback per header from its C parser, a header object validated twice — where
writing the request with one `sendall` and parsing the head with `bytes` methods costs ≈ 18 µs.
Those 38 µs were a third of a one-request journey's whole cost at load.

What it does: `Content-Length` and `chunked` bodies (read in linear time), bodies read to the
close, no body for `HEAD`, 1xx, 204 and 304; `Connection: close` honoured; a reused connection
that the server has closed meanwhile (an idle keep-alive timeout) is reconnected once, when not
a byte of the answer had arrived; one deadline over the whole exchange; an HTTP forward proxy
(absolute-form requests, `CONNECT` for HTTPS); a `Host` header of the caller's replacing the
origin's. Decoding bodies, cookies and redirects are the layers above (`harness.http.network`,
`harness.touchpoints.http`); HTTP/2 is left out. Raises `WireTimeout` and `WireError`;
`harness.http.transport` turns them into step errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.http.headers import Headers

MAX_HEAD = 64 * 1024
RECV_SIZE = 65536
_NO_BODY_STATUS = frozenset({204, 304})


@dataclass(frozen=True)
class Proxy:
    """An HTTP forward proxy: plain-HTTP requests go to it in absolute form, HTTPS through a
    `CONNECT` tunnel; `authorization` is its `Proxy-Authorization` value, if any."""

    host: str
    port: int
    authorization: str | None = None


class WireError(Exception):
    """The connection failed or the server answered something that is not HTTP/1.x."""


class WireTimeout(WireError):
    """The exchange did not finish before its deadline; `during` says where it stood when the
    phase was not the exchange itself (`connecting`, `the TLS handshake`)."""

    def __init__(self, during: str | None = None) -> None:
        super().__init__(f"timed out during {during}" if during else "timed out")
        self.during = during


class ConnectFailed(WireError):
    """No connection could be opened (refused, unreachable, or not within the timeout)."""


class _Closed(WireError):
    """The server closed the connection before sending a byte of its answer."""


def encode_request(
    method: str, target: str, host: str, headers: Mapping[str, str], body: bytes | None
) -> bytes:
    """The request head and body as bytes (`host` and `content-length` added). A `Host` (or
    `host`) among `headers` replaces `host`: one Host line, never two."""
    if "host" in headers or "Host" in headers:
        host = headers.get("host") or headers.get("Host") or host
        headers = {k: v for k, v in headers.items() if k not in ("host", "Host")}
    lines = [f"{method} {target} HTTP/1.1\r\nhost: {host}\r\n"]
    for name, value in headers.items():
        if "\n" in value or "\r" in value:
            raise WireError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}\r\n")
    if body:
        lines.append(f"content-length: {len(body)}\r\n\r\n")
        return "".join(lines).encode("latin-1") + body
    if method in ("POST", "PUT", "PATCH"):
        lines.append("content-length: 0\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


def parse_head(head: bytes) -> tuple[int, str, Headers]:
    """(status, protocol version, headers with lower-case names, read in any case) of a
    response head without its blank line. Repeated headers are joined with `, `, but
    `Set-Cookie` lines with a line break (a cookie's `Expires` holds a comma): the transport
    splits them."""
    try:
        text = head.decode("latin-1")
        status_line, *lines = text.split("\r\n")
        version, status_text = status_line.split(" ", 2)[:2]
        if not version.startswith("HTTP/1."):
            raise ValueError(version)
        status = int(status_text)
    except ValueError:
        raise WireError(f"not an HTTP/1.x answer: {head[:60]!r}") from None
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        value = value.strip()
        if key in headers:  # rare: a repeated header
            value = f"{headers[key]}{_JOINED.get(key, ', ')}{value}"
        headers[key] = value
    return status, version, Headers(headers)


_JOINED = {"set-cookie": "\n"}


def tunnel_request(host: str, port: int, proxy: Proxy) -> tuple[bytes, str]:
    """The `CONNECT` request that asks `proxy` for a tunnel to host:port, and that authority."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = f"CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n"
    if proxy.authorization is not None:
        lines += f"proxy-authorization: {proxy.authorization}\r\n"
    return (lines + "\r\n").encode("latin-1"), authority


def default_port(scheme: str) -> int:
    """The port of a URL that names none."""
    return 443 if scheme == "https" else 80


class Connection:
    """One keep-alive connection to one origin, used by one greenlet at a time."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        *,
        connect_timeout: float = 5.0,
        tls: Any = None,
        proxy: Proxy | None = None,
    ) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.tls = tls  #: the client TLS context for https (default: `network.tls_context()`)
        self.proxy = proxy
        default = default_port(scheme)
        self.host_header = host if port == default else f"{host}:{port}"
        if ":" in host and not host.startswith("["):  # an IPv6 literal
            self.host_header = f"[{host}]" if port == default else f"[{host}]:{port}"
        self._sock: Any = None
        self._buffer = b""
        self._answered = False
        self._opening: str | None = None  #: what `_connect` is waiting for, if anything

    def request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request and read its whole answer: (status, headers, body), all within
        `timeout` seconds."""
        if self.proxy is not None and self.scheme == "http":  # absolute form, to the proxy
            target = f"http://{self.host_header}{target}"
            if self.proxy.authorization is not None:
                headers = {**headers, "proxy-authorization": self.proxy.authorization}
        payload = encode_request(method, target, self.host_header, headers, body)
        if self._buffer:  # bytes beyond the last answer: the stream cannot be trusted
            self.close()
        # One timer over the whole exchange: a gevent socket with a timeout of its own would
        # start a timer around every wait instead. A new one each time: a gevent `Timeout`
        # started again after `cancel()` keeps its first deadline (gevent 26.9).
        import gevent

        timer = gevent.Timeout(timeout)
        timer.start()
        try:
            reused = self._sock is not None
            try:
                return self._exchange(method, payload)
            except _Closed:
                if not reused:
                    raise WireError("the server closed the connection without answering") from None
            # The server closed a connection it had kept idle: once more, on a new one.
            self.close()
            try:
                return self._exchange(method, payload)
            except _Closed:
                raise WireError("the server closed the connection without answering") from None
        except BaseException as exc:
            if exc is timer:  # `_exchange` has closed the connection
                raise WireTimeout(self._opening) from None
            raise
        finally:
            timer.close()

    def _exchange(self, method: str, payload: bytes) -> tuple[int, dict[str, str], bytes]:
        self._answered = False
        self._opening = None
        try:
            sock = self._sock if self._sock is not None else self._connect()
            # `send` until all is written: gevent's `sendall` asks the kernel for the socket's
            # buffer size (a `getsockopt` call) on every call (8.7 µs of a request's CPU in a
            # py-spy profile at load here).
            sent = sock.send(payload)
            while sent < len(payload):
                sent += sock.send(memoryview(payload)[sent:])
            return self._read(method)
        except (BrokenPipeError, ConnectionResetError) as exc:
            self.close()
            if self._answered:
                raise WireError(exc.strerror or str(exc)) from None
            raise _Closed() from None
        except OSError as exc:
            self.close()
            raise WireError(exc.strerror or str(exc)) from None
        except BaseException:  # a `WireError`, the deadline, or the greenlet being killed
            self.close()
            raise

    def _connect(self) -> Any:
        import socket as stdlib_socket

        from gevent import socket

        self._opening = "connecting"
        where = (self.host, self.port) if self.proxy is None else (self.proxy.host, self.proxy.port)
        try:
            sock = socket.create_connection(where, timeout=self.connect_timeout)
        except TimeoutError:
            raise ConnectFailed(f"no connection within {self.connect_timeout:g} s") from None
        except OSError as exc:
            via = "" if self.proxy is None else f" (proxy {self.proxy.host}:{self.proxy.port})"
            raise ConnectFailed((exc.strerror or str(exc)) + via) from None
        sock.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY, 1)
        if self.proxy is not None and self.scheme == "https":
            self._opening = "the proxy's CONNECT"
            self._tunnel(sock, self.proxy)
        if self.scheme == "https":
            self._opening = "the TLS handshake"
            sock = self._handshake(sock)
        self._opening = None
        sock.settimeout(None)  # the exchange's timer bounds every wait
        self._sock = sock
        self._buffer = b""
        return sock

    def _handshake(self, sock: Any) -> Any:
        """`sock` wrapped in TLS, the handshake done; closed on any failure (the deadline's
        too), whoever holds it."""
        try:
            if self.tls is None:
                from harness.http.network import tls_context

                self.tls = tls_context()
            tls = self.tls.wrap_socket(
                sock, server_hostname=self.host, do_handshake_on_connect=False
            )
        except BaseException:
            sock.close()
            raise
        try:
            tls.do_handshake()
        except TimeoutError:
            tls.close()
            raise ConnectFailed(
                f"no TLS handshake within {self.connect_timeout:g} s (is it plain HTTP?)"
            ) from None
        except OSError as exc:
            tls.close()
            raise ConnectFailed(f"TLS handshake failed: {exc}") from None
        except BaseException:
            tls.close()
            raise
        return tls

    def _tunnel(self, sock: Any, proxy: Proxy) -> None:
        """Ask the proxy for a tunnel to this origin (`CONNECT host:port`); closes `sock` when
        it refuses."""
        request, authority = tunnel_request(self.host, self.port, proxy)
        try:
            sock.sendall(request)
            head = b""
            while (end := head.find(b"\r\n\r\n")) < 0:
                chunk = sock.recv(RECV_SIZE)
                if not chunk or len(head) > MAX_HEAD:
                    raise ConnectFailed(f"the proxy {proxy.host}:{proxy.port} closed the CONNECT")
                head += chunk
            status = parse_head(head[:end])[0]
            if not 200 <= status < 300:
                raise ConnectFailed(
                    f"the proxy {proxy.host}:{proxy.port} answered {status} to CONNECT {authority}"
                )
        except OSError as exc:
            sock.close()
            raise ConnectFailed(f"proxy CONNECT failed: {exc.strerror or exc}") from None
        except BaseException:
            sock.close()
            raise

    def _recv(self) -> bytes:
        chunk: bytes = self._sock.recv(RECV_SIZE)
        if chunk:
            self._answered = True
        return chunk

    def _read(self, method: str) -> tuple[int, dict[str, str], bytes]:
        buffer = self._buffer
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                status, version, headers = parse_head(buffer[:end])
                buffer = buffer[end + 4 :]
                if 100 <= status < 200:  # an interim answer: the real one follows
                    continue
                break
            if len(buffer) > MAX_HEAD:
                raise WireError(f"response head larger than {MAX_HEAD} bytes")
            chunk = self._recv()
            if not chunk:
                if self._answered:
                    raise WireError("the server closed the connection mid-answer")
                raise _Closed()
            buffer += chunk
        closing = headers.get("connection", "").lower() == "close" or (
            version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive"
        )
        if method == "HEAD" or status in _NO_BODY_STATUS:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body, buffer = self._read_chunked(buffer)
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise WireError(f"bad content-length {headers['content-length']!r}") from None
            buffer = self._fill(buffer, length)
            body, buffer = buffer[:length], buffer[length:]
        else:  # the body runs to the end of the connection
            parts = [buffer]
            while chunk := self._recv():
                parts.append(chunk)
            body, buffer, closing = b"".join(parts), b"", True
        self._buffer = buffer
        if closing:
            self.close()
        return status, headers, body

    def _read_chunked(self, buffer: bytes) -> tuple[bytes, bytes]:
        parts: list[bytes] = []
        while True:
            while (line_end := buffer.find(b"\r\n")) < 0:
                buffer += self._more()
            size_text = buffer[:line_end].split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise WireError(f"bad chunk size {size_text[:20]!r}") from None
            buffer = buffer[line_end + 2 :]
            if size == 0:
                # trailers, if any, end with a blank line
                while (trailer_end := buffer.find(b"\r\n")) != 0:
                    if trailer_end > 0:
                        buffer = buffer[trailer_end + 2 :]
                        continue
                    buffer += self._more()
                return b"".join(parts), buffer[2:]
            buffer = self._fill(buffer, size + 2)
            parts.append(buffer[:size])
            buffer = buffer[size + 2 :]

    def _fill(self, buffer: bytes, length: int) -> bytes:
        """`buffer` read on until it holds `length` bytes, in a bytearray: appending to bytes
        copies the whole so far each time, which read a 16 MB body in 3 s instead of 0.05."""
        if len(buffer) >= length:
            return buffer
        pending = bytearray(buffer)
        while len(pending) < length:
            pending += self._more()
        return bytes(pending)

    def _more(self) -> bytes:
        chunk = self._recv()
        if not chunk:
            raise WireError("the server closed the connection mid-body")
        return chunk

    def close(self) -> None:
        """Close the socket; the next request opens a new one."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._buffer = b""
