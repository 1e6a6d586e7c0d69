"""HTTP/1.1 message framing for the drill proxy: request and response heads, and bodies relayed
as they arrive (Content-Length, chunked, or until close), optionally paced, never buffered whole.

A response is read as nginx (Debian's 1.22, as a reverse proxy) reads its upstream's: an answer
without an HTTP status line is relayed as it comes until the upstream closes (nginx's HTTP/0.9
fallback); a head that ends early, is too large or holds an invalid header line is `BadGateway`
(nginx answers 502); a Content-Length that is not a number is left out (the body runs to the
close); a chunk size that is not one ends the relay (nginx closes the connection).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Protocol

HEAD_LIMIT = 64 * 1024
CHUNK = 64 * 1024


class Sink(Protocol):
    """Where a body goes: a stream writer, or nowhere."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...


class Malformed(Exception):
    """A request or response the proxy cannot frame."""


class HeadTooLarge(Malformed):
    """A request head longer than `HEAD_LIMIT` (the client is answered 431, as an app says)."""


class BadGateway(Exception):
    """The upstream's answer has no head the proxy can relay: it closed before the head ended,
    sent one over `HEAD_LIMIT` or an invalid header line (the client is answered 502, as nginx
    answers); says why."""


class NoAnswer(BadGateway):
    """The upstream closed (or reset) the connection before a byte of its answer."""


class BrokenBody(Exception):
    """The upstream's body broke its framing (a chunk size that is none) after its head was
    relayed: the client's connection is closed, its answer cut short."""


class NotHttp(Exception):
    """The upstream answered without an HTTP status line; `prefix` is what it sent so far
    (relayed as it is, and the rest until the upstream closes, as nginx relays HTTP/0.9)."""

    def __init__(self, prefix: bytes) -> None:
        super().__init__(f"no HTTP status line: {prefix[:40]!r}")
        self.prefix = prefix


#: what nginx takes for a status line: `HTTP/major.minor`, spaces, 3 digits, then a space, a dot
#: (IIS: `403.1`) or the end of the line, whatever the reason phrase holds
_STATUS_LINE = re.compile(rb"HTTP/(\d{1,3})\.(\d{1,3}) +(\d{3})(?:[ .][^\n]*)?\n\Z")
#: the start of one, for an answer that stopped before its first line ended
_STATUS_START = re.compile(rb"HTTP/\d+(?:\.(?:\d+(?: +(?:\d{0,3}(?:[ .].*)?)?)?)?)?\Z", re.S)
#: a byte nginx refuses in a header name from an upstream (502): a space or a control
_BAD_NAME = re.compile(rb"[\x00-\x20\x7f]")
#: a chunk-size line as nginx takes it: hex digits, optional spaces, extensions, CRLF or LF
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r?\n\Z")
_MAX_CHUNK = 2**63 - 1


@dataclass(frozen=True)
class Framing:
    """How a message's body is delimited, and its Connection header (lower case)."""

    chunked: bool = False
    length: int | None = None
    connection: bytes = b""

    @property
    def has_body(self) -> bool:
        """Whether a request with this framing carries a body."""
        return self.chunked or bool(self.length)


def framing(lines: list[bytes]) -> Framing:
    """Read Content-Length, Transfer-Encoding and Connection from header lines in one pass."""
    chunked, length, connection = False, None, b""
    for line in lines:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            digits = value.strip()
            if not digits.isdigit():  # int() would take "+2", " 2", "2_0"
                raise Malformed(f"bad Content-Length {value[:40]!r}")
            length = int(digits)
        elif key == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif key == b"connection":
            connection = value.strip().lower()
    return Framing(chunked, length, connection)


@dataclass
class RequestHead:
    """A parsed request head: the request line, the raw header lines and the body's framing."""

    method: str
    target: str
    version: bytes
    lines: list[bytes]
    framing: Framing = field(default_factory=Framing)

    @property
    def path(self) -> str:
        """The path without query string."""
        return self.target.split("?", 1)[0]

    def header(self, name: bytes) -> bytes | None:
        """The first value of header `name` (lower case), or None."""
        prefix = name + b":"
        for line in self.lines:
            if line[: len(prefix)].lower() == prefix:
                return line[len(prefix) :].strip()
        return None

    def expects_continue(self) -> bool:
        """Whether the client waits for `100 Continue` before it sends the body."""
        value = self.header(b"expect")
        return value is not None and value.lower() == b"100-continue"

    def keep_alive(self) -> bool:
        """Whether the client wants the connection kept after this exchange."""
        connection = self.framing.connection
        if self.version == b"HTTP/1.0":
            return b"keep-alive" in connection
        return b"close" not in connection


