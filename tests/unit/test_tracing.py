"""Tracing through the runtime with an in-memory SDK: one trace per iteration, parent links,
traceparent on requests, the keep-failed sampler and the terminal tree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from harness import journey
from harness.telemetry import spans
from harness.telemetry.otlp_json import OtlpJsonLinesExporter
from harness.telemetry.trace_view import load_traces, render, select_traces
from harness.telemetry.tracing import JourneySampler
from harness.testing import FakeTransport, json_response, run_once
from harness.touchpoints.http import HttpRequest, RawResponse


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    spans.use_provider(provider)
    yield memory
    spans.use_provider(None)


seen_headers: list[dict[str, str]] = []


def shop(request: HttpRequest) -> RawResponse:
    seen_headers.append(dict(request.headers))
    if request.url.endswith("/broken"):
        return json_response(500, {"error": "boom"})
    return json_response(200, {"ok": True})


@journey
def two_steps(j):
    with j.step("first", on="api"):
        j.api.get("/orders/123")
    with j.step("second", on="mobile"):
        j.mobile.get("/broken")


def test_one_trace_per_iteration_with_parent_links(exporter: InMemorySpanExporter) -> None:
    seen_headers.clear()
    record, sink = run_once(two_steps, transport=FakeTransport(shop))

    finished = {s.name: s for s in exporter.get_finished_spans()}
    assert set(finished) == {
        "journey two_steps",
        "step first",
        "GET /api/v1/orders/{id}",
        "step second",
        "GET /mobile/v2/broken",
    }
    root = finished["journey two_steps"]
    trace_ids = {s.context.trace_id for s in finished.values()}
    assert trace_ids == {root.context.trace_id}
    assert finished["step first"].parent.span_id == root.context.span_id
    assert (
        finished["GET /api/v1/orders/{id}"].parent.span_id == finished["step first"].context.span_id
    )
    request = finished["GET /api/v1/orders/{id}"]
    assert request.attributes["http.response.status_code"] == 200
    assert request.attributes["url.template"] == "/api/v1/orders/{id}"
    assert request.attributes["user_agent.synthetic.type"] == "test"
    failed = finished["GET /mobile/v2/broken"]
    assert failed.attributes["error.type"] == "500"
    assert finished["step second"].attributes["error.type"] == "http_status"
    assert root.attributes["harness.outcome"] == "failed"
    # traceparent names the request span; baggage carries run, journey and step.
    traceparent = seen_headers[0]["traceparent"]
    assert traceparent.split("-")[1] == f"{root.context.trace_id:032x}"
    assert traceparent.split("-")[2] == f"{request.context.span_id:016x}"
    assert "harness.step=first" in seen_headers[0]["baggage"]
    assert record.trace_id == f"{root.context.trace_id:032x}"
    assert sink.steps[0].trace_id == record.trace_id


def test_without_an_sdk_nothing_is_recorded() -> None:
    seen_headers.clear()
    record, _ = run_once(two_steps, transport=FakeTransport(shop))
    assert record.trace_id is None
    assert "traceparent" not in seen_headers[0]


def test_sampler_keeps_failed_and_slow_traces_and_a_share_of_the_rest(tmp_path: Path) -> None:
    memory = InMemorySpanExporter()
    sampler = JourneySampler(SimpleSpanProcessor(memory), rate=0.0)
    provider = TracerProvider()
    provider.add_span_processor(sampler)
    spans.use_provider(provider)
    try:
        for _ in range(30):
            run_once(two_steps, transport=FakeTransport(lambda r: json_response(200, {})))
        run_once(two_steps, transport=FakeTransport(shop))  # fails
    finally:
        spans.use_provider(None)
    roots = [s for s in memory.get_finished_spans() if s.name.startswith("journey ")]
    assert any(r.attributes["harness.outcome"] == "failed" for r in roots)
    assert sampler.dropped >= 20
    # Kept traces are whole: every kept span belongs to a kept root.
    kept_traces = {r.context.trace_id for r in roots}
    assert {s.context.trace_id for s in memory.get_finished_spans()} == kept_traces


def test_trace_tree_from_a_stored_file(tmp_path: Path) -> None:
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(OtlpJsonLinesExporter(tmp_path / "traces.jsonl"))
    )
    spans.use_provider(provider)
    try:
        run_once(two_steps, transport=FakeTransport(shop))
    finally:
        spans.use_provider(None)
        provider.shutdown()
    traces = load_traces(tmp_path)
    assert len(traces) == 1 and traces[0].failed and traces[0].spans == 5
    assert select_traces(traces, failed=True) == traces
    assert select_traces(traces, journey="other") == []
    text = "\n".join(render(traces[0]))
    assert "journey two_steps" in text and "FAILED" in text
    assert "├─ step first [api]" in text
    assert "└─ step second [mobile]" in text
    assert "GET /mobile/v2/broken" in text and "✗ 500" in text
