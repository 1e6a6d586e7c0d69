"""One SERVER span per sandbox request, joined to the caller's trace (pure ASGI middleware).

The parent comes from the request's `traceparent` and `baggage` headers through the global
propagators (W3C trace context and baggage unless `OTEL_PROPAGATORS` says otherwise). The span
is current while the app runs, so SQL and regression spans nest under it. Attributes follow the
HTTP server semantic conventions, plus `shop.route.name`, `shop.release` and the harness's
baggage entries (`harness.run_id`, `harness.journey`, `harness.step`).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.redact import redact_url
from harness.shop_routes import ROUTES

__all__ = ["BAGGAGE_KEYS", "TracingMiddleware", "server_address"]

BAGGAGE_KEYS: tuple[str, ...] = ("harness.run_id", "harness.journey", "harness.step")

# Starlette names each route after the sandbox's route name; this maps it to the path template
# (`/products/{id}`, without the `:int` converters Starlette sees).
_TEMPLATES = {route.name: route.path for route in ROUTES}


def server_address(host_header: str | None, fallback: tuple[str, int] | None) -> tuple[str, int]:
    """`(server.address, server.port)` from a `Host` header (`[::1]:8800`), else the socket."""
    if host_header:
        host, sep, port = host_header.rpartition(":")
        if sep and port.isdigit() and (not host.startswith("[") or host.endswith("]")):
            return host.strip("[]"), int(port)
        return host_header.strip("[]"), 80
    if fallback is not None:
        return str(fallback[0]), int(fallback[1])
    return "", 0


class TracingMiddleware:
    """ASGI middleware making a SERVER span (named `{METHOD} {route}`) per HTTP request."""

    def __init__(self, app: ASGIApp, tracer: Tracer, release: str) -> None:
        self.app = app
        self.tracer = tracer
        self.release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        parent = propagate.extract(headers)
        method: str = scope["method"]
        address, port = server_address(headers.get("host"), scope.get("server"))
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
            "network.protocol.version": scope.get("http_version", "1.1"),
            "server.address": address,
            "server.port": port,
            "shop.release": self.release,
        }
        query: bytes = scope.get("query_string", b"")
        if query:
            attributes["url.query"] = redact_url("?" + query.decode("latin-1"))[1:]
        agent = headers.get("user-agent")
        if agent is not None:
            attributes["user_agent.original"] = agent
        for key in BAGGAGE_KEYS:
            value = baggage.get_baggage(key, parent)
            if value is not None:
                attributes[key] = str(value)
        # Named by method alone until routing has found the template (semconv's fallback).
        span = self.tracer.start_span(
            method, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        status = 0

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        except BaseException as exc:
            span.record_exception(exc)
            if status < 500:
                span.set_attribute("error.type", type(exc).__qualname__)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
            raise
        finally:
            context.detach(token)
            self._finish(span, scope, method, status)

    @staticmethod
    def _finish(span: trace.Span, scope: Scope, method: str, status: int) -> None:
        route = scope.get("route")
        name = getattr(route, "name", None)
        template = _TEMPLATES.get(name) if isinstance(name, str) else None
        if template is not None:
            span.update_name(f"{method} {template}")
            span.set_attribute("http.route", template)
            span.set_attribute("shop.route.name", str(name))
        if status:
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_attribute("error.type", str(status))
                span.set_status(Status(StatusCode.ERROR))
        span.end()
