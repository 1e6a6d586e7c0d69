"""The drill proxy: an HTTP/1.1 reverse proxy on asyncio streams that injects faults.

Each client connection gets its own upstream connection, opened on its first request and kept
alive as long as both sides keep theirs, so requests keep their order and no pool is needed.
Bodies are relayed as they arrive (Content-Length, chunked, or until close), never buffered
whole, a response's head before its body; a request body with `Expect: 100-continue` alongside
the answer; after `101 Switching Protocols`, bytes both ways. Headers are forwarded as received,
except `traceparent`/`tracestate` when a fault drops them. One proxy serves one upstream
origin; the touchpoint of a request (for faults scoped to `api`, `web` or `mobile`) is found
from its path prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import socket
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from harness.faults.answers import answer_fault, bad_gateway, reset
from harness.faults.spec import Fault, FaultKind
from harness.faults.upstream import Unreachable, UpstreamRoute
from harness.faults.wire import (
    HEAD_LIMIT,
    BadGateway,
    BrokenBody,
    HeadTooLarge,
    Malformed,
    NoAnswer,
    NotHttp,
    RequestHead,
    buffered,
    discard_body,
    read_request_head,
    read_response_head,
    relay_body,
    relay_raw,
    splice,
)
from harness.http.transport import HttpSettings
from harness.records import Touchpoint
from harness.shop_routes import API_PREFIX, MOBILE_PREFIX

__all__ = ["DEFAULT_TOUCHPOINTS", "FaultProxy", "RequestHead"]

#: Path prefix → touchpoint, longest first; the bundled shop's layout (`Target.from_base_url`).
DEFAULT_TOUCHPOINTS: dict[str, str] = {
    API_PREFIX: Touchpoint.API,
    MOBILE_PREFIX: Touchpoint.MOBILE,
    "/": Touchpoint.WEB,
}
_IDENTITY_HEADERS = (b"authorization", b"cookie", b"x-device-id")
_DROPPED = (b"traceparent", b"tracestate")


@dataclass
class _Plan:
    """What the faults decided for one request."""

    reset: bool = False
    status: int | None = None
    delay_s: float = 0.0
    delay_ratio: float = 0.0
    bandwidth: float = 0.0
    drop_trace: bool = False
    applied: list[str] = field(default_factory=list)


@dataclass
class _Link:
    """A client connection's upstream connection (None until its first request) and route."""

    route: UpstreamRoute
    pair: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None


