"""Every private OpenTelemetry name the harness uses, and the only module that imports one.

OpenTelemetry may change a private name in any release, so each is named here once, with why the
harness needs it. pyproject.toml bounds `opentelemetry-*` below 1.46. Each name below was
checked in opentelemetry-api 1.27.0 (the lower bound) and 1.45.2 (constraints.txt).
`tests/unit/test_otel_private.py` fails when another module imports a private OpenTelemetry
name, or when one of these no longer behaves as described here. Check them again before raising
the bound.
"""

from __future__ import annotations

# The context key of the baggage entries' dict (`opentelemetry.baggage`). `baggage.get_all`
# returns a new read-only view on each call, so the view's identity cannot tell whether two
# contexts share one dict of entries. The harness caches the `baggage` header by the identity
# of the dict itself (`harness.telemetry.spans`).
from opentelemetry.baggage import _BAGGAGE_KEY as BAGGAGE_KEY

# The context key of the current span (`opentelemetry.trace.propagation`). Writing it lets the
# harness build a span's context in one copy, where `trace.set_span_in_context` makes two.
# Reading it lets the harness get the parent span without `trace.get_current_span`'s ABC
# isinstance check, which costs more than the lookup (`harness.telemetry.spans`,
# `harness.telemetry.recorder`).
from opentelemetry.trace.propagation import _SPAN_KEY as SPAN_KEY

# The decorator of the API's `Tracer.start_as_current_span` (`opentelemetry.util._decorator`).
# An override of that method must return what the API's returns: a context manager that also
# decorates sync and async functions. `LightTracer` in `harness.telemetry.recorder` overrides it.
from opentelemetry.util._decorator import _agnosticcontextmanager as agnosticcontextmanager

__all__ = ["BAGGAGE_KEY", "SPAN_KEY", "agnosticcontextmanager"]
