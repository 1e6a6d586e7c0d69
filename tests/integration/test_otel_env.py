"""The `OTEL_*` environment as the OpenTelemetry SDK specification defines it, seen by a real
OTLP/HTTP receiver: service and resource, the signal's own endpoint, the exporter's headers, and
the trace-id ratio sampler deciding at the root what `traceparent` says; and a span a journey
makes through the OpenTelemetry API is a child of its step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

from harness.sandbox.process import SandboxUrls
from harness.telemetry.receiver import OtlpGrpcReceiver, OtlpReceiver
from tests.integration.conftest import only_run_dir, run_cli

# It reads a smoke's exit code, which its journeys decide (the odd ones fail as written), not
# the machine's load: it runs in make test's parallel pass.
pytestmark = pytest.mark.integration

JOURNEYS = 32  #: half pass, half fail: P(no trace on one side of the 0.5 ratio) = 2**-16
JOURNEY_MODULE = f"""
from opentelemetry import trace
from opentelemetry.propagate import inject

from harness import journey

tracer = trace.get_tracer("my.journeys")  # at import, before the harness wires tracing


def _make(i):
    def run(j):
        with j.step("work", on="api"):
            with tracer.start_as_current_span("my work") as span:
                carrier = {{}}
                inject(carrier)
                span.set_attribute("my.traceparent", carrier.get("traceparent", ""))
            assert i % 2 == 0, "an odd journey fails"

    return run


for i in range({JOURNEYS}):
    globals()[f"otel_{{i:02d}}"] = journey(name=f"otel_{{i:02d}}")(_make(i))
