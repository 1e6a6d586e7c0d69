"""Sandbox tracing without sockets: SQL span names, the traced connection, the ASGI middleware."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import Message, Receive, Scope, Send

from harness.errors import UsageError
from harness.sandbox.httptrace import TracingMiddleware, server_address
from harness.sandbox.sqltrace import SqlShape, sql_shape, traced_connection_class
from harness.sandbox.store import Store
from harness.sandbox.tracing import otlp_traces_url, start_tracing

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("sql", "name", "table"),
    [
        ("SELECT * FROM products WHERE id = ?", "SELECT products", "products"),
        ("SELECT COUNT(*) FROM products ", "SELECT products", "products"),
        (
            "SELECT u.id, t.device_id FROM tokens t JOIN users u ON u.id = t.user_id",
            "SELECT tokens",
            "tokens",
        ),
        ("  insert into orders (user_id) VALUES (?)", "INSERT orders", "orders"),
        (
            "INSERT INTO cart_items VALUES (?, ?, ?) ON CONFLICT (user_id, product_id) "
            "DO UPDATE SET quantity = quantity + excluded.quantity",
            "INSERT cart_items",
            "cart_items",
        ),
        (
            "UPDATE products SET stock = MAX(stock - ?, 0) WHERE id = ?",
            "UPDATE products",
            "products",
        ),
        (
            "DELETE FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE user_id = ?)",
            "DELETE order_items",
            "order_items",
        ),
        ("BEGIN IMMEDIATE", "BEGIN", None),
        ("COMMIT", "COMMIT", None),
        ("PRAGMA journal_mode=WAL", "PRAGMA", None),
        ("", "SQL", None),
    ],
)
def test_sql_shape_names_operation_and_table(sql: str, name: str, table: str | None) -> None:
    shape = sql_shape(sql)
    assert shape == SqlShape(name.split(" ")[0], table, name)


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def test_store_statements_are_spans_only_inside_a_trace(
    tmp_path: Path, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    tracer = provider.get_tracer("test")
    store = Store(tmp_path / "shop.sqlite3", tracer=tracer)
    try:
        assert exporter.get_finished_spans() == ()  # schema and seed: no request, no span
        with tracer.start_as_current_span("request") as request:
            assert store.get_product(3) is not None
            assert store.create_user("a@example.com", "password1", "A") is not None
            assert store.create_user("A@example.com", "password2", "B") is None  # taken
        store.get_product(4)  # outside the request again
    finally:
        store.close()
    finished = exporter.get_finished_spans()
    parent = request.get_span_context().span_id
    sql = [s for s in finished if s.name != "request"]
    assert [s.name for s in sql] == [
        "SELECT products",
        "BEGIN",
        "INSERT users",
        "COMMIT",
        "BEGIN",
        "INSERT users",
        "ROLLBACK",
    ]
    assert all(s.kind is SpanKind.CLIENT and s.parent is not None for s in sql)
    assert {s.parent.span_id for s in sql if s.parent is not None} == {parent}
    select = sql[0]
    assert dict(select.attributes or {}) == {
        "db.system.name": "sqlite",
        "db.operation.name": "SELECT",
        "db.collection.name": "products",
        "db.query.text": "SELECT * FROM products WHERE id = ?",
    }
    failed = sql[5]
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "IntegrityError"
    assert "a@example.com" not in repr([dict(s.attributes or {}) for s in finished])


def test_executemany_is_one_span(spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    tracer = provider.get_tracer("test")
    db = sqlite3.connect(":memory:", factory=traced_connection_class(tracer))
    try:
        db.execute("CREATE TABLE t (x INTEGER)")
        with tracer.start_as_current_span("request"):
            db.executemany("INSERT INTO t VALUES (?)", [(1,), (2,), (3,)])
        assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 3
    finally:
        db.close()
    assert [s.name for s in exporter.get_finished_spans()] == ["INSERT t", "request"]


async def _app_503(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 503, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _app_raises(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("handler bug")


def _scope(headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": "/nowhere",
        "scheme": "http",
        "http_version": "1.1",
        "query_string": b"q=tea",
        "headers": headers,
        "server": ("10.0.0.1", 9000),
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def test_middleware_marks_5xx_and_exceptions(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    tracer = provider.get_tracer("test")
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"traceparent", TRACEPARENT.encode()), (b"baggage", b"harness.step=pay")]
    asyncio.run(TracingMiddleware(_app_503, tracer, "baseline")(_scope(headers), _receive, send))
    with pytest.raises(RuntimeError):
        asyncio.run(TracingMiddleware(_app_raises, tracer, "baseline")(_scope([]), _receive, send))
    first, second = exporter.get_finished_spans()
    assert first.kind is SpanKind.SERVER and first.name == "GET"
    assert f"{first.context.trace_id:032x}" == TRACEPARENT.split("-")[1]
    assert first.parent is not None and f"{first.parent.span_id:016x}" == "00f067aa0ba902b7"
    attrs = dict(first.attributes or {})
    assert attrs["error.type"] == "503" and attrs["http.response.status_code"] == 503
    assert attrs["harness.step"] == "pay" and attrs["url.query"] == "q=tea"
    assert (attrs["server.address"], attrs["server.port"]) == ("10.0.0.1", 9000)
    assert first.status.status_code is StatusCode.ERROR
    assert second.parent is None and second.status.status_code is StatusCode.ERROR
    assert dict(second.attributes or {})["error.type"] == "RuntimeError"
    assert [e.name for e in second.events] == ["exception"]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1:8800", ("127.0.0.1", 8800)),
        ("[::1]:8800", ("::1", 8800)),
        ("[::1]", ("::1", 80)),
        ("shop.test", ("shop.test", 80)),
        (None, ("10.0.0.1", 9000)),
    ],
)
def test_server_address_prefers_the_host_header(
    host: str | None, expected: tuple[str, int]
) -> None:
    assert server_address(host, ("10.0.0.1", 9000)) == expected


def test_otlp_traces_url() -> None:
    assert otlp_traces_url("http://127.0.0.1:4318/") == "http://127.0.0.1:4318/v1/traces"
    assert otlp_traces_url("https://otel.example") == "https://otel.example/v1/traces"
    with pytest.raises(UsageError, match="not an http"):
        otlp_traces_url("127.0.0.1:4318")


def test_the_sandbox_records_a_request_whatever_its_traceparent_flag_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The harness counts every journey trace's join: the sandbox records unsampled ones too
    # (and ignores an inherited OTEL_TRACES_SAMPLER); the harness cuts them at the run's end.
    from opentelemetry import trace as trace_api
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    tracing = start_tracing("baseline", trace_file=tmp_path / "t.jsonl")
    remote = SpanContext(0xA1, 0xB2, is_remote=True, trace_flags=TraceFlags(TraceFlags.DEFAULT))
    parent = trace_api.set_span_in_context(NonRecordingSpan(remote))
    with tracing.tracer.start_as_current_span("GET /x", context=parent) as span:
        assert span.is_recording()
    tracing.shutdown()
