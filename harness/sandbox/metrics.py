"""The sandbox's own telemetry in Prometheus' text format, on `/metrics` (`prometheus-client`).

What a canary analysis reads from a service: requests by route and status code, their latency
histogram, SQL time per request, requests in flight, and the process's CPU, memory and file
descriptors (`process_*`). Every request metric carries the release (`release="candidate"`), so
one Prometheus scraping both sides can tell them apart. The `cpu:` regression shows only here:
it burns CPU off the request's path (`harness.sandbox.burn`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response

from harness.sandbox.sqltime import SQL_SECONDS

__all__ = ["METRICS_PATH", "SandboxMetrics"]

METRICS_PATH = "/metrics"
Endpoint = Callable[[Request], Awaitable[Response]]

#: seconds; the sandbox answers in milliseconds, a regression adds tens to hundreds
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SQL_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)


class SandboxMetrics:
    """One sandbox process's metrics, in a registry of its own (tests start several apps)."""

    def __init__(self, release: str) -> None:
        self.release = release
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by route name and status code",
            ["route", "code", "release"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from the request reaching its route to the response, by route and code",
            ["route", "code", "release"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sql = Histogram(
            "sandbox_sql_seconds",
            "SQL time per request (the seconds its statements took), by route",
            ["route", "release"],
            buckets=SQL_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight",
            "Requests being answered now",
            ["release"],
            registry=self.registry,
        )
        self._in_flight = self.in_flight.labels(release=release)

    def timed(self, route: str, endpoint: Endpoint) -> Endpoint:
        """`endpoint` counted, timed and its SQL time tallied under `route`."""
        sql = self.sql.labels(route=route, release=self.release)
        by_code: dict[str, tuple[Any, Any]] = {}  # labels() costs a lock and a lookup a call

        def children(code: str) -> tuple[Any, Any]:
            found = by_code.get(code)
            if found is None:
                labels = {"route": route, "code": code, "release": self.release}
                found = by_code[code] = (
                    self.requests.labels(**labels),
                    self.latency.labels(**labels),
                )
            return found

        async def measured(request: Request) -> Response:
            tally = [0.0]
            token = SQL_SECONDS.set(tally)
            self._in_flight.inc()
            started = time.perf_counter()
            code = "500"
            try:
                response = await endpoint(request)
                code = str(response.status_code)
                return response
            finally:
                seconds = time.perf_counter() - started
                self._in_flight.dec()
                SQL_SECONDS.reset(token)
                count, latency = children(code)
                count.inc()
                latency.observe(seconds)
                sql.observe(tally[0])

        return measured

    async def endpoint(self, request: Request) -> Response:
        """`GET /metrics`: the registry in Prometheus' text format."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
