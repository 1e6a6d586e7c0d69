"""One OpenTelemetry trace per journey, reaching into the sandbox; OTLP export decoded from the
real protobuf payload; `harness trace` pointing at a slowed route."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.sandbox.process import SandboxUrls
from harness.telemetry.otlp_json import read_spans
from harness.telemetry.receiver import OtlpReceiver
from tests.integration.conftest import only_run_dir, run_cli

pytestmark = [pytest.mark.integration]


def test_cross_touchpoint_journey_is_one_trace_down_to_sql(tmp_path: Path) -> None:
    result = run_cli("smoke", "--sandbox", "-k", "web_mobile_api_order", "--results", str(tmp_path))
    assert result.code == 0, result.out + result.err

    run_dir = only_run_dir(tmp_path)
    assert not (run_dir / "traces").exists()  # the sandbox's spans were merged in
    rows = list(read_spans(run_dir / "traces.jsonl"))
    root = next(r for r in rows if r.name == "journey web_mobile_api_order")
    trace = [r for r in rows if r.trace_id == root.trace_id]
    by_id = {r.span_id: r for r in trace}
    ours = [r for r in trace if r.scope == "journey-harness"]
    theirs = [r for r in trace if r.service == "shop-sandbox"]

    steps = [r for r in ours if r.name.startswith("step ")]
    assert [s.name for s in sorted(steps, key=lambda r: r.start_ns)] == [
        "step sign up",
        "step add to cart in the app",
        "step pay through the API",
        "step see the order on the web",
    ]
    assert all(s.parent_id == root.span_id for s in steps)
    client = {r.name for r in ours if r.kind == "SPAN_KIND_CLIENT"}
    assert {"POST /mobile/v2/session", "POST /mobile/v2/cart", "POST /api/v1/orders"} <= client
    assert any(r.name.startswith("web goto") for r in ours)
    # The sandbox's server spans hang under the harness span that caused them, on all three
    # touchpoints (API, mobile, and the browser's own requests).
    servers = [r for r in theirs if r.kind == "SPAN_KIND_SERVER"]
    routes = {r.attributes.get("shop.route.name") for r in servers}
    assert {
        "api.orders.create",
        "mobile.cart.add",
        "mobile.session",
        "web.signup",
        "web.order",
    } <= routes
    for server in servers:
        parent = by_id[server.parent_id]
        assert parent.scope == "journey-harness", (server.name, parent.name)
    sql = [r for r in theirs if r.attributes.get("db.system.name") == "sqlite"]
    assert sql and all(by_id[r.parent_id].kind == "SPAN_KIND_SERVER" for r in sql)


def test_spans_and_metrics_reach_an_otlp_http_receiver(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    with OtlpReceiver() as receiver:
        result = run_cli(
            "smoke",
            "--target",
            sandbox.base,
            "-k",
            "api_catalog",
            "--results",
            str(tmp_path),
            "--otlp-endpoint",
            receiver.endpoint,
        )
    assert result.code == 0, result.out + result.err

    names = {s.name for s in receiver.spans}
    assert "journey api_catalog_and_orders" in names
    assert {
        "step list products",
        "step pay",
        "GET /api/v1/products",
        "POST /api/v1/orders",
    } <= names
    root = next(s for s in receiver.spans if s.name == "journey api_catalog_and_orders")
    assert all(
        s.trace_id == root.trace_id for s in receiver.spans if s.service == "journey-harness"
    )
    assert root.attributes["user_agent.synthetic.type"] == "test"
    assert root.attributes["harness.journey"] == "api_catalog_and_orders"
    assert receiver.metric_kinds.get("harness.step.duration") == "exponential_histogram"
    assert receiver.metric_kinds.get("harness.journey.duration") == "exponential_histogram"
    assert {"harness.iterations"} <= receiver.metric_names


def test_trace_command_points_at_the_slowed_route(tmp_path: Path) -> None:
    result = run_cli(
        "smoke",
        "--sandbox",
        "--regression",
        "latency:api.orders.create=+400ms",
        "-k",
        "api_catalog",
        "--results",
        str(tmp_path),
    )
    assert result.code == 0, result.out + result.err

    shown = run_cli("trace", str(only_run_dir(tmp_path)))
    assert shown.code == 0, shown.err
    assert "slowest step: pay" in shown.out
    hot = next(line for line in shown.out.splitlines() if line.startswith("slowest step"))
    assert "POST /api/v1/orders (shop-sandbox, route api.orders.create)" in hot
    assert "regression latency" in hot


def test_trace_command_on_a_folder_without_traces(tmp_path: Path) -> None:
    shown = run_cli("trace", str(tmp_path))
    assert shown.code == 2 and "holds no traces.jsonl" in shown.err