async def read_request_head(reader: asyncio.StreamReader) -> RequestHead | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise Malformed("truncated request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise HeadTooLarge(f"a request head over {HEAD_LIMIT} bytes") from None
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise Malformed(f"bad request line {lines[0][:80]!r}")
    headers = lines[1:]
    return RequestHead(
        parts[0].decode("latin-1"), parts[1].decode("latin-1"), parts[2], headers, framing(headers)
    )


@dataclass
class ResponseHead:
    """A response head as it is relayed: its status, its bytes (as received, or rewritten when
    nginx would have changed them) and its body's framing."""

    status: int
    raw: bytes
    framing: Framing


async def read_response_head(reader: asyncio.StreamReader) -> ResponseHead:
    """The next response head from the upstream; raises `NotHttp` (relay it raw), `NoAnswer`
    or `BadGateway` (answer 502)."""
    try:
        first = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise NoAnswer("the upstream closed the connection without answering") from None
        partial = exc.partial
        if b"HTTP/".startswith(partial[:5]) and (len(partial) <= 5 or _STATUS_START.match(partial)):
            raise BadGateway("the upstream closed the connection in its status line") from None
        raise NotHttp(exc.partial) from None
    except asyncio.LimitOverrunError:
        raise BadGateway(f"the upstream's status line is over {HEAD_LIMIT} bytes") from None
    found = _STATUS_LINE.match(first)
    if found is None:
        raise NotHttp(first)
    try:
        ahead = _peek(reader, 2)
        if first[-2:] == b"\r\n" and len(ahead) == 2 and ahead != b"\r\n" and ahead[0] != 10:
            block = await reader.readuntil(b"\r\n\r\n")  # the common head: one read
            if b"\n\n" in block or b"\n\r\n" in block[:-3]:
                raise BadGateway("the upstream's head mixes line ends")
        else:
            block = b""
            while True:  # lines that end in a bare LF, or no header at all: line by line
                line = await reader.readuntil(b"\n")
                block += line
                if line in (b"\r\n", b"\n"):
                    break
                if len(block) > HEAD_LIMIT:
                    raise asyncio.LimitOverrunError("head", HEAD_LIMIT)
    except (asyncio.IncompleteReadError, ConnectionError):
        raise BadGateway("the upstream closed the connection in its head") from None
    except asyncio.LimitOverrunError:
        raise BadGateway(f"the upstream's head is over {HEAD_LIMIT} bytes") from None
    return _response_head(int(found[3]), first, block)


def _peek(reader: asyncio.StreamReader, n: int) -> bytes:
    """Up to `n` bytes `reader` holds, not consumed (b"" when it holds none)."""
    held = getattr(reader, "_buffer", None)  # no public peek on asyncio streams
    return bytes(held[:n]) if isinstance(held, bytearray) else b""


def _response_head(status: int, first: bytes, block: bytes) -> ResponseHead:
    """Check the header lines of `block` as nginx does and decide the body's framing; the head
    is rewritten only where nginx's would differ in meaning (line ends, lengths)."""
    crlf = block.count(b"\r\n")
    if block.count(b"\r") != crlf or b"\x00" in block:  # a bare CR or a NUL anywhere
        line = next(ln for ln in block.split(b"\n") if b"\x00" in ln or b"\r" in ln[:-1])
        raise BadGateway(f"the upstream sent an invalid header line {line[:60]!r}")
    rewrite = first[-2:] != b"\r\n" or block.count(b"\n") != crlf  # bare LF line ends
    if rewrite:
        lines = block.replace(b"\r", b"").split(b"\n")[:-2]
    else:
        lines = block[:-4].split(b"\r\n") if len(block) > 2 else []
    chunked, lengths, connection, skipped = False, [], b"", []
    for index, line in enumerate(lines):
        name, colon, value = line.partition(b":")
        if not name.replace(b"-", b"").isalnum():  # most names are letters, digits and dashes
            if line[:5] == b"HTTP/":  # IIS repeats its status line: nginx skips it
                skipped.append(index)
                continue
            if not name or _BAD_NAME.search(name):  # empty, folded, a space, a control
                raise BadGateway(f"the upstream sent an invalid header line {line[:60]!r}")
        if not colon:  # nginx takes a name alone as a header with an empty value
            lines[index] = line + b": "
            rewrite = True
        key = name.lower()
        if key == b"content-length":
            lengths.append(index)
        elif key == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif key == b"connection":
            connection = value.strip().lower()
    length, dropped = _content_length(lines, lengths, chunked)
    skipped += dropped
    if skipped:
        lines = [ln for i, ln in enumerate(lines) if i not in skipped]
    if rewrite or skipped:
        status_line = first.rstrip(b"\r\n") + b"\r\n"
        raw = status_line + b"".join(ln + b"\r\n" for ln in lines) + b"\r\n"
    else:
        raw = first + block
    return ResponseHead(status, raw, Framing(chunked, length, connection))


def _content_length(
    lines: list[bytes], lengths: list[int], chunked: bool
) -> tuple[int | None, list[int]]:
    """The body's length from the Content-Length lines at `lengths`, and which of them to
    leave out: nginx keeps the last one, none beside chunked or when it is not a number."""
    if not lengths:
        return None, []
    last = lines[lengths[-1]].partition(b":")[2].strip()
    valid = last.isdigit() and not chunked
    keep = lengths[-1] if valid else -1
    return (int(last) if valid else None), [i for i in lengths if i != keep]


async def relay_body(
    source: asyncio.StreamReader,
    sink: Sink,
    frame: Framing,
    *,
    request: bool,
    bandwidth: float = 0.0,
) -> bool:
    """Copy one message body as it arrives; True when it was delimited by the connection's
    close (a response without length or chunking)."""
    pace = _Pace(bandwidth)
    if frame.chunked:
        while True:
            size_line = await source.readuntil(b"\n")
            found = _CHUNK_SIZE.match(size_line)
            size = int(found[1], 16) if found else -1
            if not 0 <= size <= _MAX_CHUNK:  # checked before a byte of it is passed on
                raise Malformed(f"bad chunk size {size_line[:40]!r}")
            sink.write(size_line if size_line[-2:] == b"\r\n" else size_line[:-1] + b"\r\n")
            if size == 0:
                while True:  # trailers, up to the empty line
                    trailer = await source.readuntil(b"\n")
                    sink.write(trailer if trailer[-2:] == b"\r\n" else trailer[:-1] + b"\r\n")
                    if trailer in (b"\r\n", b"\n"):
                        return False
            await _copy(source, sink, size, pace)
            end = await source.readuntil(b"\n")
            if end not in (b"\r\n", b"\n"):
                raise Malformed(f"chunk data not followed by a line end: {end[:40]!r}")
            sink.write(b"\r\n")
    if frame.length is not None:
        await _copy(source, sink, frame.length, pace)
        return False
    if request:
        return False
    while True:
        chunk = await source.read(CHUNK)
        if not chunk:
            return True
        await pace.write(sink, chunk)


async def relay_raw(prefix: bytes, source: asyncio.StreamReader, sink: Sink) -> None:
    """Relay `prefix`, then every byte from `source` until it closes (an HTTP/0.9 answer)."""
    sink.write(prefix)
    while chunk := await source.read(CHUNK):
        sink.write(chunk)
        await sink.drain()


async def _copy(source: asyncio.StreamReader, sink: Sink, length: int, pace: _Pace) -> None:
    remaining = length
    while remaining > 0:
        chunk = await source.read(min(remaining, CHUNK))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", remaining)
        remaining -= len(chunk)
        await pace.write(sink, chunk)


class _Pace:
    """Writes at most `rate` bytes per second (0: as fast as the sink takes them)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    async def write(self, sink: Sink, data: bytes) -> None:
        """Write `data`, in timed slices when a rate is set; waits while the sink is full."""
        if self.rate <= 0.0:
            sink.write(data)
            await sink.drain()  # returns at once unless the peer is slower than the source
            return
        piece = max(1, int(self.rate / 20))  # twenty slices a second
        for start in range(0, len(data), piece):
            part = data[start : start + piece]
            sink.write(part)
            await sink.drain()
            await asyncio.sleep(len(part) / self.rate)


def buffered(reader: asyncio.StreamReader) -> int:
    """How many bytes `reader` holds that were received and not yet read (0 when unknown)."""
    held = getattr(reader, "_buffer", None)  # no public peek on asyncio streams
    return len(held) if isinstance(held, bytearray) else 0


async def splice(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways between client and upstream (after `101 Switching Protocols`),
    each way as it arrives, until both ways have ended; an end on one side is passed on as a
    half-close to the other."""

    async def one_way(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while chunk := await source.read(CHUNK):
            sink.write(chunk)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()

    ways = [
        asyncio.ensure_future(one_way(reader, up_writer)),
        asyncio.ensure_future(one_way(up_reader, writer)),
    ]
    try:  # both ways to their ends, or the first failure (a reset) ends both
        await asyncio.wait(ways, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for way in ways:
            way.cancel()
        await asyncio.gather(*ways, return_exceptions=True)


class _Discard:
    """A sink that drops what it is given (the body of a request answered by a fault)."""

    def write(self, data: bytes) -> None:
        """Drop `data`."""

    async def drain(self) -> None:
        """Nothing to wait for."""


async def discard_body(reader: asyncio.StreamReader, head: RequestHead) -> None:
    if head.framing.has_body:
        await relay_body(reader, _Discard(), head.framing, request=True)
