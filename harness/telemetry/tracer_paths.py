"""The tracer paths of `harness.telemetry.spans`: one per process, chosen when tracing is wired.

- `LightPath`: the harness's own light tracer (`harness.telemetry.recorder`), the usual one;
- `ApiPath`: any other OpenTelemetry tracer, such as the SDK's;
- `GlobalPath`: nothing wired: the global tracer provider's, looked up on each call, and no
  spans (nor headers) while there is none;
- `OFF`, the base `TracerPath`: tracing switched off (`--no-traces`): no spans and no trace
  headers, at next to no cost.

The recording paths share the harness's span names, attributes and baggage, each cached: a
journey, step or request repeats them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from types import MethodType
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import baggage, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind
from opentelemetry.util.types import AttributeValue

from harness.redact import redact_url
from harness.telemetry.otel_env import custom_propagators
from harness.telemetry.otel_private import BAGGAGE_KEY, SPAN_KEY
from harness.telemetry.recorder import LightSpan, LightTracer

TRACER_NAME = "journey-harness"
SYNTHETIC_KEY, SYNTHETIC_VALUE = "user_agent.synthetic.type", "test"
SYNTHETIC = {SYNTHETIC_KEY: SYNTHETIC_VALUE}
_ID_SEGMENT = re.compile(r"/(\d+|[0-9a-f]{8}-[0-9a-f-]{27,}|[A-Za-z0-9_-]{20,})(?=/|$)")


_CACHE_LIMIT = 4096
#: id(baggage entries) → (those entries, their header)
_baggage_headers: dict[int, tuple[object, str]] = {}
_requests: dict[tuple[str, str], tuple[str, dict[str, AttributeValue]]] = {}
#: per journey (run, journey, target) and per step (run, journey, step, touchpoint, target):
#: the span's name, its attributes that never change (shared by every span of that journey or
#: step: never modified), and its baggage context (immutable: shared safely)
_journeys: dict[tuple[str, ...], tuple[str, dict[str, AttributeValue], Context]] = {}
_steps: dict[tuple[str, ...], tuple[str, dict[str, AttributeValue], Context]] = {}


class TracerPath:
    """How this process starts the harness's spans. This base is tracing switched off: every
    span is the API's non-recording `INVALID_SPAN` and no request carries a trace header. The
    recording paths override the `start_*` methods; `trace_headers` and `trace_id` read any
    span."""

    def start_iteration(
        self, run_id: str, journey: str, target: str, worker: int, user: int, iteration: int
    ) -> tuple[Span, Context]:
        """See `harness.telemetry.spans.start_iteration`."""
        return INVALID_SPAN, Context()

    def start_step(
        self,
        parent: Context,
        step: str,
        touchpoint: str,
        target: str,
        iteration: int,
        run_id: str,
        journey: str,
    ) -> tuple[Span, Context]:
        """See `harness.telemetry.spans.start_step`."""
        return INVALID_SPAN, parent

    def start_request(
        self, parent: Context | None, method: str, url: str, headers: MutableMapping[str, str]
    ) -> Span:
        """See `harness.telemetry.spans.start_request`."""
        return INVALID_SPAN

    def start_action(self, parent: Context | None, name: str, attributes: dict[str, str]) -> Span:
        """See `harness.telemetry.spans.start_action`."""
        return INVALID_SPAN

    def traceparent(self, span: Span, headers: MutableMapping[str, str]) -> None:
        """Put `traceparent` (and `tracestate`) for `span` into `headers`, if it is valid."""
        ids = span.get_span_context()
        if ids.is_valid:
            headers["traceparent"] = (
                f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}"
            )
            if ids.trace_state:
                headers["tracestate"] = ids.trace_state.to_header()

    def inject(self, headers: MutableMapping[str, str], span: Span, ctx: Context | None) -> None:
        """`traceparent` (and `tracestate`) for `span`, and the `baggage` of `ctx`."""
        self.traceparent(span, headers)
        if not ctx:
            return
        entries = ctx.get(BAGGAGE_KEY)
        if not entries:
            return
        # The harness's contexts share their entries' object (built once per journey and per
        # step), so a header is found by identity (checked: an id may be reused once an object
        # is gone).
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

    def trace_headers(self, ctx: Context | None) -> dict[str, str]:
        """See `harness.telemetry.spans.trace_headers`."""
        headers: dict[str, str] = {}
        if ctx is not None:
            self.inject(headers, trace.get_current_span(ctx), ctx)
        return headers

    def trace_id(self, span: Span) -> str | None:
        """See `harness.telemetry.spans.trace_id_of`."""
        context = span.get_span_context()
        return f"{context.trace_id:032x}" if context.is_valid else None


OFF = TracerPath()


#: starts a root span: (name, shared attributes, own attributes, baggage context) → span
StartRoot = Callable[[str, dict[str, Any], dict[str, Any], Context], Span]
#: starts a span under the span in a context (None: the current one): (name, context, kind,
#: shared attributes, own attributes or None) → span
StartChild = Callable[[str, Context | None, SpanKind, dict[str, Any], dict[str, Any] | None], Span]


class _Recording(TracerPath):
    """A path that records: the harness's names, attributes and baggage for each span. How a
    span starts is `root` and `child`, given by the subclass as callables rather than methods:
    the light tracer's own are called directly, one call fewer per span."""

    def __init__(self, tracer: trace.Tracer, root: StartRoot, child: StartChild) -> None:
        self.tracer = tracer
        self.root = root
        self.child = child

    def start_iteration(
        self, run_id: str, journey: str, target: str, worker: int, user: int, iteration: int
    ) -> tuple[Span, Context]:
        """See `harness.telemetry.spans.start_iteration`."""
        name, shared, ctx = _journeys.get((run_id, journey, target)) or _parts(
            _journeys,
            (run_id, journey, target),
            f"journey {journey}",
            {"harness.run_id": run_id, "harness.journey": journey, "harness.target": target},
            {"harness.run_id": run_id, "harness.journey": journey},
        )
        own = {"harness.worker": worker, "harness.user": user, "harness.iteration": iteration}
        span = self.root(name, shared, own, ctx)
        # the context `set_span_in_context` would make, in one copy instead of two
        return span, Context({**ctx, SPAN_KEY: span})

    def start_step(
        self,
        parent: Context,
        step: str,
        touchpoint: str,
        target: str,
        iteration: int,
        run_id: str,
        journey: str,
    ) -> tuple[Span, Context]:
        """See `harness.telemetry.spans.start_step`."""
        key = (run_id, journey, step, touchpoint, target)
        name, shared, ctx = _steps.get(key) or _parts(
            _steps,
            key,
            f"step {step}",
            {"harness.step": step, "harness.touchpoint": touchpoint, "harness.target": target},
            {"harness.run_id": run_id, "harness.journey": journey, "harness.step": step},
        )
        span = self.child(name, parent, SpanKind.INTERNAL, shared, {"harness.iteration": iteration})
        return span, Context({**ctx, SPAN_KEY: span})

    def start_request(
        self, parent: Context | None, method: str, url: str, headers: MutableMapping[str, str]
    ) -> Span:
        """See `harness.telemetry.spans.start_request`."""
        name, attributes = request_parts(method, url)
        span = self.child(name, parent, SpanKind.CLIENT, attributes, None)
        self.inject(headers, span, parent)
        return span

    def start_action(self, parent: Context | None, name: str, attributes: dict[str, str]) -> Span:
        """See `harness.telemetry.spans.start_action`."""
        return self.tracer.start_span(name, context=parent, attributes={**SYNTHETIC, **attributes})


