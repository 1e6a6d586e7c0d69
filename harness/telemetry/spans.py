"""The spans every journey produces, through the OpenTelemetry *API* only.

One trace per journey iteration: `journey <name>` (root) → `step <name>` → one span per HTTP
request (HTTP client semantic conventions) or browser action. Run id, journey and step travel as
W3C baggage; `traceparent` is injected into every request so the target's spans join the trace.
Propagation is always W3C Trace Context plus W3C Baggage, written directly (the baggage header
is cached per set of entries: encoding it cost more than the request span).

A process has one tracer path (`harness.telemetry.tracer_paths`), chosen when tracing is wired
(`use_provider`, at the CLI or plugin edge, see `harness.telemetry.tracing`). Every function
here calls through it, and no caller asks which tracer is in use. Without a tracer provider
wired anywhere, or with tracing switched off, all of this is a no-op that costs next to nothing.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode

from harness.redact import redact
from harness.telemetry.tracer_paths import TRACER_NAME as TRACER_NAME
from harness.telemetry.tracer_paths import GlobalPath, TracerPath, path_for, recording_tracer
from harness.telemetry.tracer_paths import url_template as url_template

_path: TracerPath = GlobalPath()


def use_provider(provider: trace.TracerProvider | None) -> None:
    """Choose this process's tracer path: the harness's spans go to `provider` (set at the CLI
    or plugin edge; None resets to the global provider; a `NoOpTracerProvider` switches tracing
    off, `--no-traces`)."""
    global _path
    _path = path_for(provider)
    if provider is not None and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        # Nothing set globally yet: a journey's own `trace.get_tracer(...)` spans go where the
        # harness's do, as children of the current step (set once: the API allows no other).
        trace.set_tracer_provider(JourneyTracerProvider())


class _JourneyTracer(trace.Tracer):
    """The tracer of this process's harness path when it records, looked up on each call
    (tracing may be wired again, as tests do); else the API's no-op tracer."""

    def start_span(self, *args: Any, **kwargs: Any) -> Span:
        """See `opentelemetry.trace.Tracer.start_span`."""
        return (recording_tracer(_path) or _NO_OP).start_span(*args, **kwargs)

    def start_as_current_span(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> AbstractContextManager[Span]:
        """See `opentelemetry.trace.Tracer.start_as_current_span`."""
        tracer = recording_tracer(_path) or _NO_OP
        manager: AbstractContextManager[Span] = tracer.start_as_current_span(*args, **kwargs)
        return manager


_NO_OP = trace.NoOpTracer()
_JOURNEY_TRACER = _JourneyTracer()


class JourneyTracerProvider(trace.TracerProvider):
    """The global tracer provider the harness sets in a process that runs journeys, when
    nothing else was set: every tracer it gives is the harness's current one."""

    follows_harness = True  #: `GlobalPath` must not follow it back to the harness's path

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        """The harness's tracer, whatever the scope asked for."""
        return _JOURNEY_TRACER


def start_iteration(
    *, run_id: str, journey: str, target: str, worker: int, user: int, iteration: int
) -> tuple[Span, Context]:
    """Start the root span of one journey iteration; return it and the context to parent on."""
    return _path.start_iteration(run_id, journey, target, worker, user, iteration)


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
    return _path.start_step(parent, step, touchpoint, target, iteration, run_id, journey)


def start_request(
    parent: Context | None, method: str, url: str, headers: MutableMapping[str, str]
) -> Span:
    """Start an HTTP client span and inject `traceparent`/`baggage` into `headers`."""
    return _path.start_request(parent, method, url, headers)


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
    return _path.start_action(parent, name, attributes)


def end_span(span: Span, error_type: str | None = None, message: str | None = None) -> None:
    """Finish a span, marking it failed when `error_type` is given."""
    if error_type is not None:
        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR, redact(message) if message else message))
    span.end()


def trace_headers(ctx: Context | None) -> dict[str, str]:
    """`traceparent` (and `baggage`) for requests made under `ctx`, e.g. by the browser."""
    return _path.trace_headers(ctx)


def trace_id_of(span: Span) -> str | None:
    """The hex trace id of a recording span, else None."""
    return _path.trace_id(span)
