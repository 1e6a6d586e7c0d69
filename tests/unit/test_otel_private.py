"""Private OpenTelemetry names are imported in `harness/telemetry/otel_private.py` only, and
still behave there as the harness relies on."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Iterator
from pathlib import Path

from opentelemetry import baggage, trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext

from harness.telemetry import otel_private
from harness.telemetry.otel_private import BAGGAGE_KEY, SPAN_KEY, agnosticcontextmanager
from harness.telemetry.recorder import LightTracer
from harness.telemetry.spool import SpanSpool

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("harness", "synth", "journeys", "bench", "scripts", "tests")
THE_ONE_MODULE = ROOT / "harness" / "telemetry" / "otel_private.py"


def _private(name: str) -> bool:
    """A private name: `_x`, but not a dunder or an enum's sunder (`_value_`)."""
    return name.startswith("_") and not name.endswith("_")


def private_otel_uses(source: str) -> list[str]:
    """Each private OpenTelemetry name `source` imports, or reaches as an attribute of a name it
    imported from OpenTelemetry, as `line: dotted.name`."""
    tree = ast.parse(source)
    bound: set[str] = set()  # local names bound to OpenTelemetry modules or objects
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == (
            "opentelemetry"
        ):
            module = node.module or ""
            for alias in node.names:
                dotted = f"{module}.{alias.name}"
                if any(_private(part) for part in dotted.split(".")):
                    found.append(f"{node.lineno}: {dotted}")
                bound.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "opentelemetry":
                    continue
                if any(_private(part) for part in alias.name.split(".")):
                    found.append(f"{node.lineno}: {alias.name}")
                bound.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in bound:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def _sources() -> Iterator[Path]:
    for folder in SCANNED:
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_no_module_but_one_uses_a_private_opentelemetry_name() -> None:
    offenders = {
        str(path.relative_to(ROOT)): uses
        for path in _sources()
        if path != THE_ONE_MODULE and (uses := private_otel_uses(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "import it from harness/telemetry/otel_private.py, saying why"


def test_the_scan_sees_every_way_of_reaching_a_private_name() -> None:
    source = (
        "from opentelemetry.baggage import _BAGGAGE_KEY\n"
        "from opentelemetry.util._decorator import agnostic\n"
        "import opentelemetry.util._decorator as deco\n"
        "from opentelemetry import trace\n"
        "from opentelemetry.trace import StatusCode\n"
        "key = trace.propagation._SPAN_KEY\n"
        "ok = StatusCode.OK._value_\n"  # an enum's sunder name: not OpenTelemetry's
        "mine = something._private\n"
    )
    assert private_otel_uses(source) == [
        "1: opentelemetry.baggage._BAGGAGE_KEY",
        "2: opentelemetry.util._decorator.agnostic",
        "3: opentelemetry.util._decorator",
        "6: trace.propagation._SPAN_KEY",
    ]
    assert len(private_otel_uses(THE_ONE_MODULE.read_text(encoding="utf-8"))) == 3
    assert otel_private.__all__ == ["BAGGAGE_KEY", "SPAN_KEY", "agnosticcontextmanager"]


def test_the_span_key_is_where_the_api_keeps_the_current_span() -> None:
    span = NonRecordingSpan(SpanContext(1, 2, False))
    assert trace.set_span_in_context(span).get(SPAN_KEY) is span
    assert trace.get_current_span(Context({SPAN_KEY: span})) is span


def test_the_baggage_key_holds_the_entries_dict_the_api_reads() -> None:
    ctx = baggage.set_baggage("harness.step", "pay", context=baggage.set_baggage("a", "1"))
    assert dict(ctx[BAGGAGE_KEY]) == {"a": "1", "harness.step": "pay"}
    entries = {"harness.journey": "checkout"}
    assert baggage.get_all(Context({BAGGAGE_KEY: entries})) == entries


def test_the_light_tracers_start_as_current_span_is_the_apis_kind(tmp_path: Path) -> None:
    """The override returns what the API's does, usable as a decorator of an async function
    (its span then lasts as long as the coroutine)."""
    tracer = LightTracer(SpanSpool(tmp_path / "spans.spool"))
    api = trace.NoOpTracer().start_as_current_span("x")
    assert type(tracer.start_as_current_span("x")) is type(api)

    @agnosticcontextmanager
    def block() -> Iterator[int]:
        yield 1

    @block()
    async def work() -> str:
        return "done"

    assert asyncio.run(work()) == "done"
    with tracer.start_as_current_span("y") as span:
        assert trace.get_current_span() is span
    tracer.spool.close()
