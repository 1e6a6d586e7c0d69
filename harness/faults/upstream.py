"""How the drill proxy reaches its upstream: with the harness's one HTTP stack's settings
(`harness.http`), as the journeys reach the target without the proxy. The target's
`[targets.NAME.http]` (or, without it, the environment) decides the forward proxy (`HTTP_PROXY`,
`HTTPS_PROXY`, `NO_PROXY`; absolute-form requests for http, `CONNECT` for https), the CA bundle,
`verify` and the client certificate (mutual TLS); the TLS context is the stack's own
(`harness.http.network.stdlib_tls_context`), of the standard library's class since the proxy
runs on asyncio. Headers are the journeys': the proxy forwards those it is sent."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from dataclasses import dataclass, field

from harness.http.network import environment_proxies, proxy_for, stdlib_tls_context
from harness.http.transport import HttpSettings
from harness.http.wire import MAX_HEAD, Proxy, parse_head, tunnel_request

__all__ = ["Unreachable", "UpstreamRoute"]

Pair = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Unreachable(Exception):
    """The upstream (or the forward proxy before it) could not be reached; says why."""


@dataclass
class UpstreamRoute:
    """The way to one upstream origin under `settings`: direct or through a forward proxy,
    in TLS or not."""

    host: str
    port: int
    tls: bool
    settings: HttpSettings = field(default_factory=HttpSettings)
    proxy: Proxy | None = None
    _context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        proxies = self.settings.proxies
        if proxies is None:
            proxies = environment_proxies()
        self.proxy = proxy_for("https" if self.tls else "http", self.host, self.port, proxies)

    @property
    def absolute_form(self) -> bool:
        """Whether requests go to a forward proxy in absolute form (`GET http://host/path`)."""
        return self.proxy is not None and not self.tls

    def proxy_lines(self) -> list[bytes]:
        """Header lines the forward proxy needs on each request (its credentials)."""
        if self.absolute_form and self.proxy is not None and self.proxy.authorization:
            return [b"Proxy-Authorization: " + self.proxy.authorization.encode("latin-1")]
        return []

    def context(self) -> ssl.SSLContext:
        """The TLS context toward the upstream, made once (reading the CA files once)."""
        if self._context is None:
            settings = self.settings
            self._context = stdlib_tls_context(settings.verify, settings.client_cert)
        return self._context

    async def open(self) -> Pair:
        """A connection to the upstream, ready for a request; raises `Unreachable`."""
        try:
            return await asyncio.wait_for(self._open(), self.settings.connect_timeout)
        except TimeoutError:
            raise Unreachable(f"no connection within {self.settings.connect_timeout:g} s") from None
        except (OSError, ssl.SSLError, ValueError) as exc:  # ValueError: a CA file
            raise Unreachable(str(exc)) from None

    async def _open(self) -> Pair:
        tls = self.context() if self.tls else None
        if self.proxy is None:
            pair = await asyncio.open_connection(
                self.host, self.port, limit=MAX_HEAD, ssl=tls, server_hostname=self._sni(tls)
            )
        else:
            pair = await asyncio.open_connection(self.proxy.host, self.proxy.port, limit=MAX_HEAD)
            if tls is not None:
                try:
                    await self._tunnel(pair, self.proxy)
                    await pair[1].start_tls(tls, server_hostname=self.host)
                except BaseException:
                    pair[1].close()
                    raise
        sock = pair[1].get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return pair

    def _sni(self, tls: ssl.SSLContext | None) -> str | None:
        return self.host if tls is not None else None

    async def _tunnel(self, pair: Pair, proxy: Proxy) -> None:
        request, authority = tunnel_request(self.host, self.port, proxy)
        reader, writer = pair
        writer.write(request)
        await writer.drain()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            raise Unreachable(f"the proxy {proxy.host}:{proxy.port} closed the CONNECT") from None
        status = parse_head(head[:-4])[0]
        if not 200 <= status < 300:
            raise Unreachable(
                f"the proxy {proxy.host}:{proxy.port} answered {status} to CONNECT {authority}"
            )

    def describe(self) -> str:
        """How the upstream is reached, for the proxy's log."""
        via = f" through the proxy {self.proxy.host}:{self.proxy.port}" if self.proxy else ""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}{via}"
