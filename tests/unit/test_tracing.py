"""Tracing through the runtime with an in-memory SDK: one trace per iteration, parent links,
traceparent on requests, the keep-failed sampler and the terminal tree."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psutil
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from harness import journey
from harness.telemetry import spans, tracer_paths
from harness.telemetry.export_deferral import MAX_BACKLOG_BYTES, Deferral, MachineLoad
from harness.telemetry.otlp_json import (
    OtlpJsonLinesExporter,
    SpanRow,
    read_spans,
    rows_to_otlp_json,
)
from harness.telemetry.recorder import LightTracer, LightTracerProvider
from harness.telemetry.sidecar import SpoolExport
from harness.telemetry.spool import EndedSpan, SpanSpool, read_spool
from harness.telemetry.spool_follower import run as run_sidecar
from harness.telemetry.trace_view import load_traces, render, select_traces
from harness.testing import FakeTransport, json_response, run_once
from harness.touchpoints.http import HttpRequest, RawResponse

T = TypeVar("T")


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
    # each step's own baggage (built once per step name and shared by its requests)
    second = seen_headers[1]["baggage"]
    assert "harness.step=second" in second and "harness.journey=two_steps" in second
    assert "harness.run_id=" in second
    assert record.trace_id == f"{root.context.trace_id:032x}"
    assert sink.steps[0].trace_id == record.trace_id


def test_without_an_sdk_nothing_is_recorded() -> None:
    seen_headers.clear()
    record, _ = run_once(two_steps, transport=FakeTransport(shop))
    assert record.trace_id is None
    assert "traceparent" not in seen_headers[0]


def _through_the_spool(
    tmp_path: Path, run: Callable[[], T], service: str = "t", sample_rate: float = 1.0
) -> tuple[T, SpoolExport, list[SpanRow]]:
    """`run` with the light tracer wired to a spool, then the spool exported as the sidecar
    does: what `run` returned, the export and the spans it wrote."""
    spool = SpanSpool(tmp_path / "spans.spool")
    spans.use_provider(LightTracerProvider(spool))
    try:
        result = run()
    finally:
        spans.use_provider(None)
        spool.close()
    export = SpoolExport(
        tmp_path / "traces.jsonl", {"service.name": service}, sample_rate=sample_rate
    )
    with open(spool.path, "rb") as handle:
        assert export.follow(handle)  # reached the end mark
    export.shutdown()
    return result, export, list(read_spans(tmp_path / "traces.jsonl"))


def test_sampler_keeps_failed_and_slow_traces_and_a_share_of_the_rest(tmp_path: Path) -> None:
    def run() -> None:
        for _ in range(30):
            run_once(two_steps, transport=FakeTransport(lambda r: json_response(200, {})))
        run_once(two_steps, transport=FakeTransport(shop))  # fails

    _, export, rows = _through_the_spool(tmp_path, run, sample_rate=0.0)
    roots = [r for r in rows if r.name.startswith("journey ")]
    assert any(r.attributes["harness.outcome"] == "failed" for r in roots)
    assert export.spans == 31 * 5 and export.sampler.dropped >= 20
    # Kept traces are whole: every kept span belongs to a kept root.
    kept_traces = {r.trace_id for r in roots}
    assert {r.trace_id for r in rows} == kept_traces
    assert len(rows) == 5 * len(roots)


def test_light_tracer_spans_round_trip_through_the_spool(tmp_path: Path) -> None:
    (record, _), _, found = _through_the_spool(
        tmp_path, lambda: run_once(two_steps, transport=FakeTransport(shop)), "harness-test"
    )
    rows = {r.name: r for r in found}
    root = rows["journey two_steps"]
    assert root.trace_id == record.trace_id and root.parent_id is None
    assert root.service == "harness-test" and root.status == "STATUS_CODE_ERROR"
    assert rows["step first"].parent_id == root.span_id
    request = rows["GET /api/v1/orders/{id}"]
    assert request.parent_id == rows["step first"].span_id
    assert request.kind == "SPAN_KIND_CLIENT"
    # OTLP/JSON carries 64-bit integers as strings.
    assert request.attributes["http.response.status_code"] == "200"
    assert request.attributes["server.port"] == "80"


def test_a_torn_spool_record_is_left_for_later(tmp_path: Path) -> None:
    spool = SpanSpool(tmp_path / "spans.spool")
    spool.add((1, 2, 0, "journey x", 0, 10, 20, {}, 0, None, []))
    spool.flush()
    spool.add((1, 3, 2, "step y", 0, 11, 19, {"a": 1}, 0, None, []))
    spool.flush()
    spool._file.close()  # killed: no end mark
    data = spool.path.read_bytes()
    spool.path.write_bytes(data[:-3])  # a kill in the middle of the second write
    with open(spool.path, "rb") as handle:
        batches = list(read_spool(handle))
        assert [len(b or []) for b in batches] == [1]
        assert handle.tell() == _first_record_size(data)


def _first_record_size(data: bytes) -> int:
    return 4 + int.from_bytes(data[:4], "big")


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


def test_otlp_json_text_encodes_every_value_kind_and_escapes_strings() -> None:
    row = EndedSpan(
        trace_id=0xABC,
        span_id=0x12,
        parent_id=0x34,
        name='GET /q?"x"',
        kind=2,  # SERVER in the API's enum
        start_ns=100,
        end_ns=250,
        attributes={"s": 'a "quoted"\nline é', "b": True, "i": 7, "f": 1.5, "l": ["x", 2]},
        status_code=2,
        status_message="boom",
        events=[("exception", 200, {"exception.type": "ValueError"})],
    )
    message = json.loads(rows_to_otlp_json({"service.name": "svc"}, "scope", [row]))
    resource = message["resourceSpans"][0]
    assert resource["resource"]["attributes"] == [
        {"key": "service.name", "value": {"stringValue": "svc"}}
    ]
    span = resource["scopeSpans"][0]["spans"][0]
    assert resource["scopeSpans"][0]["scope"] == {"name": "scope", "version": ""}
    assert span["traceId"] == f"{0xABC:032x}" and span["spanId"] == f"{0x12:016x}"
    assert span["parentSpanId"] == f"{0x34:016x}" and span["name"] == 'GET /q?"x"'
    assert span["kind"] == 3 and span["status"] == {"code": 2, "message": "boom"}
    assert (span["startTimeUnixNano"], span["endTimeUnixNano"]) == ("100", "250")
    assert span["attributes"] == [
        {"key": "s", "value": {"stringValue": 'a "quoted"\nline é'}},
        {"key": "b", "value": {"boolValue": True}},
        {"key": "i", "value": {"intValue": "7"}},
        {"key": "f", "value": {"doubleValue": 1.5}},
        {
            "key": "l",
            "value": {"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": "2"}]}},
        },
    ]
    assert span["events"] == [
        {
            "timeUnixNano": "200",
            "name": "exception",
            "attributes": [{"key": "exception.type", "value": {"stringValue": "ValueError"}}],
        }
    ]


def _sdk_spans(journey_func: Callable[..., None]) -> dict[str, dict[str, object]]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    spans.use_provider(provider)
    try:
        run_once(journey_func, transport=FakeTransport(shop))
    finally:
        spans.use_provider(None)
    found = {s.name: s for s in memory.get_finished_spans()}
    names = {s.context.span_id: s.name for s in found.values()}
    return {
        name: {
            "parent": names.get(s.parent.span_id) if s.parent else None,
            "kind": s.kind.name,
            "status": s.status.status_code.name,
            # OTLP/JSON writes integers as strings
            "attributes": {
                k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v
                for k, v in (s.attributes or {}).items()
            },
        }
        for name, s in found.items()
    }


def _light_spans(journey_func: Callable[..., None], tmp_path: Path) -> dict[str, dict[str, object]]:
    _, _, rows = _through_the_spool(
        tmp_path, lambda: run_once(journey_func, transport=FakeTransport(shop))
    )
    found = {r.name: r for r in rows}
    names = {r.span_id: r.name for r in found.values()}
    return {
        name: {
            "parent": names.get(r.parent_id) if r.parent_id else None,
            "kind": r.kind.removeprefix("SPAN_KIND_"),
            "status": r.status.removeprefix("STATUS_CODE_"),
            "attributes": r.attributes,
        }
        for name, r in found.items()
    }


def test_the_light_tracers_spans_are_the_sdks_attribute_for_attribute(tmp_path: Path) -> None:
    """The harness's own tracer takes a shorter path for its journey, step and request spans
    (a shared attribute dict plus the span's own, encoded once per batch): what reaches the
    trace file must be what the SDK records for the same journey through the API."""
    sdk = _sdk_spans(two_steps)
    light = _light_spans(two_steps, tmp_path)
    assert set(light) == set(sdk)
    for name in sdk:
        sdk_attributes = dict(sdk[name]["attributes"])  # type: ignore[call-overload]
        light_attributes = dict(light[name]["attributes"])  # type: ignore[call-overload]
        assert light_attributes == sdk_attributes, name
        assert light[name]["parent"] == sdk[name]["parent"], name
        assert light[name]["kind"] == sdk[name]["kind"], name
        assert light[name]["status"] == sdk[name]["status"], name


def test_a_batch_writes_each_shared_attribute_dict_once(tmp_path: Path) -> None:
    """The attributes every request span to one URL shares are one dict, which `marshal`
    writes once per batch: 200 requests take less room than 200 copies of it would."""
    spool = SpanSpool(tmp_path / "spans.spool")
    spans.use_provider(LightTracerProvider(spool))
    try:
        _, ctx = spans.start_iteration(
            run_id="r", journey="j", target="t", worker=0, user=0, iteration=0
        )
        _, step = spans.start_step(
            ctx, step="s", touchpoint="api", target="t", iteration=0, run_id="r", journey="j"
        )
        for _ in range(200):
            spans.end_request(
                spans.start_request(step, "GET", "http://shop.test/api/v1/products", {}), 200, None
            )
        _, shared = tracer_paths.request_parts("GET", "http://shop.test/api/v1/products")
    finally:
        spans.use_provider(None)
        spool.close()
    import marshal

    assert spool.path.stat().st_size < 200 * len(marshal.dumps(shared))
    with open(spool.path, "rb") as handle:
        rows = [row for batch in read_spool(handle) if batch for row in batch]
    assert len(rows) == 200
    assert all(row.attributes == {**shared, "http.response.status_code": 200} for row in rows)


def test_a_light_span_ignores_attributes_and_status_set_after_it_ended(tmp_path: Path) -> None:
    spool = SpanSpool(tmp_path / "spans.spool")
    tracer = LightTracerProvider(spool).get_tracer("t")
    span = tracer.start_span("x", attributes={"a": 1})
    span.set_status(StatusCode.OK)
    span.set_status(StatusCode.ERROR)  # an explicit OK is final
    span.end()
    span.set_attribute("b", 2)
    span.end()  # again: no second row
    spool.close()
    with open(spool.path, "rb") as handle:
        rows = [row for batch in read_spool(handle) if batch for row in batch]
    assert len(rows) == 1
    assert rows[0].attributes == {"a": 1} and rows[0].status_code == StatusCode.OK.value


def test_the_export_waits_while_no_core_is_idle_and_the_spool_grows() -> None:
    idle = [0.4]
    deferral = Deferral(1.0, idle=lambda: idle[0])
    # a run writing its spool on a machine without an idle core: wait
    assert deferral.wait(size=1000, backlog=1000, now=0.0)
    assert deferral.wait(size=2000, backlog=2000, now=0.9)
    # a core came free: export
    idle[0] = 1.2
    assert not deferral.wait(size=3000, backlog=3000, now=1.0)
    idle[0] = 0.1
    assert deferral.wait(size=4000, backlog=1000, now=1.1)
    # the spool has stopped growing (the run ended, or paused): catch up whatever the load
    assert deferral.wait(size=4000, backlog=1000, now=2.0)
    assert not deferral.wait(size=4000, backlog=1000, now=2.2)
    # nothing to read, or too much waiting already: no reason to wait
    assert not deferral.wait(size=5000, backlog=0, now=2.3)
    assert not deferral.wait(size=6000 + MAX_BACKLOG_BYTES, backlog=MAX_BACKLOG_BYTES, now=2.4)


def test_an_idle_cores_threshold_of_zero_never_waits() -> None:
    deferral = Deferral(0.0, idle=lambda: 0.0)
    assert not deferral.wait(size=1000, backlog=1000, now=0.0)
    assert not deferral.wait(size=2000, backlog=2000, now=0.1)


def test_a_process_burning_a_core_leaves_one_core_fewer_idle() -> None:
    load = MachineLoad()
    cores = psutil.cpu_count() or 1
    burner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nend = time.time() + 1.0\nwhile time.time() < end: pass",
        ]
    )
    try:
        load.idle_cores()
        time.sleep(0.6)
        idle = load.idle_cores()
    finally:
        burner.kill()
        burner.communicate()  # reaps it and closes its pipes
    assert 0.0 <= idle <= cores - 0.5


def test_a_closed_spool_is_exported_at_once_however_busy_the_machine(tmp_path: Path) -> None:
    spool = SpanSpool(tmp_path / "spans.spool")
    LightTracer(spool).root("journey j", {}, None).end()
    spool.close()  # the run is over: its end mark is written

    def no_idle_core() -> float:
        raise AssertionError("the export asked whether to wait for a spool that had ended")

    export = SpoolExport(tmp_path / "traces.jsonl", {"service.name": "t"})
    assert run_sidecar(spool.path, export, parent=None, deferral=Deferral(1.0, no_idle_core))
    export.shutdown()
    assert len(list(read_spans(tmp_path / "traces.jsonl"))) == 1
