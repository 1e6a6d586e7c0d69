"""The `OTEL_*` environment read as the SDK specification defines it, the root sampler's
decision in `traceparent`, and the step span current inside `with j.step`."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.propagate import inject
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import Span

from harness import journey
from harness.cli import _parser
from harness.commands.run_options import apply_otel_env
from harness.errors import UsageError
from harness.telemetry import spans
from harness.telemetry.otel_env import (
    GRPC,
    HTTP_PROTOCOL,
    OtlpTarget,
    check_propagators,
    otlp_exporter,
    otlp_target,
    protocol,
    ratio_bound,
    resource_attributes,
    sample_rate,
    sdk_disabled,
)
from harness.telemetry.recorder import LightTracerProvider
from harness.telemetry.sidecar import RowSampler
from harness.telemetry.spool import EndedSpan, SpanSpool, read_spool
from harness.testing import run_once

BASE = "http://collector:4318"


def test_the_signals_own_endpoint_is_used_as_is_and_the_generic_one_gets_its_path() -> None:
    both = {"OTEL_EXPORTER_OTLP_ENDPOINT": BASE, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/x"}
    assert otlp_target("traces", env=both) == OtlpTarget("http://t/x", HTTP_PROTOCOL)
    assert otlp_target("metrics", env=both) == OtlpTarget(f"{BASE}/v1/metrics", HTTP_PROTOCOL)
    generic = {"OTEL_EXPORTER_OTLP_ENDPOINT": BASE + "/"}
    assert otlp_target("traces", env=generic) == OtlpTarget(f"{BASE}/v1/traces", HTTP_PROTOCOL)
    only_traces = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/x"}
    assert otlp_target("metrics", env=only_traces) is None
    assert otlp_target("traces", env={}) is None


def test_the_flag_wins_over_the_environment() -> None:
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/x"}
    assert otlp_target("traces", "http://flag:4318", env).url == "http://flag:4318/v1/traces"
    assert otlp_target("traces", "http://flag/v1/traces", env).url == "http://flag/v1/traces"
    assert sample_rate(0.2, 0.01, {"OTEL_TRACES_SAMPLER": "always_on"}) == (0.2, "--trace-sample")


def test_grpc_takes_endpoints_as_they_are_and_http_json_is_refused() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": GRPC,
    }
    assert otlp_target("traces", env=env) == OtlpTarget("http://collector:4317", GRPC)
    assert protocol("metrics", {**env, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf"}) == (
        HTTP_PROTOCOL
    )
    with pytest.raises(UsageError, match="http/json"):
        protocol("traces", {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"})
    exporter = otlp_exporter(OtlpTarget("http://127.0.0.1:4317", GRPC), "traces", 1.0)
    assert type(exporter).__module__.startswith("opentelemetry.exporter.otlp.proto.grpc")
    exporter.shutdown()


@pytest.mark.parametrize(
    ("env", "rate"),
    [
        ({}, 0.01),
        ({"OTEL_TRACES_SAMPLER": "always_on"}, 1.0),
        ({"OTEL_TRACES_SAMPLER": "always_off"}, 0.0),
        ({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, 0.0),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}, 0.25),
        ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": ".5"}, 0.5),
        ({"OTEL_TRACES_SAMPLER": "traceidratio"}, 1.0),  # no argument: 1.0, as specified
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "lots"}, 1.0),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, 1.0),
    ],
)
def test_the_sampler_from_the_environment(env: dict[str, str], rate: float) -> None:
    assert sample_rate(None, 0.01, env)[0] == rate


def test_a_sampler_the_harness_cannot_apply_is_refused() -> None:
    with pytest.raises(UsageError, match="jaeger_remote"):
        sample_rate(None, 1.0, {"OTEL_TRACES_SAMPLER": "jaeger_remote"})


def test_sdk_disabled_only_by_true() -> None:
    assert sdk_disabled({"OTEL_SDK_DISABLED": "TRUE"})
    assert not sdk_disabled({"OTEL_SDK_DISABLED": "1"}) and not sdk_disabled({})


def test_resource_from_the_sdk_with_the_harness_name_as_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    plain = resource_attributes({"harness.run_id": "r1"}, "journey-harness")
    assert plain["service.name"] == "journey-harness" and plain["harness.run_id"] == "r1"
    assert plain["telemetry.sdk.language"] == "python"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,team=pay%20ments")
    assert resource_attributes({}, "journey-harness")["service.name"] == "from-attrs"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout")  # wins over service.name, as specified
    found = resource_attributes({"harness.run_id": "r1"}, "journey-harness")
    assert found["service.name"] == "checkout" and found["team"] == "pay ments"


def test_the_cli_reads_the_environment_where_no_flag_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.3")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    options = _parser().parse_args(["load", "--target", "http://x"])
    apply_otel_env(options)
    assert options.trace_sample == 0.3 and options.no_traces
    options = _parser().parse_args(["smoke", "--target", "http://x", "--trace-sample", "0.9"])
    apply_otel_env(options)
    assert options.trace_sample == 0.9
    monkeypatch.delenv("OTEL_TRACES_SAMPLER")
    options = _parser().parse_args(["load", "--target", "http://x"])
    apply_otel_env(options)
    assert options.trace_sample == 0.01  # the load default


def _spooled(spool: SpanSpool) -> list[EndedSpan]:
    spool.close()
    with open(spool.path, "rb") as handle:
        return [row for rows in read_spool(handle) if rows is not None for row in rows]


@pytest.mark.parametrize("rate", [0.0, 0.5, 1.0])
def test_the_root_decides_and_traceparent_carries_it(tmp_path: Path, rate: float) -> None:
    spool = SpanSpool(tmp_path / "s.spool")
    tracer = LightTracerProvider(spool, ratio_bound(rate)).get_tracer("t")
    sdk = TraceIdRatioBased(rate)
    flags = set()
    for _ in range(200):
        root = tracer.root("journey j", {}, None)  # type: ignore[attr-defined]
        child = tracer.start_span("mine", trace.set_span_in_context(root))
        expected = sdk.should_sample(None, root.trace_id, "j").decision.is_sampled()
        flag = root.traceparent()[-2:]
        assert flag == ("01" if expected else "00")
        assert child.get_span_context().trace_flags.sampled == expected
        flags.add(flag)
        child.end()
        root.end()
    assert flags == ({"00", "01"} if rate == 0.5 else {"01" if rate else "00"})
    spool.close()


def test_the_sidecar_keeps_head_sampled_and_failed_traces() -> None:
    kept: dict[int, bool] = {}
    sampler = RowSampler(0.5, lambda row, keep: kept.__setitem__(row.trace_id, keep))
    bound = ratio_bound(0.5)
    for n, trace_id in enumerate([1, bound - 1, bound, (1 << 64) - 1, (7 << 64) | bound + 5]):
        status = 2 if n == 4 else 0  # the last one failed
        sampler.sample(
            [EndedSpan(trace_id, 1, 0, "journey j", 1, 0, 10, {}, status, None, ())]  # type: ignore[arg-type]
        )
    assert kept == {1: True, bound - 1: True, bound: False, (1 << 64) - 1: False,
                    (7 << 64) | bound + 5: True}  # fmt: skip


def test_the_sidecar_keeps_the_slowest_of_each_journeys_last_200_roots() -> None:
    # the tail rule, over a window that slides far past its 200: a root is kept when it is at
    # or above the 99th percentile of its journey's previous (up to) 200, once 100 are known
    rng = random.Random(7)
    sampler = RowSampler(0.0)  # no head sampling: only failed and slow roots are kept
    seen: dict[str, list[int]] = {"a": [], "b": []}
    for n in range(1, 1_500):
        journey = "a" if n % 3 else "b"
        duration = int(rng.lognormvariate(10, 1))
        root = EndedSpan(
            n, 1, 0, f"journey {journey}", 1, 0, duration, {"harness.journey": journey}, 0, None, ()
        )
        recent = seen[journey][-200:]
        due = len(recent) >= 100 and duration >= sorted(recent)[int(0.99 * len(recent))]
        assert bool(sampler.sample([root])) == due, n
        seen[journey].append(duration)
    assert sampler.kept > 10


@journey
def makes_its_own_span(j):
    with j.step("work", on="api"), trace.get_tracer("mine").start_as_current_span("w") as span:
        carrier: dict[str, str] = {}
        inject(carrier)
        span.set_attribute("seen", carrier["traceparent"])


def test_a_journeys_own_span_is_a_child_of_its_step(tmp_path: Path) -> None:
    spool = SpanSpool(tmp_path / "s.spool")
    spans.use_provider(LightTracerProvider(spool, ratio_bound(0.0)))
    try:
        record, _ = run_once(makes_its_own_span)
    finally:
        spans.use_provider(None)
    assert record.outcome == "passed"
    rows = {row.name: row for row in _spooled(spool)}
    step, mine = rows["step work"], rows["w"]
    assert mine.parent_id == step.span_id and mine.trace_id == step.trace_id
    seen = dict(mine.attributes)["seen"]  # type: ignore[call-overload]
    assert seen == f"00-{mine.trace_id:032x}-{mine.span_id:016x}-00"  # not head-sampled
    assert trace.get_current_span() is trace.INVALID_SPAN  # the step's context was detached


def test_sdk_disabled_wires_no_tracing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.telemetry import tracing

    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    telemetry = tracing.setup(trace_file=tmp_path / "traces.jsonl", run_id="r")
    try:
        root, ctx = spans.start_iteration(
            run_id="r", journey="j", target="t", worker=0, user=0, iteration=0
        )
        assert telemetry.provider is None and telemetry.sidecar is None
        assert root is trace.INVALID_SPAN and spans.trace_headers(ctx) == {}
    finally:
        telemetry.shutdown()
    assert not list(tmp_path.iterdir())  # no spool, no trace file


def _request_headers(tmp_path: Path) -> tuple[dict[str, str], Span]:
    spool = SpanSpool(tmp_path / "p.spool")
    spans.use_provider(LightTracerProvider(spool))
    try:
        _, ctx = spans.start_iteration(
            run_id="r", journey="j", target="t", worker=0, user=0, iteration=0
        )
        _, step = spans.start_step(
            ctx, step="s", touchpoint="api", target="t", iteration=0, run_id="r", journey="j"
        )
        headers: dict[str, str] = {}
        span = spans.start_request(step, "GET", "http://shop.test/x", headers)
        return headers, span
    finally:
        spans.use_provider(None)
        spool.close()


def test_otel_propagators_choose_the_trace_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry import propagate
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    assert set(_request_headers(tmp_path)[0]) == {"traceparent", "baggage"}  # the default
    previous = propagate.get_global_textmap()
    monkeypatch.setenv("OTEL_PROPAGATORS", "tracecontext")
    # what the API builds from the variable when it is imported, in a process started with it
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator()]))
    try:
        headers, span = _request_headers(tmp_path)
        ids = span.get_span_context()
        assert headers == {"traceparent": f"00-{ids.trace_id:032x}-{ids.span_id:016x}-01"}
        monkeypatch.setenv("OTEL_PROPAGATORS", "none")
        propagate.set_global_textmap(CompositePropagator([]))
        assert _request_headers(tmp_path)[0] == {}
    finally:
        propagate.set_global_textmap(previous)


def test_a_propagator_that_is_not_installed_is_refused() -> None:
    check_propagators({"OTEL_PROPAGATORS": "tracecontext,baggage,none"})
    with pytest.raises(UsageError, match="'b3'"):
        check_propagators({"OTEL_PROPAGATORS": "tracecontext,b3"})
