"""The sandbox's /metrics (prometheus-client) and the `cpu:` regression, over ASGI without
sockets."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.sandbox.app import build_app
from harness.sandbox.burn import burn, settled
from harness.sandbox.profile import ReleaseProfile
from harness.sandbox.regressions import RegressionKind, parse_regression, parse_regressions


async def _get(app: object, path: str) -> tuple[int, bytes]:
    sent: list[dict[str, object]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"sandbox")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[operator]
    status = next(int(m["status"]) for m in sent if m["type"] == "http.response.start")  # type: ignore[call-overload]
    body = b"".join(bytes(m.get("body", b"")) for m in sent if m["type"] == "http.response.body")  # type: ignore[call-overload]
    return status, body


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} {labels} in /metrics")


def test_metrics_count_time_and_label_requests_with_the_release(tmp_path: Path) -> None:
    profile = ReleaseProfile("candidate", parse_regressions(["errors:api.products.get=100%"]))
    app, store = build_app(tmp_path / "shop.sqlite3", profile)

    async def scenario() -> bytes:
        for _ in range(3):
            assert (await _get(app, "/api/v1/products"))[0] == 200
        assert (await _get(app, "/api/v1/products/1"))[0] == 500
        status, body = await _get(app, "/metrics")
        assert status == 200
        return body

    try:
        text = asyncio.run(scenario()).decode()
    finally:
        store.close()
    listed = {"route": "api.products.list", "code": "200", "release": "candidate"}
    assert _sample(text, "http_requests_total", **listed) == 3
    assert _sample(text, "http_request_duration_seconds_count", **listed) == 3
    failed = {"route": "api.products.get", "code": "500", "release": "candidate"}
    assert _sample(text, "http_requests_total", **failed) == 1
    # the product list reads the database: its SQL time is tallied per request
    sql = {"route": "api.products.list", "release": "candidate"}
    assert _sample(text, "sandbox_sql_seconds_count", **sql) == 3
    assert _sample(text, "sandbox_sql_seconds_sum", **sql) > 0
    assert _sample(text, "http_requests_in_flight", release="candidate") == 0
    assert "process_cpu_seconds_total" in text


def test_cpu_regression_burns_cpu_off_the_request_path(tmp_path: Path) -> None:
    spec = "cpu:api.products.list=+300ms"
    profile = ReleaseProfile("candidate", parse_regressions([spec]))
    app, store = build_app(tmp_path / "shop.sqlite3", profile)

    async def scenario() -> float:
        assert (await _get(app, "/api/v1/products"))[0] == 200
        answered = time.process_time()  # CPU, not wall time: a busy machine slows both alike
        await settled()  # the burn finishes in its worker thread
        return answered

    try:
        cpu_before = time.process_time()
        answered = asyncio.run(scenario()) - cpu_before
        burnt = time.process_time() - cpu_before
    finally:
        store.close()
    # the request was answered before the burn's 300 ms of CPU were spent, and they were spent
    assert answered < 0.2, "the request waited for its burn"
    assert burnt >= 0.29
    assert profile.effect_counts[spec] == 1


def test_cpu_spec_parses_like_contention() -> None:
    regression = parse_regression("cpu:*.orders.create=+20ms")
    assert regression.kind is RegressionKind.CPU
    assert regression.delay == pytest.approx(0.02)
    assert regression.routes == ("api.orders.create", "mobile.orders.create")
    with pytest.raises(SpecError, match="invalid CPU time"):
        parse_regression("cpu:api.orders.create=fast")


def test_burn_uses_the_cpu_it_is_asked_for() -> None:
    started = time.thread_time()
    burn(0.02)
    assert time.thread_time() - started >= 0.02
