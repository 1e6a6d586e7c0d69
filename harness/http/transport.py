"""The harness's one HTTP transport: journeys (`j.api`, `j.mobile`), seeding, rollout hooks and
the reachability check all send their requests through an `HttpTransport` made here.

One seam makes every user testable: an `HttpTransport` with one `send` method, raising only
`StepTimeout` (the request's deadline passed) and `ConnectionFailed` (no connection, or not an
HTTP answer). The real one, `GeventTransport`, speaks HTTP/1.1 on gevent sockets
(`harness.http.wire`); tests use `harness.testing.FakeTransport`.

`HttpSettings` is how a transport connects, and `settings_for` the one place that decides it
for a target: per-target settings (a proxy, a CA bundle, a client certificate, `verify`) go
there and reach every user at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from harness.errors import ConnectionFailed, StepTimeout
from harness.http.network import decode_body, environment_proxies, proxy_for, tls_context
from harness.http.urls import origin_and_target, url_path
from harness.http.wire import ConnectFailed, Connection, WireError, WireTimeout
from harness.target_http import expand

if TYPE_CHECKING:
    from harness.target_http import TargetHttp, TouchpointHttp
    from harness.targets import Target

__all__ = [
    "GeventTransport",
    "HttpRequest",
    "HttpSettings",
    "HttpTransport",
    "RawResponse",
    "open_transport",
    "send_once",
    "settings_for",
    "settings_from",
]


@dataclass(frozen=True)
class HttpRequest:
    """A request as handed to a transport: absolute URL, final headers, encoded body, and the
    deadline in seconds over the whole exchange (connecting included)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None
    timeout: float


@dataclass(frozen=True)
class RawResponse:
    """What a transport returns: status, headers with lower-case names, the whole body
    (decoded from its `Content-Encoding`), and each `Set-Cookie` line apart."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    set_cookies: tuple[str, ...] = ()


class HttpTransport(Protocol):
    """Sends one request. Raises `StepTimeout` or `ConnectionFailed`, never library errors."""

    def send(self, request: HttpRequest) -> RawResponse: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class HttpSettings:
    """How a transport connects.

    `proxies`: proxy URLs by scheme (`http`, `https`) and `no` (hosts to reach directly, as
    `NO_PROXY`); None reads `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` from the environment.
    `verify`: True (the default store, or `REQUESTS_CA_BUNDLE`), a CA file or folder, or False.
    `client_cert`: (certificate file, key file or None) for servers that ask for one.
    """

    connect_timeout: float = 5.0
    proxies: Mapping[str, str] | None = None
    verify: bool | str = True
    client_cert: tuple[str, str | None] | None = None


def settings_for(target: Target | None = None, touchpoint: str | None = None) -> HttpSettings:
    """The transport settings for requests to `target` (None: no target in particular), of its
    `touchpoint` (`api`, `mobile`) when given.

    The one place target settings become transport settings: `[targets.NAME.http]`'s proxy,
    CA, `verify` and client certificate, or the touchpoint's own (their `${VARIABLES}` read
    now), else the environment's proxies and CA bundle (read when the transport connects)."""
    if target is None:
        return HttpSettings()
    return settings_from(target.http, target.name, touchpoint)


def settings_from(config: TargetHttp, name: str, touchpoint: str | None = None) -> HttpSettings:
    """The transport settings of `[targets.NAME.http]` (`settings_for` a target of that name):
    for a process that has the settings without the target (the drill proxy)."""
    where = f"targets.{name}.http"
    given: TargetHttp | TouchpointHttp = config
    if touchpoint is not None:
        given = config.touchpoint(touchpoint)
        where = f"{where}.{touchpoint}"
    proxies = None
    if given.proxy is not None:
        proxy = expand(given.proxy, f"{where}.proxy")
        proxies = {"http": proxy, "https": proxy} if proxy else {}
        if given.no_proxy:
            proxies["no"] = expand(given.no_proxy, f"{where}.no_proxy")
    verify: bool | str = expand(given.ca, f"{where}.ca") if given.ca else given.verify is not False
    cert = None
    if given.client_cert:
        key = expand(given.client_key, f"{where}.client_key") if given.client_key else None
        cert = (expand(given.client_cert, f"{where}.client_cert"), key)
    return HttpSettings(proxies=proxies, verify=verify, client_cert=cert)


def open_transport(settings: HttpSettings | None = None) -> HttpTransport:
    """A new transport with `settings` (default: `settings_for()`); the caller closes it."""
    return GeventTransport(settings if settings is not None else settings_for())


def send_once(request: HttpRequest, settings: HttpSettings | None = None) -> RawResponse:
    """Send one request on a transport of its own, closed after the answer: for callers that
    send one request now and then (a hook, a reachability check)."""
    transport = open_transport(settings)
    try:
        return transport.send(request)
    finally:
        transport.close()


@dataclass
class GeventTransport:
    """HTTP/1.1 on gevent sockets (`harness.http.wire`): one keep-alive connection per origin,
    since a user of it (a virtual user, a seeding run) sends one request at a time."""

    settings: HttpSettings = field(default_factory=HttpSettings)
    _connections: dict[tuple[str, str, int], Connection] = field(default_factory=dict)
    _tls: Any = None
    _proxies: Mapping[str, str] | None = None

    def _connection(self, key: tuple[str, str, int]) -> Connection:
        settings = self.settings
        if self._proxies is None:
            self._proxies = (
                settings.proxies if settings.proxies is not None else environment_proxies()
            )
        scheme, host, port = key
        if scheme == "https" and self._tls is None:
            self._tls = tls_context(settings.verify, settings.client_cert)
        connection = self._connections[key] = Connection(
            *key,
            connect_timeout=settings.connect_timeout,
            tls=self._tls,
            proxy=proxy_for(scheme, host, port, self._proxies),
        )
        return connection

    def send(self, request: HttpRequest) -> RawResponse:
        """Send `request`, reading the whole body."""
        key, target = origin_and_target(request.url)
        try:
            connection = self._connections.get(key) or self._connection(key)
            status, headers, body = connection.request(
                request.method, target, request.headers, request.body, request.timeout
            )
        except WireTimeout as exc:
            during = f" during {exc.during}" if exc.during else ""
            raise StepTimeout(
                f"{request.method} {url_path(request.url)} timed out after {request.timeout:g} s"
                f"{during}"
            ) from None
        except ConnectFailed as exc:
            raise ConnectionFailed(
                f"{request.method} {request.url} could not connect: {exc}"
            ) from None
        except (WireError, OSError, ValueError) as exc:  # OSError, ValueError: a CA file
            raise ConnectionFailed(f"{request.method} {request.url} failed: {exc}") from None
        encoding = headers.get("content-encoding")
        if encoding is not None and body:
            try:
                body = decode_body(encoding, body)
            except WireError as exc:
                raise ConnectionFailed(f"{request.method} {request.url}: {exc}") from None
        cookies: tuple[str, ...] = ()
        if "set-cookie" in headers:  # the wire keeps each line apart
            cookies = tuple(headers["set-cookie"].split("\n"))
            headers["set-cookie"] = ", ".join(cookies)
        return RawResponse(status, headers, body, cookies)

    def close(self) -> None:
        """Close every connection."""
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()
