"""The monitor's Prometheus metrics, served on 127.0.0.1 by default (`--metrics-port`), as
blackbox-exporter users expect: `probe_success`, and per journey and step its success and
duration, and the last check's time."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.history.entry import RunEntry


class MonitorMetrics:
    """The monitor's gauges and counters in a registry of their own (nothing of the process's
    default registry is exposed), and the HTTP server that serves them once `serve` is
    called."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry(auto_describe=True)
        self.probe_success = Gauge(
            "probe_success", "whether the last check passed (1) or failed (0)", ["target"],
            registry=self.registry,
        )  # fmt: skip
        self.journey_success = Gauge(
            "harness_monitor_journey_success", "whether a journey passed in the last check",
            ["target", "journey"], registry=self.registry,
        )  # fmt: skip
        self.step_success = Gauge(
            "harness_monitor_step_success", "whether a step passed in the last check",
            ["target", "journey", "step"], registry=self.registry,
        )  # fmt: skip
        self.duration = Gauge(
            "harness_monitor_duration_seconds",
            "duration in the last check (step \"\" is the whole journey)",
            ["target", "journey", "step"], registry=self.registry,
        )  # fmt: skip
        self.last_run = Gauge(
            "harness_monitor_last_run_timestamp_seconds", "when the last check ended",
            ["target"], registry=self.registry,
        )  # fmt: skip
        self.checks = Counter(
            "harness_monitor_checks", "counted checks (after retries) by result",
            ["target", "result"], registry=self.registry,
        )  # fmt: skip
        self._server: Any = None
        self.port: int | None = None

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve `/metrics` on `host:port` (0: a free port) in a thread; returns the port."""
        from prometheus_client import start_http_server

        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        self.port = int(server.server_port)
        return self.port

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def record(self, target: str, passed: bool, entry: RunEntry | None) -> None:
        """One counted check: its result and, from its run's entry, each journey's and step's
        success and duration (a smoke check runs each journey once: its p50 is its time)."""
        self.probe_success.labels(target).set(1 if passed else 0)
        self.checks.labels(target, "pass" if passed else "fail").inc()
        self.last_run.labels(target).set(time.time())
        if entry is None:
            return
        for s in entry.series:
            ok = 1 if s.failures == 0 else 0
            if s.step:
                self.step_success.labels(target, s.journey, s.step).set(ok)
            else:
                self.journey_success.labels(target, s.journey).set(ok)
            if s.p50_ms is not None:
                self.duration.labels(target, s.journey, s.step).set(s.p50_ms / 1000)
