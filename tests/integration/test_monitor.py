"""`harness monitor` end to end: the real CLI checking its own sandbox every 2 s while a
regression window makes the product list fail part-way (each failed check retried once), one
alert to a webhook receiver when the incident opens and one to a command when it recovers, the
metrics endpoint scraped by the test and by a real Prometheus (Debian's `prometheus`) while it
runs, and every attempt in the run history. (SIGTERM between checks: tests/unit/test_monitor.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.engine.network import free_port
from harness.history.query import runs_of
from harness.history.store import HistoryStore, history_url
from harness.history.trends import uptime
from tests.integration.conftest import REPO

pytestmark = pytest.mark.integration

FLAKY = """
from pathlib import Path

from harness import journey

ATTEMPTS = Path(__file__).with_name("attempts")


@journey(tags={"readonly"})
def flaky_catalog(j):
    with j.step("list products", on="api"):
        j.api.get("/products")
        n = int(ATTEMPTS.read_text()) if ATTEMPTS.exists() else 0
        ATTEMPTS.write_text(str(n + 1))
        assert not 1 <= n <= 4, f"attempt {n + 1} fails on purpose"
"""


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    """A webhook receiver on loopback: the URL, and the JSON bodies it was sent."""
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/alerts", received
    server.shutdown()
    server.server_close()


def _monitor(*args: str) -> subprocess.Popen[str]:
    """The monitor as a user starts it (no report.html per check: its charts cost seconds)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HARNESS_HTML_REPORT": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "monitor", "--no-traces", *args],
        cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _scrape(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return str(reply.read().decode())
    except OSError:
        return None


def _metrics(scraped: str) -> dict[str, float]:
    """A scrape's samples by name and first label (`name{label="value"`, or the bare name), the
    target label left out: `{'probe_success': 0.0, ...}`."""
    found: dict[str, float] = {}
    for line in scraped.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        labels = [p for p in name.partition("{")[2].rstrip("}").split(",") if p]
        kept = [p for p in labels if not p.startswith("target=")]
        found[name.partition("{")[0] + ("{" + ",".join(kept) if kept else "")] = float(value)
    return found


@dataclass
class Prometheus:
    """A Prometheus server scraping `target_port` every 250 ms; `query` asks its HTTP API."""

    port: int
    target_port: int

    def query(self, expression: str) -> list[dict]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": expression}
        )
        with urllib.request.urlopen(url, timeout=10) as reply:
            return list(json.loads(reply.read())["data"]["result"])


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    """Debian's Prometheus on a free loopback port, scraping a free port the monitor will serve
    its metrics on; stopped by its PID."""
    server = Prometheus(free_port(), free_port())
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 250ms, scrape_timeout: 250ms}\n"
        "scrape_configs:\n  - job_name: monitor\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.target_port}']}}]\n"
    )
    log = tmp_path / "prometheus.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["/usr/bin/prometheus", f"--config.file={config}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{server.port}"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while _scrape(f"http://127.0.0.1:{server.port}/-/ready") is None:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Prometheus did not start: {log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_one_alert_opens_and_one_closes_an_incident_and_metrics_show_it(
    tmp_path: Path, receiver: tuple[str, list[dict]], prometheus: Prometheus
) -> None:
    """`harness monitor --sandbox --every 2s --count 8` while the sandbox's product list answers
    500 from 4 s to 12 s after it started: the checks in that window fail (each retried once),
    the ones after it pass; one alert opens the incident and one closes it."""
    url, received = receiver
    recovered = tmp_path / "recovered.json"
    port = prometheus.target_port
    process = _monitor(
        "--sandbox", "--regression", "errors:api.products.list=100%,after=4s,for=8s",
        "-k", "api_catalog_and_orders", "--every", "2s", "--count", "8",
        "--results", str(tmp_path / "results"), "--metrics-port", str(port),
        "--on-fail", url, "--on-recover", f"cat > {recovered}",
    )  # fmt: skip
    started = time.time()
    scrapes: list[str] = []
    deadline = time.monotonic() + 150
    while process.poll() is None and time.monotonic() < deadline:
        scraped = _scrape(f"http://127.0.0.1:{port}/metrics")
        if scraped is not None:
            scrapes.append(scraped)
        time.sleep(0.1)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out  # the last check passed: the window had closed

    assert [e["event"] for e in received] == ["monitor.fail"], out
    opened = received[0]
    assert opened["failed_journeys"] == ["api_catalog_and_orders"] and opened["attempts"] == 2
    closed = json.loads(recovered.read_text())
    assert closed["event"] == "monitor.recover" and closed["check"] <= 8
    assert closed["incident"]["opened_at"] == opened["incident"]["opened_at"]
    failed_checks = closed["incident"]["failed_checks"]
    assert failed_checks >= 1 and closed["check"] == opened["check"] + failed_checks
    assert "check 1 PASS" in out and "check 8 PASS" in out, out

    # scraped between a failed check and the next: the failure, its time and durations
    failing = [m for m in map(_metrics, scrapes) if m.get("probe_success") == 0.0]
    assert failing, out
    seen = failing[-1]
    assert seen['harness_monitor_journey_success{journey="api_catalog_and_orders"'] == 0.0
    assert seen['harness_monitor_checks_total{result="fail"'] >= 1.0
    assert seen['harness_monitor_checks_total{result="pass"'] >= 1.0
    assert seen["harness_monitor_last_run_timestamp_seconds"] >= started
    step = 'harness_monitor_duration_seconds{journey="api_catalog_and_orders",step="list products"'
    assert seen[step] > 0

    history = subprocess.run(
        [sys.executable, "-m", "harness.cli", "history", "--results", str(tmp_path / "results"),
         "--mode", "monitor"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert history.returncode == 0, history.stderr
    # every failed check ran twice (its retry), every passed one once
    runs = 8 + failed_checks
    assert history.stdout.strip().endswith(f"{runs} runs"), history.stdout[-2000:]
    store = HistoryStore.open(history_url(None, tmp_path / "results"))
    checks = uptime(runs_of(store))
    store.close()
    assert [(u.checks, u.passed) for u in checks] == [(8, 8 - failed_checks)]

    # Prometheus, scraping every 250 ms, recorded the failed checks
    recorded = prometheus.query('max_over_time(harness_monitor_checks_total{result="fail"}[10m])')
    (failed,) = [float(r["value"][1]) for r in recorded]
    assert failed >= 1.0, recorded
