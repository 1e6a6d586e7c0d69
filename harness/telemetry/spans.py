"""The spans every journey produces, through the OpenTelemetry *API* only.

One trace per journey iteration: `journey <name>` (root) → `step <name>` → one span per HTTP
request (HTTP client semantic conventions) or browser action. Run id, journey and step travel as
W3C baggage; `traceparent` is injected into every request so the target's spans join the trace.
Without an SDK wired (see `harness.telemetry.tracing`), all of this is a cheap no-op.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from urllib.parse import urlsplit

from opentelemetry import baggage, trace
from opentelemetry.context import Context
from opentelemetry.propagate import inject
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

TRACER_NAME = "journey-harness"
SYNTHETIC = {"user_agent.synthetic.type": "test"}
_ID_SEGMENT = re.compile(r"/(\d+|[0-9a-f]{8}-[0-9a-f-]{27,}|[A-Za-z0-9_-]{20,})(?=/|$)")


_provider: trace.TracerProvider | None = None


def use_provider(provider: trace.TracerProvider | None) -> None:
    """Send the harness's spans to `provider` (set at the CLI or plugin edge; None resets)."""
    global _provider
    _provider = provider


def _tracer() -> trace.Tracer:
    if _provider is not None:
        return _provider.get_tracer(TRACER_NAME)
    return trace.get_tracer(TRACER_NAME)


def start_iteration(
    *, run_id: str, journey: str, target: str, worker: int, user: int, iteration: int
) -> tuple[Span, Context]:
    """Start the root span of one journey iteration; return it and the context to parent on."""
    ctx = baggage.set_baggage("harness.run_id", run_id, context=Context())
    ctx = baggage.set_baggage("harness.journey", journey, context=ctx)
    span = _tracer().start_span(
        f"journey {journey}",
        context=ctx,
        kind=SpanKind.INTERNAL,
        attributes={
            **SYNTHETIC,
            "harness.run_id": run_id,
            "harness.journey": journey,
            "harness.target": target,
            "harness.worker": worker,
            "harness.user": user,
            "harness.iteration": iteration,
        },
    )
    return span, trace.set_span_in_context(span, ctx)


def start_step(
    parent: Context, *, step: str, touchpoint: str, target: str, iteration: int
) -> tuple[Span, Context]:
    """Start the span of one step under its iteration."""
    ctx = baggage.set_baggage("harness.step", step, context=parent)
    span = _tracer().start_span(
        f"step {step}",
        context=ctx,
        attributes={
            **SYNTHETIC,
            "harness.step": step,
            "harness.touchpoint": touchpoint,
            "harness.target": target,
            "harness.iteration": iteration,
        },
    )
    return span, trace.set_span_in_context(span, ctx)


def url_template(path: str) -> str:
    """A route-like template of a URL path: numeric and id-like segments become `{id}`."""
    return _ID_SEGMENT.sub("/{id}", path) or "/"


def start_request(
    parent: Context | None, method: str, url: str, headers: MutableMapping[str, str]
) -> Span:
    """Start an HTTP client span and inject `traceparent`/`baggage` into `headers`."""
    parts = urlsplit(url)
    template = url_template(parts.path)
    span = _tracer().start_span(
        f"{method} {template}",
        context=parent,
        kind=SpanKind.CLIENT,
        attributes={
            **SYNTHETIC,
            "http.request.method": method,
            "url.full": url,
            "url.template": template,
            "server.address": parts.hostname or "",
            "server.port": parts.port or (443 if parts.scheme == "https" else 80),
        },
    )
    inject(headers, context=trace.set_span_in_context(span, parent))
    return span


def end_request(span: Span, status: int | None, error_type: str | None) -> None:
    """Finish an HTTP client span with its status code or error type."""
    if status is not None:
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            error_type = error_type or str(status)
    if error_type is not None:
        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR))
    span.end()


def start_action(parent: Context | None, name: str, attributes: dict[str, str]) -> Span:
    """Start the span of a browser navigation or action."""
    return _tracer().start_span(name, context=parent, attributes={**SYNTHETIC, **attributes})


def end_span(span: Span, error_type: str | None = None, message: str | None = None) -> None:
    """Finish a span, marking it failed when `error_type` is given."""
    if error_type is not None:
        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR, message))
    span.end()


def trace_headers(ctx: Context | None) -> dict[str, str]:
    """`traceparent` (and `baggage`) for requests made under `ctx`, e.g. by the browser."""
    headers: dict[str, str] = {}
    if ctx is not None:
        inject(headers, context=ctx)
    return headers


def trace_id_of(span: Span) -> str | None:
    """The hex trace id of a recording span, else None."""
    context = span.get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None