class ApiPath(_Recording):
    """Any OpenTelemetry tracer, through the API's `start_span` (which copies attributes)."""

    def __init__(self, tracer: trace.Tracer) -> None:
        super().__init__(tracer, self._root, self._child)

    def _root(
        self, name: str, shared: dict[str, Any], own: dict[str, Any], baggage_ctx: Context
    ) -> Span:
        return self.tracer.start_span(name, baggage_ctx, SpanKind.INTERNAL, {**shared, **own})

    def _child(
        self,
        name: str,
        parent: Context | None,
        kind: SpanKind,
        shared: dict[str, Any],
        own: dict[str, Any] | None,
    ) -> Span:
        return self.tracer.start_span(name, parent, kind, {**shared, **own} if own else shared)


class LightPath(_Recording):
    """The harness's light tracer: its own spans start past the API's generic `start_span`
    (`LightTracer.root` and `child`: no context to search, no attributes to copy), and their
    `traceparent` and trace id are made without a `SpanContext`. A span that is not a
    `LightSpan` (from outside the harness) is read the API's way."""

    def __init__(self, tracer: LightTracer) -> None:
        super().__init__(tracer, tracer.root, tracer.child)

    def traceparent(self, span: Span, headers: MutableMapping[str, str]) -> None:
        """The header from a `LightSpan`'s own fields."""
        if type(span) is not LightSpan:
            super().traceparent(span, headers)
            return
        headers["traceparent"] = span.traceparent()
        if span._trace_state:
            headers["tracestate"] = span._trace_state.to_header()

    def trace_id(self, span: Span) -> str | None:
        """The hex id a `LightSpan` keeps."""
        if type(span) is LightSpan:
            return span._hex or span.trace_hex()
        return super().trace_id(span)