class FaultProxy:
    """Forward to `upstream` (an http(s) URL's origin), injecting `faults` inside their windows.

    `touchpoints` maps path prefixes to touchpoints; `seed` fixes the dice; `counts` tallies
    requests (`requests`) and each fault spec that was applied. `settings` are how the upstream
    is reached (the target's: proxy, CA, `verify`, client certificate; default the
    environment's), as the harness's HTTP stack reaches it.
    """

    def __init__(
        self,
        upstream: str,
        faults: Sequence[Fault] = (),
        *,
        touchpoints: Mapping[str, str] | None = None,
        seed: int | None = None,
        preserve_host: bool = False,
        settings: HttpSettings | None = None,
        touchpoint_settings: Mapping[str, HttpSettings] | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the drill proxy forwards to http(s):// origins, not {upstream!r}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        self.route = UpstreamRoute(parts.hostname, port, tls, settings or HttpSettings())
        #: a touchpoint's own route, where its settings differ from the target's
        self.routes = {
            touchpoint: UpstreamRoute(parts.hostname, port, tls, given)
            for touchpoint, given in (touchpoint_settings or {}).items()
            if given != self.route.settings
        }
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        #: the `Host` line the upstream gets (name-based ingress routes on it), unless the
        #: client's is kept (`preserve_host`)
        authority = host.encode("idna") + (f":{parts.port}".encode() if parts.port else b"")
        self.host_line = b"Host: " + authority
        #: what precedes a request's path on the request line for a forward proxy
        self.origin = b"http://" + authority
        self.preserve_host = preserve_host
        self.faults = tuple(faults)
        prefixes = touchpoints or DEFAULT_TOUCHPOINTS
        self.touchpoints = sorted(prefixes.items(), key=lambda kv: -len(kv[0]))
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
        self.started_epoch = time.time()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on `host:port` (0: a free port) and return the port; the fault clock starts."""
        self._server = await asyncio.start_server(
            self._serve, host, port, limit=HEAD_LIMIT, reuse_address=True
        )
        self.started = time.monotonic()
        self.started_epoch = time.time()
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and drop every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def touchpoint(self, path: str) -> str:
        """The touchpoint a path belongs to."""
        for prefix, touchpoint in self.touchpoints:
            if path.startswith(prefix):
                return touchpoint
        return Touchpoint.WEB

    def plan(self, head: RequestHead, now: float | None = None) -> _Plan:
        """Roll the dice of every active fault that matches this request."""
        plan = _Plan()
        if not self.faults:
            return plan
        elapsed = (time.monotonic() if now is None else now) - self.started
        path, touchpoint = head.path, self.touchpoint(head.path)
        for fault in self.faults:
            if not fault.active(elapsed) or not fault.matches(head.method, path, touchpoint):
                continue
            if fault.kind is FaultKind.FUNNEL:
                hit = _bucket(fault.scope, head) < fault.share
            else:
                hit = fault.share >= 1.0 or self.rng.random() < fault.share
            if not hit:
                continue
            plan.applied.append(fault.spec)
            if fault.kind is FaultKind.RESET:
                plan.reset = True
            elif fault.kind in (FaultKind.ERRORS, FaultKind.FUNNEL):
                plan.status = plan.status or fault.status
            elif fault.kind is FaultKind.LATENCY:
                plan.delay_s += fault.delay_s
                plan.delay_ratio += fault.delay_ratio
            elif fault.kind is FaultKind.JITTER:
                plan.delay_s += self.rng.uniform(0.0, fault.jitter_s)
            elif fault.kind is FaultKind.BANDWIDTH:
                plan.bandwidth = fault.bandwidth
            else:
                plan.drop_trace = True
        return plan

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(self.route)
        try:
            while True:
                head = await read_request_head(reader)
                if head is None:
                    break
                self.counts["requests"] += 1
                plan = self.plan(head)
                for spec in plan.applied:
                    self.counts[spec] += 1
                if plan.reset:
                    reset(writer)
                    return
                if plan.status is not None:
                    await discard_body(reader, head)
                    await asyncio.sleep(plan.delay_s)
                    await answer_fault(writer, plan.status, head.keep_alive())
                    if not head.keep_alive():
                        break
                    continue
                if not await self._forward(head, plan, reader, writer, link):
                    break
        except BadGateway as exc:  # no head relayed yet: nginx answers 502
            self.counts["bad gateway"] += 1
            with contextlib.suppress(ConnectionError):
                await bad_gateway(writer, str(exc))
        except BrokenBody:
            # the head went out: the answer is cut short here, as behind nginx
            self.counts["bad gateway"] += 1
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except Malformed as exc:
            with contextlib.suppress(ConnectionError):
                await answer_fault(writer, 431 if isinstance(exc, HeadTooLarge) else 400, False)
        finally:
            if link.pair is not None:
                link.pair[1].close()
            writer.close()
            self._connections.discard(task)

    async def _forward(
        self,
        head: RequestHead,
        plan: _Plan,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        link: _Link,
    ) -> bool:
        """Forward one request on the client's upstream connection (opened first when it has
        none, or none to the touchpoint's route); True when both connections stay open."""
        wanted = self.route_for(head.path) if self.routes else link.route
        fresh = link.pair is None or link.pair[0].at_eof() or wanted is not link.route
        if fresh:
            if link.pair is not None:
                link.pair[1].close()
            link.route = wanted
            link.pair = await self._connect(wanted)
            if link.pair is None:
                await discard_body(reader, head)
                raise BadGateway(f"cannot reach {wanted.describe()}")
        assert link.pair is not None
        try:
            return await self._exchange(head, plan, link.route, reader, writer, *link.pair)
        except NoAnswer:
            if fresh:
                raise
            # A kept-alive upstream connection closed as it was reused (idle timeout): so does
            # the client's, reused as well, and the client asks again on a new one.
            return False

    def route_for(self, path: str) -> UpstreamRoute:
        """The route of the touchpoint a path belongs to."""
        return self.routes.get(self.touchpoint(path), self.route)

    async def _connect(
        self, route: UpstreamRoute
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            return await route.open()
        except Unreachable as exc:
            self.counts["upstream unreachable"] += 1
            if self.counts["upstream unreachable"] == 1:  # the proxy's log says why, once
                print(f"cannot reach {route.describe()}: {exc}", file=sys.stderr, flush=True)
            return None

    async def _exchange(
        self,
        head: RequestHead,
        plan: _Plan,
        route: UpstreamRoute,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> bool:
        """Forward one request and relay its response; True when both connections stay open."""
        lines = head.lines
        if plan.drop_trace:
            lines = [ln for ln in lines if ln.split(b":", 1)[0].strip().lower() not in _DROPPED]
        if not self.preserve_host:
            lines = [self.host_line if ln[:5].lower() == b"host:" else ln for ln in lines]
        request_line = f"{head.method} ".encode()
        if route.absolute_form:
            request_line += self.origin
            lines = [*lines, *route.proxy_lines()]
        request_line += head.target.encode("latin-1") + b" " + head.version
        up_writer.write(b"\r\n".join([request_line, *lines]) + b"\r\n\r\n")
        sent = time.monotonic()
        # A client that sent `Expect: 100-continue` waits for the upstream's 100 before it
        # sends the body: relay the body alongside reading the answer, not before it.
        sending: asyncio.Task[bool] | None = None
        if head.framing.has_body:
            body = relay_body(reader, up_writer, head.framing, request=True)
            if head.expects_continue():
                sending = asyncio.ensure_future(body)
            else:
                await body
        try:
            keep = await self._respond(head, plan, sent, reader, writer, up_reader, up_writer)
        except BaseException:
            if sending is not None:
                sending.cancel()
            raise
        if sending is not None:
            # Answered before the whole body came (a 401 to an upload): the client sends the
            # rest or closes, as it would direct; closing first would reset the answer away.
            await sending
        return keep

    async def _respond(
        self,
        head: RequestHead,
        plan: _Plan,
        sent: float,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> bool:
        """Relay the upstream's answer; True when both connections stay open."""
        try:
            if up_writer.transport.get_write_buffer_size():
                await up_writer.drain()
            while True:
                answer = await read_response_head(up_reader)
                status, raw = answer.status, answer.raw
                if not 100 <= status < 200 or status == 101:
                    break
                writer.write(raw)  # 100 Continue and friends: relay, then read the real answer
        except ConnectionError:
            raise NoAnswer("the upstream reset the connection") from None
        except NotHttp as exc:
            # No status line (HTTP/0.9, or garbage): nginx relays the bytes as they come, to
            # the upstream's close, and so does the proxy.
            await relay_raw(exc.prefix, up_reader, writer)
            return False
        delay = plan.delay_s + plan.delay_ratio * (time.monotonic() - sent)
        if delay > 0:
            await asyncio.sleep(delay)
        response = answer.framing
        if (
            response.length is not None
            and not plan.bandwidth
            and head.method != "HEAD"
            and status not in (204, 304)
            and 0 < response.length <= buffered(up_reader)
        ):
            # The common case, a small body that came with its head: one write for both.
            writer.write(raw + await up_reader.readexactly(response.length))
            if writer.transport.get_write_buffer_size():
                await writer.drain()
            return head.keep_alive() and b"close" not in response.connection
        # Else the head goes out as it came, before the body: a body that trickles in (a drip,
        # a long poll) must not hold it back, nor a truncated one turn into no answer at all.
        writer.write(raw)
        if status == 101:  # Switching Protocols (WebSocket): bytes both ways until both end
            await splice(reader, writer, up_reader, up_writer)
            return False
        until_close = False
        if head.method != "HEAD" and status not in (204, 304):
            try:
                until_close = await relay_body(
                    up_reader, writer, response, request=False, bandwidth=plan.bandwidth
                )
            except Malformed as exc:
                raise BrokenBody(str(exc)) from None
        if writer.transport.get_write_buffer_size():
            await writer.drain()
        return head.keep_alive() and b"close" not in response.connection and not until_close


def _bucket(step: str, head: RequestHead) -> float:
    """A stable number in [0, 1) per user (first of Authorization, Cookie, X-Device-Id) and
    funnel step, so a blocked user stays blocked; per request when none is sent."""
    for name in _IDENTITY_HEADERS:
        value = head.header(name)
        if value:
            digest = hashlib.blake2b(step.encode() + b"\0" + value, digest_size=8).digest()
            return int.from_bytes(digest, "big") / 2**64
    return random.random()