"""


def test_otel_environment_reaches_the_receiver_and_user_spans_join_their_step(
    sandbox: SandboxUrls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journeys = tmp_path / "otel_journeys.py"
    journeys.write_text(JOURNEY_MODULE)
    results = tmp_path / "results"
    with OtlpReceiver() as receiver:
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout-rehearsal")
        monkeypatch.setenv(
            "OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging,team=payments"
        )
        # the signal's own endpoint is used as it is (appending /v1/traces would reach a 404)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{receiver.endpoint}/v1/traces")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme,x-token=s3cr%C3%A9t")
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
        result = run_cli(
            "smoke",
            "--target",
            sandbox.base,
            "--journeys",
            str(journeys),
            "--results",
            str(results),
        )
    assert result.code == 1, result.out + result.err  # the odd journeys failed, as written
    run_dir = only_run_dir(results)
    assert (
        f"traces: service checkout-rehearsal, OTLP http/protobuf to {receiver.endpoint}/v1/traces, "
        "0.5 of the traces sampled at the root (OTEL_* environment read)"
    ) in result.out

    # The exporter's headers, from the environment.
    assert receiver.trace_headers
    assert all(h.get("x-tenant") == "acme" for h in receiver.trace_headers)
    assert all(h.get("x-token") == "s3crét" for h in receiver.trace_headers)

    # Service and resource attributes, at the receiver and in the file alike.
    ours = [s for s in receiver.spans if s.name.startswith(("journey ", "step ", "my "))]
    assert ours
    for span in ours:
        assert span.resource["service.name"] == "checkout-rehearsal"
        assert span.resource["deployment.environment.name"] == "staging"
        assert span.resource["team"] == "payments"
        assert span.resource["harness.run_id"] == run_dir.name
    for line in (run_dir / "traces.jsonl").read_text().splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            attributes = {
                a["key"]: a["value"].get("stringValue") for a in resource["resource"]["attributes"]
            }
            if attributes.get("harness.run_id") != run_dir.name:
                continue  # the sandbox's own spans
            assert attributes["service.name"] == "checkout-rehearsal"
            assert attributes["deployment.environment.name"] == "staging"
            assert attributes["team"] == "payments"

    # The ratio sampler decided at each root (the SDK's rule), traceparent carried it, and the
    # harness kept what was sampled plus every failed trace.
    steps = [json.loads(x) for x in (run_dir / "steps.jsonl").read_text().splitlines()]
    traces = {s["journey"]: s["trace_id"] for s in steps}
    assert len(traces) == JOURNEYS
    ratio = TraceIdRatioBased(0.5)
    head = {
        name: ratio.should_sample(None, int(trace_id, 16), "x").decision.is_sampled()
        for name, trace_id in traces.items()
    }
    roots = [s for s in receiver.spans if s.parent_id is None]
    received_roots = {s.name.removeprefix("journey ") for s in roots}
    failed = {name for name in traces if int(name[-2:]) % 2 == 1}
    assert received_roots == {n for n in traces if head[n]} | failed
    assert any(not head[n] for n in failed)  # kept for failing, though not sampled at the head
    assert any(not head[n] for n in traces if n not in failed)  # dropped passes

    # A journey's own span is a child of its step, and its traceparent says the head decision.
    by_id = {s.span_id: s for s in receiver.spans}
    mine = [s for s in receiver.spans if s.name == "my work"]
    assert len(mine) == len(received_roots)
    for span in mine:
        parent = by_id[span.parent_id or ""]
        assert parent.name == "step work" and parent.trace_id == span.trace_id
        journey = next(n for n, t in traces.items() if t == span.trace_id)
        flag = span.attributes["my.traceparent"].rsplit("-", 1)[1]
        assert flag == ("01" if head[journey] else "00"), (journey, flag)


def test_spans_and_metrics_go_over_grpc_when_the_protocol_says_so(
    sandbox: SandboxUrls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OtlpGrpcReceiver() as receiver:
        for name in ("OTEL_TRACES_SAMPLER", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)  # no path over gRPC
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=acme")
        result = run_cli(
            "smoke", "--target", sandbox.base, "-k", "api_catalog", "--results", str(tmp_path)
        )
    assert result.code == 0, result.out + result.err
    assert f"OTLP grpc to {receiver.endpoint}, 1 of the traces" in result.out
    names = {s.name for s in receiver.spans}
    assert {"journey api_catalog_and_orders", "step pay", "POST /api/v1/orders"} <= names
    assert all(s.resource["service.name"] == "journey-harness" for s in receiver.spans)
    assert receiver.trace_headers and all(h["x-tenant"] == "acme" for h in receiver.trace_headers)
    assert "harness.step.duration" in receiver.metric_names


def _smoke(results: Path, sandbox: SandboxUrls) -> tuple[str, Path]:
    """A smoke of one API journey with `OTEL_EXPORTER_OTLP_ENDPOINT` set to the receiver (as a
    cluster injects it); its output and run folder."""
    result = run_cli(
        "smoke", "--target", sandbox.base, "-k", "api_catalog", "--results", str(results)
    )
    assert result.code == 0, result.out + result.err
    return result.out, only_run_dir(results)


def _journey_roots(run_dir: Path) -> int:
    roots = 0
    for line in (run_dir / "traces.jsonl").read_text().splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                roots += sum(s["name"].startswith("journey ") for s in scope["spans"])
    return roots


def test_otel_traces_exporter_none_keeps_spans_off_the_endpoint_and_in_the_run_folder(
    sandbox: SandboxUrls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OTEL_TRACES_SAMPLER", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
        monkeypatch.delenv(name, raising=False)
    with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
        out, run_dir = _smoke(tmp_path / "none", sandbox)
        assert (
            "traces: service journey-harness, no spans sent over OTLP (OTEL_TRACES_EXPORTER=none; "
            "traces.jsonl has them), no OTLP metrics (OTEL_METRICS_EXPORTER=none), 1 of the traces"
        ) in out
        assert (receiver.requests, len(receiver.spans), receiver.metric_names) == (0, 0, set())
        assert _journey_roots(run_dir) == 1  # the harness's own record, which the gates read

        # The default (otlp), against the same receiver: spans and metrics arrive.
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
        monkeypatch.delenv("OTEL_METRICS_EXPORTER")
        out, run_dir = _smoke(tmp_path / "otlp", sandbox)
        assert f"OTLP http/protobuf to {receiver.endpoint}/v1/traces, 1 of the traces" in out
        names = {s.name for s in receiver.spans}
        assert {"journey api_catalog_and_orders", "step pay"} <= names
        assert "harness.step.duration" in receiver.metric_names
        assert _journey_roots(run_dir) == 1

        # console would print every span where the run's progress and verdict go: refused.
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
        refused = run_cli("smoke", "--target", sandbox.base, "--results", str(tmp_path / "c"))
    assert refused.code == 2, refused.out + refused.err
    assert "OTEL_TRACES_EXPORTER='console'" in refused.out + refused.err
    assert not (tmp_path / "c").exists()
