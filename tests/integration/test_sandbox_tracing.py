"""The sandbox's OpenTelemetry spans: joined to the caller's trace, SQL children, regressions."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from harness.errors import UsageError
from harness.sandbox.process import SandboxProcess
from harness.telemetry.otlp_json import SpanRow, read_spans

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TRACE_A = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_A = "00f067aa0ba902b7"
TRACE_B = "0af7651916cd43dd8448eb211c80319c"
PARENT_B = "b7ad6b7169203331"
DELAY = "latency:api.products.get=+150ms"
ERRORS = "errors:api.orders.list=100%"


def _call(base: str, method: str, path: str, body: object = None, **headers: str) -> int:
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        data = None if body is None else json.dumps(body).encode()
        sent = {"User-Agent": "tracing-test/1.0", **headers}
        if data is not None:
            sent["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=sent)
        reply = conn.getresponse()
        reply.read()
        return reply.status
    finally:
        conn.close()


def _traceparent(trace_id: str, parent_id: str) -> str:
    return f"00-{trace_id}-{parent_id}-01"


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[SpanRow], Path, str]:
    """One traced candidate run: three requests, then SIGTERM; its spans, file and base URL."""
    trace_file = tmp_path_factory.mktemp("traces") / "traces.jsonl"
    process = SandboxProcess("candidate", [DELAY, ERRORS], trace_file=trace_file)
    with process:
        base = process.urls.base
        user = {"email": "trace@example.com", "password": "secret-123", "name": "Tracy"}
        assert (
            _call(
                base,
                "POST",
                "/api/v1/users",
                user,
                traceparent=_traceparent(TRACE_A, PARENT_A),
                baggage="harness.run_id=run-7,harness.journey=signup,harness.step=create%20user",
            )
            == 201
        )
        status = _call(
            base, "GET", "/api/v1/products/1", traceparent=_traceparent(TRACE_B, PARENT_B)
        )
        assert status == 200
        assert _call(base, "GET", "/api/v1/orders") == 500
    assert process.returncode == 0
    return list(read_spans(trace_file)), trace_file, base


def _server(spans: list[SpanRow], name: str) -> SpanRow:
    found = [s for s in spans if s.name == name and s.kind == "SPAN_KIND_SERVER"]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def _children(spans: list[SpanRow], parent: SpanRow) -> list[SpanRow]:
    return [s for s in spans if s.parent_id == parent.span_id and s.trace_id == parent.trace_id]


def test_server_spans_join_the_callers_trace(traced: tuple[list[SpanRow], Path, str]) -> None:
    spans, _, base = traced
    users = _server(spans, "POST /api/v1/users")
    assert (users.trace_id, users.parent_id) == (TRACE_A, PARENT_A)
    assert users.service == "shop-sandbox"
    port = urlsplit(base).port
    assert users.attributes == {
        "http.request.method": "POST",
        "url.path": "/api/v1/users",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "http.route": "/api/v1/users",
        "http.response.status_code": "201",  # OTLP/JSON writes 64-bit ints as strings
        "server.address": "127.0.0.1",
        "server.port": str(port),
        "user_agent.original": "tracing-test/1.0",
        "shop.route.name": "api.users.create",
        "shop.release": "candidate",
        "harness.run_id": "run-7",
        "harness.journey": "signup",
        "harness.step": "create user",
    }
    product = _server(spans, "GET /api/v1/products/{id}")
    assert (product.trace_id, product.parent_id) == (TRACE_B, PARENT_B)
    assert product.attributes["http.route"] == "/api/v1/products/{id}"
    assert product.attributes["url.path"] == "/api/v1/products/1"
    assert "harness.run_id" not in product.attributes
    assert product.status == "STATUS_CODE_UNSET"


def test_resource_names_the_service_and_release(
    traced: tuple[list[SpanRow], Path, str],
) -> None:
    _, trace_file, _ = traced
    for line in trace_file.read_text().splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            attrs = {a["key"]: a["value"] for a in resource["resource"]["attributes"]}
            assert attrs["service.name"] == {"stringValue": "shop-sandbox"}
            assert attrs["service.version"] == {"stringValue": "candidate"}


def test_sql_statements_are_client_children_without_values(
    traced: tuple[list[SpanRow], Path, str],
) -> None:
    spans, _, _ = traced
    users = _server(spans, "POST /api/v1/users")
    children = _children(spans, users)
    assert [s.name for s in children] == ["BEGIN", "INSERT users", "COMMIT"]
    insert = children[1]
    assert insert.kind == "SPAN_KIND_CLIENT"
    assert insert.attributes["db.system.name"] == "sqlite"
    assert insert.attributes["db.operation.name"] == "INSERT"
    assert insert.attributes["db.collection.name"] == "users"
    text = insert.attributes["db.query.text"]
    assert text.startswith("INSERT INTO users (") and "?" in text
    assert "trace@example.com" not in json.dumps([s.attributes for s in spans])
    assert users.start_ns <= insert.start_ns <= insert.end_ns <= users.end_ns
    product = _server(spans, "GET /api/v1/products/{id}")
    select = [s for s in _children(spans, product) if s.kind == "SPAN_KIND_CLIENT"]
    assert [s.name for s in select] == ["SELECT products"]
    assert select[0].attributes["db.query.text"] == "SELECT * FROM products WHERE id = ?"


def test_latency_regression_is_a_child_span_as_long_as_the_delay(
    traced: tuple[list[SpanRow], Path, str],
) -> None:
    spans, _, _ = traced
    product = _server(spans, "GET /api/v1/products/{id}")
    delays = [s for s in _children(spans, product) if s.name == "regression latency"]
    assert len(delays) == 1
    assert delays[0].attributes == {"shop.regression": DELAY}
    assert delays[0].duration_ms >= 147.0  # asyncio may wake a millisecond or so early
    assert product.duration_ms >= delays[0].duration_ms
    users = _server(spans, "POST /api/v1/users")
    assert all(s.name != "regression latency" for s in _children(spans, users))


def test_injected_500_marks_the_server_span_error(
    traced: tuple[list[SpanRow], Path, str],
) -> None:
    spans, _, _ = traced
    orders = _server(spans, "GET /api/v1/orders")
    assert orders.status == "STATUS_CODE_ERROR"
    assert orders.attributes["error.type"] == "500"
    assert orders.attributes["http.response.status_code"] == "500"
    assert orders.parent_id is None  # no traceparent sent: a new root
    assert orders.trace_id not in (TRACE_A, TRACE_B)


def test_unknown_path_span_is_named_by_method_alone(tmp_path: Path) -> None:
    trace_file = tmp_path / "traces.jsonl"
    with SandboxProcess(trace_file=trace_file) as process:
        assert _call(process.urls.base, "GET", "/api/v1/nothing-here") == 404
    (span,) = read_spans(trace_file)
    assert span.name == "GET"
    assert "http.route" not in span.attributes and "shop.route.name" not in span.attributes
    assert span.attributes["http.response.status_code"] == "404"
    assert span.status == "STATUS_CODE_UNSET"


class _Collector(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    """A fake OTLP/HTTP collector on a free loopback port: its base URL and what it received."""
    received: list[tuple[str, str, bytes]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", received
    finally:
        server.shutdown()
        server.server_close()


def test_otlp_endpoint_receives_protobuf_spans(
    collector: tuple[str, list[tuple[str, str, bytes]]],
) -> None:
    endpoint, received = collector
    with SandboxProcess(otlp_endpoint=endpoint) as process:
        headers = {"traceparent": _traceparent(TRACE_A, PARENT_A)}
        assert _call(process.urls.base, "GET", "/api/v1/products/2", **headers) == 200
    assert process.returncode == 0
    assert received and {path for path, _, _ in received} == {"/v1/traces"}
    assert {kind for _, kind, _ in received} == {"application/x-protobuf"}
    names = {}
    for _, _, body in received:
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                for span in scope.spans:
                    names[span.name] = span.trace_id.hex()
    assert names == {"GET /api/v1/products/{id}": TRACE_A, "SELECT products": TRACE_A}


def test_bad_otlp_endpoint_is_refused_before_spawning() -> None:
    process = SandboxProcess(otlp_endpoint="localhost:4318")
    with pytest.raises(UsageError, match="not an http"):
        process.start()
    assert process.returncode is None


_PROBE = """
import os, signal, sys, threading, urllib.request
import harness.sandbox.server as server
from harness.sandbox.__main__ import main

real_serve = server.serve

def serve(app, sock, *, access_log, on_ready):
    def probe():
        port = sock.getsockname()[1]
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/products/1", timeout=5).read()
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
        print("OTEL", ",".join(loaded), flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    def ready():
        on_ready()
        threading.Thread(target=probe).start()

    return real_serve(app, sock, access_log=access_log, on_ready=ready)

server.serve = serve
sys.exit(main(["--port", "0", *sys.argv[1:]]))
"""


@pytest.mark.parametrize("traced_run", [False, True], ids=["untraced", "trace-file"])
def test_opentelemetry_is_loaded_only_when_tracing(traced_run: bool, tmp_path: Path) -> None:
    args = ["--trace-file", str(tmp_path / "t.jsonl")] if traced_run else []
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("OTEL")]
    loaded = line.removeprefix("OTEL").strip()
    if traced_run:
        assert "opentelemetry.sdk.trace" in loaded.split(",")
    else:
        assert loaded == ""  # not even the API: an untraced sandbox is exactly as fast as before
