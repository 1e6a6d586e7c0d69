"""One tracer path per process (`harness.telemetry.tracer_paths`), and the typed span row the
light tracer spools (`harness.telemetry.spool.EndedSpan`)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

from harness import journey
from harness.telemetry import spans
from harness.telemetry.otel_private import SPAN_KEY
from harness.telemetry.recorder import LightSpan, LightTracer, LightTracerProvider
from harness.telemetry.spool import EndedSpan, SpanSpool, read_spool
from harness.telemetry.tracer_paths import OFF, ApiPath, GlobalPath, LightPath, path_for
from harness.testing import FakeTransport, json_response, run_once
from harness.touchpoints.http import HttpRequest, RawResponse


@journey
def one_step(j):  # type: ignore[no-untyped-def]
    with j.step("first", on="api"):
        j.api.get("/orders/1")


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[SpanSpool]:
    opened = SpanSpool(tmp_path / "spans.spool")
    yield opened
    spans.use_provider(None)
    opened.close()


def _rows(spool: SpanSpool, *, merge: bool = True) -> list[EndedSpan]:
    spool.close()
    with open(spool.path, "rb") as handle:
        return [row for batch in read_spool(handle, merge=merge) if batch for row in batch]


def test_each_provider_gets_its_one_path(spool: SpanSpool) -> None:
    assert type(path_for(LightTracerProvider(spool))) is LightPath
    assert type(path_for(TracerProvider())) is ApiPath
    assert path_for(trace.NoOpTracerProvider()) is OFF
    assert type(path_for(None)) is GlobalPath


def test_a_spooled_row_reads_back_field_by_field(spool: SpanSpool) -> None:
    """`LightSpan.end` writes a plain tuple (`marshal` writes no named tuple): its order is
    `EndedSpan`'s, field by field."""
    tracer = LightTracer(spool)
    root = tracer.root("journey j", {"shared": "s"}, {"own": 1})
    parent = Context({SPAN_KEY: root})
    child = tracer.child("GET /x", parent, SpanKind.CLIENT, {"url": "u"}, None)
    child.add_event("retry", {"n": 2}, timestamp=30)
    child.set_status(StatusCode.ERROR, "boom")
    child.end(end_time=50)
    root.end(end_time=60)
    first, second = _rows(spool)
    assert isinstance(root, LightSpan) and isinstance(child, LightSpan)
    assert first == EndedSpan(
        trace_id=root.trace_id,
        span_id=child.span_id,
        parent_id=root.span_id,
        name="GET /x",
        kind=SpanKind.CLIENT.value,
        start_ns=child.start_ns,
        end_ns=50,
        attributes={"url": "u"},
        status_code=StatusCode.ERROR.value,
        status_message="boom",
        events=(("retry", 30, {"n": 2}),),
    )
    assert (second.parent_id, second.end_ns, second.status_code) == (0, 60, 0)
    assert second.attributes == {"shared": "s", "own": 1}
    assert f"{second.trace_id:032x}" == root.trace_hex()


def test_an_unmerged_row_keeps_its_shared_attributes_apart(spool: SpanSpool) -> None:
    shared = {"harness.step": "pay"}
    LightTracer(spool).root("step pay", shared, {"harness.iteration": 3}).end()
    (row,) = _rows(spool, merge=False)
    assert row.attributes == (shared, {"harness.iteration": 3})


def test_the_light_path_starts_under_a_span_from_outside_the_harness(spool: SpanSpool) -> None:
    """A parent that is not the light tracer's own (here a remote span) still parents the
    harness's step and request, through the API's `start_span`."""
    spans.use_provider(LightTracerProvider(spool))
    remote = NonRecordingSpan(SpanContext(0xABC, 0xDEF, True, TraceFlags(1)))
    outside = trace.set_span_in_context(remote)
    step, ctx = spans.start_step(
        outside, step="s", touchpoint="api", target="t", iteration=4, run_id="r", journey="j"
    )
    headers: dict[str, str] = {}
    request = spans.start_request(ctx, "GET", "http://shop.test/api/v1/orders/7", headers)
    spans.end_request(request, 200, None)
    spans.end_span(step)
    assert headers["traceparent"].startswith(f"00-{0xABC:032x}-")
    assert "harness.step=s" in headers["baggage"]
    assert spans.trace_id_of(step) == f"{0xABC:032x}"
    by_name = {row.name: row for row in _rows(spool)}
    assert by_name["step s"].parent_id == 0xDEF
    assert by_name["step s"].attributes["harness.iteration"] == 4
    assert by_name["GET /api/v1/orders/{id}"].parent_id == by_name["step s"].span_id


def test_tracing_switched_off_records_nothing_and_sends_no_header() -> None:
    spans.use_provider(trace.NoOpTracerProvider())
    seen: list[dict[str, str]] = []

    def shop(request: HttpRequest) -> RawResponse:
        seen.append(dict(request.headers))
        return json_response(200, {"ok": True})

    try:
        record, _ = run_once(one_step, transport=FakeTransport(shop))
    finally:
        spans.use_provider(None)
    assert record.trace_id is None
    assert seen and not any("traceparent" in h or "baggage" in h for h in seen)


def test_a_global_provider_set_after_start_up_gets_the_spans() -> None:
    """Nothing wired: the global provider is looked up on each call, so one set after the
    harness was imported (and used) gets the spans. In a subprocess: it can be set once."""
    code = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from harness import journey
from harness.telemetry import spans
before, _ = spans.start_iteration(run_id="r", journey="j", target="t", worker=0, user=0,
                                  iteration=0)
memory = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(provider)
root, ctx = spans.start_iteration(run_id="r", journey="j", target="t", worker=0, user=0,
                                  iteration=1)
headers = {}
spans.end_request(spans.start_request(ctx, "GET", "http://x.test/a", headers), 200, None)
spans.end_span(root)
print(before.is_recording(), sorted(s.name for s in memory.get_finished_spans()),
      "traceparent" in headers)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split("\n")[0] == "False ['GET /a', 'journey j'] True"
