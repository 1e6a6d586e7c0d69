"""How the HTTP transport reaches an origin and reads its answer, as requests and httpx do: the
client TLS context (`verify`, a CA bundle, a client certificate, `REQUESTS_CA_BUNDLE` and
`SSL_CERT_FILE`), the proxy for a URL (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` or explicit
ones), and bodies decoded from gzip, deflate and brotli."""

from __future__ import annotations

import ipaddress
import os
import ssl
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import (  # type: ignore[attr-defined]
    getproxies_environment,
    proxy_bypass_environment,
)

from harness.http.wire import Proxy, WireError

__all__ = [
    "ACCEPT_ENCODING",
    "decode_body",
    "environment_proxies",
    "proxy_for",
    "stdlib_tls_context",
    "tls_context",
]

#: what the touchpoints accept, as requests sends it (brotli too, as httpx does with brotli)
ACCEPT_ENCODING = "gzip, deflate, br"


def tls_context(
    verify: bool | str = True, client_cert: tuple[str, str | None] | None = None
) -> Any:
    """A client TLS context made as `ssl.create_default_context()` makes it (certificates and
    host names verified), but of gevent's class, so that the handshake and every read wait on
    the gevent hub under the exchange's deadline (the standard library's blocked the whole
    process in C in a process gevent has not patched).

    `verify`: True checks against the default store (`SSL_CERT_FILE`, `SSL_CERT_DIR`) and, when
    set, `REQUESTS_CA_BUNDLE` too; a path (a CA file or folder) checks against it
    alone; False checks nothing. `client_cert`: (certificate, key or None) presented to servers
    that ask for one (mutual TLS)."""
    from gevent import ssl as gevent_ssl

    return _configured(gevent_ssl.SSLContext, verify, client_cert)


def stdlib_tls_context(
    verify: bool | str = True, client_cert: tuple[str, str | None] | None = None
) -> ssl.SSLContext:
    """The same context as `tls_context`, of the standard library's class: for asyncio code
    (the drill proxy's upstream side), which must not load gevent."""
    return _configured(ssl.SSLContext, verify, client_cert)  # type: ignore[no-any-return]


def _configured(cls: Any, verify: bool | str, client_cert: tuple[str, str | None] | None) -> Any:
    template = ssl.create_default_context()
    context = cls(ssl.PROTOCOL_TLS_CLIENT)
    context.options = template.options
    context.verify_flags = template.verify_flags
    context.minimum_version = template.minimum_version
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.verify_mode = template.verify_mode
        context.check_hostname = template.check_hostname
        if isinstance(verify, str):
            _load_bundle(context, verify)
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
            if bundle := os.environ.get("REQUESTS_CA_BUNDLE"):
                _load_bundle(context, bundle)
    if client_cert is not None:
        context.load_cert_chain(client_cert[0], client_cert[1])
    return context


def _load_bundle(context: Any, bundle: str) -> None:
    if os.path.isdir(bundle):
        context.load_verify_locations(capath=bundle)
    else:
        context.load_verify_locations(cafile=bundle)


def environment_proxies() -> dict[str, str]:
    """The proxies the environment names, by scheme (`http`, `https`, `all`, `no`), as urllib
    reads them (lower case first, then upper case; `REQUEST_METHOD` set ignores `HTTP_PROXY`)."""
    found = getproxies_environment().items()
    return {k: v for k, v in found if k in ("http", "https", "all", "no")}


def proxy_for(scheme: str, host: str, port: int, proxies: Mapping[str, str]) -> Proxy | None:
    """The proxy to reach scheme://host:port through (`proxies[scheme]`, else `proxies["all"]`
    as `ALL_PROXY`), None to go direct (`proxies["no"]`, as `NO_PROXY`, lists hosts, domains,
    `*` and, as requests reads it, networks such as `10.0.0.0/8`)."""
    url = proxies.get(scheme) or proxies.get("all")
    if not url:
        return None
    bypass = proxies.get("no")
    if bypass and (
        proxy_bypass_environment(f"{host}:{port}", {"no": bypass}) or _in_network(host, bypass)
    ):
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", ""):
        raise WireError(f"proxy {parts.scheme}:// is not supported (an http:// proxy is)")
    authorization = None
    if parts.username is not None:
        from harness.targets import basic_authorization

        credentials = (unquote(parts.username), unquote(parts.password or ""))
        authorization = basic_authorization(credentials)
    return Proxy(parts.hostname or "", parts.port or 80, authorization)


def _in_network(host: str, no_proxy: str) -> bool:
    """Whether `host` is an IP address inside a network (`10.0.0.0/8`) `no_proxy` lists."""
    if "/" not in no_proxy:
        return False
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    for entry in no_proxy.replace(" ", "").split(","):
        if "/" in entry:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:  # not a network: a name of NO_PROXY's other forms
                continue
    return False


def decode_body(encoding: str, body: bytes) -> bytes:
    """`body` decoded from its `Content-Encoding` (gzip, deflate, br, or a list of them applied
    in order); an unknown coding leaves the body as it is. Raises `WireError` on a corrupt
    body."""
    for coding in reversed([c.strip().lower() for c in encoding.split(",") if c.strip()]):
        try:
            if coding in ("gzip", "x-gzip"):
                body = _inflate(body, 16 + zlib.MAX_WBITS)
            elif coding == "deflate":  # zlib-wrapped as the RFC says, or raw as some send
                try:
                    body = _inflate(body, zlib.MAX_WBITS)
                except zlib.error:
                    body = _inflate(body, -zlib.MAX_WBITS)
            elif coding == "br":
                import brotli  # type: ignore[import-untyped]

                body = brotli.decompress(body)
            elif coding != "identity":
                return body
        except Exception as exc:  # zlib.error, brotli.error
            raise WireError(f"the {coding} body could not be decoded: {exc}") from None
    return body


def _inflate(body: bytes, wbits: int) -> bytes:
    parts = []
    while body:  # gzip allows several members one after the other
        decoder = zlib.decompressobj(wbits)
        parts.append(decoder.decompress(body))
        parts.append(decoder.flush())
        body = decoder.unused_data if wbits > 0 and decoder.eof else b""
    return b"".join(parts)
