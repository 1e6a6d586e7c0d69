"""The spans every journey produces, through the OpenTelemetry *API* only.

One trace per journey iteration: `journey <name>` (root) → `step <name>` → one span per HTTP
request (HTTP client semantic conventions) or browser action. Run id, journey and step travel as
W3C baggage; `traceparent` is injected into every request so the target's spans join the trace.
Without a tracer provider wired (see `harness.telemetry.tracing`), all of this is a no-op that
costs next to nothing. Propagation is always W3C Trace Context plus W3C Baggage, written directly
(the baggage header is cached per set of entries: encoding it cost more than the request span).
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import cast
from urllib.parse import urlsplit

from opentelemetry import baggage, trace

# the key of the entries' dict in a context: `baggage.get_all` returns a fresh read-only view of
# it, whose identity cannot say whether two contexts share their entries
from opentelemetry.baggage import _BAGGAGE_KEY
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

# the key of the current span in a context: a context is built here in one step, as
# `trace.set_span_in_context` would build it (a copy, then a second copy with the span)
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.util.types import AttributeValue

from harness.redact import redact, redact_url
from harness.telemetry.recorder import CLIENT, INTERNAL, LightSpan, LightTracer

TRACER_NAME = "journey-harness"
SYNTHETIC_KEY, SYNTHETIC_VALUE = "user_agent.synthetic.type", "test"
SYNTHETIC = {SYNTHETIC_KEY: SYNTHETIC_VALUE}
_ID_SEGMENT = re.compile(r"/(\d+|[0-9a-f]{8}-[0-9a-f-]{27,}|[A-Za-z0-9_-]{20,})(?=/|$)")


_CACHE_LIMIT = 4096
_tracer_in_use: trace.Tracer | None = None
_light: LightTracer | None = None  #: the tracer in use when it is the harness's own
_tracing_off = False
#: id(baggage entries) → (those entries, their header)
_baggage_headers: dict[int, tuple[object, str]] = {}
_requests: dict[tuple[str, str], tuple[str, dict[str, AttributeValue]]] = {}
#: per journey (run, journey, target) and per step (run, journey, step, touchpoint, target):
#: the span's name, its attributes that never change (shared by every span of that journey or
#: step: never modified), and its baggage context (immutable: shared safely)
_journeys: dict[tuple[str, ...], tuple[str, dict[str, AttributeValue], Context]] = {}
_steps: dict[tuple[str, ...], tuple[str, dict[str, AttributeValue], Context]] = {}


def use_provider(provider: trace.TracerProvider | None) -> None:
    """Send the harness's spans to `provider` (set at the CLI or plugin edge; None resets to the
    global provider; a `NoOpTracerProvider` switches tracing off, `--no-traces`)."""
    global _tracer_in_use, _tracing_off, _light
    _tracing_off = isinstance(provider, trace.NoOpTracerProvider)
    _tracer_in_use = None if provider is None or _tracing_off else provider.get_tracer(TRACER_NAME)
    _light = _tracer_in_use if type(_tracer_in_use) is LightTracer else None


def _baggage_context(entries: dict[str, str]) -> Context:
    ctx = Context()
    for key, value in entries.items():
        ctx = baggage.set_baggage(key, value, context=ctx)
    return ctx


def _parts(
    cache: dict[tuple[str, ...], tuple[str, dict[str, AttributeValue], Context]],
    key: tuple[str, ...],
    name: str,
    shared: dict[str, AttributeValue],
    entries: dict[str, str],
) -> tuple[str, dict[str, AttributeValue], Context]:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    found = cache[key] = (
        name,
        {SYNTHETIC_KEY: SYNTHETIC_VALUE, **shared},
        _baggage_context(entries),
    )
    return found


def _tracer() -> trace.Tracer | None:
    """The tracer in use: the one wired here, else the global provider's; None when tracing is
    off or no provider is set anywhere (then nothing is recorded and no header is sent)."""
    if _tracer_in_use is not None:
        return _tracer_in_use
    if _tracing_off:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider):
        return None
    return provider.get_tracer(TRACER_NAME)


def start_iteration(
    *, run_id: str, journey: str, target: str, worker: int, user: int, iteration: int
) -> tuple[Span, Context]:
    """Start the root span of one journey iteration; return it and the context to parent on."""
    tracer = None if _light is not None else _tracer()
    if _light is None and tracer is None:
        return INVALID_SPAN, Context()
    name, shared, ctx = _journeys.get((run_id, journey, target)) or _parts(
        _journeys,
        (run_id, journey, target),
        f"journey {journey}",
        {"harness.run_id": run_id, "harness.journey": journey, "harness.target": target},
        {"harness.run_id": run_id, "harness.journey": journey},
    )
    own = {"harness.worker": worker, "harness.user": user, "harness.iteration": iteration}
    span: Span
    if _light is not None:
        span = _light.root(name, shared, own)
    else:
        assert tracer is not None
        span = tracer.start_span(name, ctx, SpanKind.INTERNAL, {**shared, **own})
    # the context `set_span_in_context` would make, in one copy instead of two
    return span, Context({**ctx, _SPAN_KEY: span})


def start_step(
    parent: Context,
    *,
    step: str,
    touchpoint: str,
    target: str,
    iteration: int,
    run_id: str,
    journey: str,
) -> tuple[Span, Context]:
    """Start the span of one step under its iteration. The step's baggage (run id, journey,
    step) is a context built once per step name and shared, so that its requests find their
    `baggage` header by identity."""
    above = parent.get(_SPAN_KEY)
    light = _light if type(above) is LightSpan else None
    tracer = None if light is not None else _tracer()
    if light is None and tracer is None:
        return INVALID_SPAN, parent
    key = (run_id, journey, step, touchpoint, target)
    name, shared, ctx = _steps.get(key) or _parts(
        _steps,
        key,
        f"step {step}",
        {"harness.step": step, "harness.touchpoint": touchpoint, "harness.target": target},
        {"harness.run_id": run_id, "harness.journey": journey, "harness.step": step},
    )
    span: Span
    if light is not None:
        own = {"harness.iteration": iteration}
        span = light.child(name, cast(LightSpan, above), INTERNAL, shared, own)
    else:
        assert tracer is not None
        attributes = {**shared, "harness.iteration": iteration}
        span = tracer.start_span(name, parent, SpanKind.INTERNAL, attributes)
    return span, Context({**ctx, _SPAN_KEY: span})


def url_template(path: str) -> str:
    """A route-like template of a URL path: numeric and id-like segments become `{id}`."""
    return _ID_SEGMENT.sub("/{id}", path) or "/"


def start_request(
    parent: Context | None, method: str, url: str, headers: MutableMapping[str, str]
) -> Span:
    """Start an HTTP client span and inject `traceparent`/`baggage` into `headers`."""
    above = parent.get(_SPAN_KEY) if parent else None
    span: Span
    if _light is not None and type(above) is LightSpan:
        # the harness's own tracer under its own span (every API and mobile request at load)
        name, attributes = _request_parts(method, url)
        span = _light.child(name, above, CLIENT, attributes, None)
    else:
        tracer = _tracer()
        if tracer is None:
            return INVALID_SPAN
        name, attributes = _request_parts(method, url)
        span = tracer.start_span(name, parent, SpanKind.CLIENT, attributes)  # a tracer copies
    _inject(headers, span, parent)
    return span


def _request_parts(method: str, url: str) -> tuple[str, dict[str, AttributeValue]]:
    """The name and attributes of a request span (method, url.template, server.address and
    port, url.full with secrets redacted), cached: journeys repeat their requests."""
    found = _requests.get((method, url))
    if found is None:
        parts = urlsplit(url)
        template = url_template(parts.path)
        found = (
            f"{method} {template}",
            {
                SYNTHETIC_KEY: SYNTHETIC_VALUE,
                "http.request.method": method,
                "url.full": redact_url(url),
                "url.template": template,
                "server.address": parts.hostname or "",
                "server.port": parts.port or (443 if parts.scheme == "https" else 80),
            },
        )
        if len(_requests) >= _CACHE_LIMIT:
            _requests.clear()
        _requests[(method, url)] = found
    return found


def _inject(headers: MutableMapping[str, str], span: Span, ctx: Context | None) -> None:
    """`traceparent` (and `tracestate`) for `span`, and the `baggage` of `ctx`."""
    if type(span) is LightSpan:  # the harness's own tracer: its header without a SpanContext
        headers["traceparent"] = span.traceparent()
        if span._trace_state:
            headers["tracestate"] = span._trace_state.to_header()
    else:
        ids = span.get_span_context()
        if ids.is_valid:
            headers["traceparent"] = (
                f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}"
            )
            if ids.trace_state:
                headers["tracestate"] = ids.trace_state.to_header()
    if not ctx:
        return
    entries = ctx.get(_BAGGAGE_KEY)
    if not entries:
        return
    # The harness's contexts share their entries' object (built once per journey and per step),
    # so a header is found by identity (checked: an id may be reused once an object is gone).
    known = _baggage_headers.get(id(entries))
    if known is not None and known[0] is entries:
        header = known[1]
    else:
        carrier: dict[str, str] = {}
        W3CBaggagePropagator().inject(carrier, context=ctx)
        header = carrier.get("baggage", "")
        if len(_baggage_headers) >= _CACHE_LIMIT:
            _baggage_headers.clear()
        _baggage_headers[id(entries)] = (entries, header)
    if header:
        headers["baggage"] = header


def end_request(span: Span, status: int | None, error_type: str | None) -> None:
    """Finish an HTTP client span with its status code or error type (a no-op on the
    non-recording span of tracing switched off)."""
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
    tracer = _tracer()
    if tracer is None:
        return INVALID_SPAN
    return tracer.start_span(name, context=parent, attributes={**SYNTHETIC, **attributes})


def end_span(span: Span, error_type: str | None = None, message: str | None = None) -> None:
    """Finish a span, marking it failed when `error_type` is given."""
    if error_type is not None:
        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR, redact(message) if message else message))
    span.end()


def trace_headers(ctx: Context | None) -> dict[str, str]:
    """`traceparent` (and `baggage`) for requests made under `ctx`, e.g. by the browser."""
    headers: dict[str, str] = {}
    if ctx is not None:
        _inject(headers, trace.get_current_span(ctx), ctx)
    return headers


def trace_id_of(span: Span) -> str | None:
    """The hex trace id of a recording span, else None."""
    if type(span) is LightSpan:
        return span._hex or span.trace_hex()
    context = span.get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None
