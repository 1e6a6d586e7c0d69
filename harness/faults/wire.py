"""HTTP/1.1 message framing for the drill proxy: request and response heads, and bodies relayed
as they arrive (Content-Length, chunked, or until close), optionally paced, never buffered whole.
"""

from __future__ import annotations

import asyncio
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
            try:
                length = int(value)
            except ValueError:
                raise Malformed(f"bad Content-Length {value[:40]!r}") from None
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


def parse_response_head(raw: bytes) -> tuple[int, list[bytes]]:
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise Malformed(f"bad status line {lines[0][:80]!r}")
    return int(parts[1]), lines[1:]


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
            size_line = await source.readuntil(b"\r\n")
            sink.write(size_line)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise Malformed(f"bad chunk size {size_line[:40]!r}") from None
            if size == 0:
                while True:  # trailers, up to the empty line
                    trailer = await source.readuntil(b"\r\n")
                    sink.write(trailer)
                    if trailer == b"\r\n":
                        return False
            await _copy(source, sink, size + 2, pace)
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