class GlobalPath(TracerPath):
    """Nothing wired in this process: the global tracer provider's tracer (the API's
    `ProxyTracerProvider`, before anything is set globally, means no spans and no headers),
    looked up on each call since it may be set at any time."""

    def __init__(self) -> None:
        self._provider: trace.TracerProvider | None = None
        self._path: TracerPath = OFF

    def current(self) -> TracerPath:
        """The path for the global provider now."""
        provider = trace.get_tracer_provider()
        if provider is not self._provider:
            self._provider = provider
            # the API's placeholder, or the harness's own global (`spans.JourneyTracerProvider`),
            # which would lead back here
            if isinstance(provider, trace.ProxyTracerProvider) or getattr(
                provider, "follows_harness", False
            ):
                self._path = OFF
            else:
                self._path = ApiPath(provider.get_tracer(TRACER_NAME))
        return self._path

    def start_iteration(
        self, run_id: str, journey: str, target: str, worker: int, user: int, iteration: int
    ) -> tuple[Span, Context]:
        """See `harness.telemetry.spans.start_iteration`."""
        return self.current().start_iteration(run_id, journey, target, worker, user, iteration)

    def start_step(
        self,
        parent: Context,
        step: str,
        touchpoint: str,
        target: str,
        iteration: int,
        run_id: str,
        journey: str,
    ) -> tuple[Span, Context]:
        """See `harness.telemetry.spans.start_step`."""
        return self.current().start_step(
            parent, step, touchpoint, target, iteration, run_id, journey
        )

    def start_request(
        self, parent: Context | None, method: str, url: str, headers: MutableMapping[str, str]
    ) -> Span:
        """See `harness.telemetry.spans.start_request`."""
        return self.current().start_request(parent, method, url, headers)

    def start_action(self, parent: Context | None, name: str, attributes: dict[str, str]) -> Span:
        """See `harness.telemetry.spans.start_action`."""
        return self.current().start_action(parent, name, attributes)


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


def url_template(path: str) -> str:
    """A route-like template of a URL path: numeric and id-like segments become `{id}`."""
    return _ID_SEGMENT.sub("/{id}", path) or "/"


def request_parts(method: str, url: str) -> tuple[str, dict[str, AttributeValue]]:
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


def recording_tracer(path: TracerPath) -> trace.Tracer | None:
    """The tracer of a path that records, else None."""
    return path.tracer if isinstance(path, _Recording) else None


def path_for(provider: trace.TracerProvider | None) -> TracerPath:
    """The path to `provider` (None: the global provider's; a `NoOpTracerProvider`: off)."""
    if provider is None:
        return GlobalPath()
    if isinstance(provider, trace.NoOpTracerProvider):
        return OFF
    tracer = provider.get_tracer(TRACER_NAME)
    path = LightPath(tracer) if type(tracer) is LightTracer else ApiPath(tracer)
    if custom_propagators():
        # an attribute of this one object, so the usual path pays nothing for the choice
        path.inject = MethodType(_propagated, path)  # type: ignore[method-assign]
    return path


def _propagated(
    path: TracerPath, headers: MutableMapping[str, str], span: Span, ctx: Context | None
) -> None:
    """`TracerPath.inject` through the API's global propagator (`OTEL_PROPAGATORS`)."""
    from opentelemetry import propagate

    propagate.inject(headers, context=trace.set_span_in_context(span, ctx))
