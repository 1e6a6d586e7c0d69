"""What the drill proxy sends by itself instead of the upstream's answer: an injected error
status, a 502 when the upstream gives no answer it can relay (as nginx answers), a TCP reset."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

__all__ = ["answer_fault", "bad_gateway", "reset"]

_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
}


async def bad_gateway(writer: asyncio.StreamWriter, why: str) -> None:
    """Answer 502, as nginx does when its upstream cannot be reached or its answer has no head
    it can relay, saying why; the connection closes."""
    body = f"502 Bad Gateway: {why} (harness drill proxy)\n".encode("latin-1", "replace")
    head = (
        f"HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()


async def answer_fault(writer: asyncio.StreamWriter, status: int, keep_alive: bool) -> None:
    """Answer `status` for a fault (`errors:`, `funnel:`, an invalid request), marked injected."""
    body = b'{"error": "injected by the harness drill proxy"}'
    reason = _REASONS.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nx-harness-fault: injected\r\n"
        f"connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()


def reset(writer: asyncio.StreamWriter) -> None:
    """Close the client's connection with a TCP reset (SO_LINGER 0), answering nothing."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
