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
    INDEFINITE_S,
    NONE,
    OTLP,
    OtlpTarget,
    check_propagators,
    export_timeout,
    otlp_exporter,
    otlp_target,
    protocol,
    ratio_bound,
    resource_attributes,
    sample_rate,
    sdk_disabled,
    selected_exporter,
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
    ("given", "chosen"),
    [("", OTLP), ("otlp", OTLP), (" OTLP ", OTLP), ("otlp,otlp", OTLP), ("none", NONE),
     ("None", NONE)],
)  # fmt: skip
def test_the_exporter_variables_choose_otlp_or_nothing(given: str, chosen: str) -> None:
    assert selected_exporter("traces", {"OTEL_TRACES_EXPORTER": given}) == chosen
    assert selected_exporter("metrics", {"OTEL_METRICS_EXPORTER": given}) == chosen


def test_exporter_none_keeps_its_signal_off_the_endpoint_and_the_flag_wins() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": BASE, "OTEL_TRACES_EXPORTER": "none"}
    assert otlp_target("traces", env=env) is None
    assert otlp_target("metrics", env=env) == OtlpTarget(f"{BASE}/v1/metrics", HTTP_PROTOCOL)
    own = {**env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/x"}
    assert otlp_target("traces", env=own) is None  # the signal's own endpoint too
    metrics_off = {"OTEL_EXPORTER_OTLP_ENDPOINT": BASE, "OTEL_METRICS_EXPORTER": "none"}
    assert otlp_target("metrics", env=metrics_off) is None
    assert otlp_target("traces", env=metrics_off) == OtlpTarget(f"{BASE}/v1/traces", HTTP_PROTOCOL)
    flagged = otlp_target("traces", "http://flag:4318", env)  # --otlp-endpoint says send
    assert flagged == OtlpTarget("http://flag:4318/v1/traces", HTTP_PROTOCOL)


def test_the_python_sdks_otlp_names_choose_the_protocol_as_in_the_sdk() -> None:
    env = {
        "OTEL_TRACES_EXPORTER": "otlp_proto_grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",  # the exporter's name wins, as in the SDK
    }
    assert selected_exporter("traces", env) == OTLP
    assert otlp_target("traces", env=env) == OtlpTarget("http://collector:4317", GRPC)
    with pytest.raises(UsageError, match="http/json"):
        protocol("metrics", env)  # the metrics' exporter is plain otlp: the protocol applies
    http = {"OTEL_METRICS_EXPORTER": "otlp_proto_http", "OTEL_EXPORTER_OTLP_PROTOCOL": GRPC}
    assert protocol("metrics", http) == HTTP_PROTOCOL
    with pytest.raises(UsageError, match="names 2 OTLP exporters"):
        selected_exporter("traces", {"OTEL_TRACES_EXPORTER": "otlp,otlp_proto_grpc"})


@pytest.mark.parametrize(
    ("name", "given", "said"),
    [
        ("OTEL_TRACES_EXPORTER", "console", "traces.jsonl"),
        ("OTEL_TRACES_EXPORTER", "otlp,console", "standard output"),
        ("OTEL_TRACES_EXPORTER", "zipkin", "over OTLP only"),
        ("OTEL_TRACES_EXPORTER", "otlp,none", "names none besides"),
        ("OTEL_METRICS_EXPORTER", "prometheus", "over OTLP only"),
        ("OTEL_METRICS_EXPORTER", "console", "histograms"),
    ],
)
def test_an_exporter_the_harness_does_not_run_is_refused(name: str, given: str, said: str) -> None:
    signal = name.split("_")[1].lower()
    with pytest.raises(UsageError, match=said):
        selected_exporter(signal, {name: given})
    with pytest.raises(UsageError, match=f"{name}="):
        otlp_target(signal, env={name: given, "OTEL_EXPORTER_OTLP_ENDPOINT": BASE})


def test_the_export_deadline_is_the_specifications_milliseconds() -> None:
    assert export_timeout("traces", 5.0, {}) == (5.0, "default")
    generic = {"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}
    assert export_timeout("traces", 5.0, generic) == (2.5, "OTEL_EXPORTER_OTLP_TIMEOUT=2500")
    assert export_timeout("metrics", 5.0, generic)[0] == 2.5
    own = {**generic, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "30000"}
    assert export_timeout("traces", 5.0, own) == (30.0, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=30000")
    assert export_timeout("metrics", 5.0, own)[0] == 2.5  # the traces' own is not the metrics'
    assert export_timeout("traces", 5.0, {"OTEL_EXPORTER_OTLP_TIMEOUT": "0"})[0] == INDEFINITE_S
    assert export_timeout("traces", 5.0, {"OTEL_EXPORTER_OTLP_TIMEOUT": " "})[0] == 5.0


@pytest.mark.parametrize("given", ["2.5", "-1", "10s", "1e3", "²"])
def test_a_timeout_that_is_not_milliseconds_is_refused(given: str) -> None:
    with pytest.raises(UsageError, match="milliseconds"):
        export_timeout("traces", 5.0, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": given})


def test_the_cli_refuses_an_exporter_or_timeout_before_the_run_unless_tracing_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    with pytest.raises(UsageError, match="OTEL_TRACES_EXPORTER='console'"):
        apply_otel_env(_parser().parse_args(["smoke", "--target", "http://x"]))
    apply_otel_env(_parser().parse_args(["smoke", "--target", "http://x", "--no-traces"]))
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "1.5")
    with pytest.raises(UsageError, match=r"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT='1\.5'"):
        apply_otel_env(_parser().parse_args(["load", "--target", "http://x"]))


def test_setup_sends_nothing_over_otlp_under_exporter_none_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.telemetry import tracing

    for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_SAMPLER", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    telemetry = tracing.setup(trace_file=tmp_path / "traces.jsonl", run_id="r")
    try:
        assert telemetry.sidecar is not None  # traces.jsonl is written all the same
        assert "--endpoint" not in telemetry.sidecar.process.args
        assert telemetry.meter_provider is None and telemetry.metrics is None
        assert telemetry.applied == (
            "service journey-harness, no spans sent over OTLP (OTEL_TRACES_EXPORTER=none; "
            "traces.jsonl has them), no OTLP metrics (OTEL_METRICS_EXPORTER=none), 1 of the "
            "traces sampled at the root"
        )
    finally:
        telemetry.shutdown()
    assert (tmp_path / "traces.jsonl").exists()


def test_setup_hands_the_sidecar_the_export_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.telemetry import tracing

    for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:1/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1500")
    telemetry = tracing.setup(trace_file=tmp_path / "traces.jsonl", run_id="r")
    try:
        assert telemetry.sidecar is not None
        args = telemetry.sidecar.process.args
        assert args[args.index("--otlp-timeout") + 1] == "1.5"
        assert "(exports within 1.5 s, OTEL_EXPORTER_OTLP_TIMEOUT=1500)" in telemetry.applied
    finally:
        telemetry.shutdown()


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
