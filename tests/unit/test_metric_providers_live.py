"""Metric providers against a fake Prometheus on loopback (a real socket): an HTTP 500 and a
server that never answers are each their gate's `error` with one line, quickly, while the other
gates are judged; sandboxes are listed in a `file_sd` folder while they run; a drill's `cpu:`
fault is a knob of the candidate sandbox."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from harness.config import HarnessConfig
from harness.errors import UsageError
from harness.faults.spec import FaultKind, parse_fault
from harness.gates.config import parse_gates
from harness.gates.data import RunData
from harness.gates.outcome import Decision
from harness.gates.verdict import evaluate
from harness.providers import fetch_metrics
from harness.run.metrics import announce_sandbox
from harness.targets import Target
from harness.telemetry.hdr import HdrStore


class _Fake(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)["query"][0]
        if "broken" in query:
            body = b'{"status":"error","errorType":"internal",\n"error":"storage\\nfailed"}'
            self._answer(500, body)
        elif "slow" in query:
            time.sleep(3)
            self._answer(200, b"{}")
        else:
            start = float(parse_qs(urlsplit(self.path).query)["start"][0])
            values = [[start + i, "0.1"] for i in range(10)]
            result = [{"metric": {}, "values": values}]
            data = {"resultType": "matrix", "result": result}
            self._answer(200, json.dumps({"status": "success", "data": data}).encode())

    def _answer(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (the slow answer)
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _data(metrics: list) -> RunData:
    return RunData(
        candidate="candidate",
        baseline="baseline",
        hdr=HdrStore(),
        journeys={},
        step_failures={},
        step_order={},
        windows={},
        failed_traces={},
        slow_traces={},
        timeline=[],
        metrics=metrics,
    )


def test_a_500_and_a_silent_prometheus_are_errors_and_the_rest_is_judged(prometheus: str) -> None:
    config = HarnessConfig.model_validate(
        {"providers": {"prometheus": {"url": prometheus, "timeout": 0.5}}}
    )
    gates = parse_gates(
        [
            {"kind": "metric", "name": "broken", "query": 'up{mode="broken"}'},
            {"kind": "metric", "name": "slow", "query": 'up{mode="slow"}'},
            {"kind": "metric", "name": "fine", "query": "up", "min_points": 5},
        ]
    )
    sides = {
        "baseline": Target.from_base_url("http://a:1", name="a"),
        "candidate": Target.from_base_url("http://b:1", name="b"),
    }
    started = time.perf_counter()
    fetched = fetch_metrics(gates, config, sides, 1000.0, 1010.0)
    assert time.perf_counter() - started < 2.5  # two sides, a 0.5 s timeout each, not 3 s answers
    verdict = evaluate(_data(fetched), gates)
    broken, slow, fine = verdict.gates
    assert broken.decision is Decision.ERROR
    assert broken.summary == (
        "prometheus on the baseline: prometheus answered HTTP 500: internal: storage failed"
    )
    assert slow.decision is Decision.ERROR
    assert slow.summary.startswith(f"prometheus on the baseline: prometheus at {prometheus}")
    assert "\n" not in broken.summary + slow.summary
    assert fine.decision is Decision.PASS, fine.summary
    assert verdict.decision is Decision.ERROR


def test_sandboxes_are_listed_in_file_sd_while_they_run(tmp_path: Path) -> None:
    folder = tmp_path / "sd"
    config = HarnessConfig.model_validate(
        {"providers": {"prometheus": {"url": "http://p:9090", "file_sd": str(folder)}}}
    )
    request = SimpleNamespace(config=config)
    with ExitStack() as stack:
        announce_sandbox(
            request,  # type: ignore[arg-type]
            stack,
            run_id="20261207-1-rehearse-a",
            role="candidate",
            release="v2",
            base_url="http://127.0.0.1:4321/",
        )
        (listed,) = folder.glob("*.json")
        assert listed.name == "20261207-1-rehearse-a-candidate.json"
        assert json.loads(listed.read_text()) == [
            {
                "targets": ["127.0.0.1:4321"],
                "labels": {
                    "side": "candidate",
                    "release": "v2",
                    "harness_run": "20261207-1-rehearse-a",
                },
            }
        ]
        assert not list(folder.glob(".*"))  # no partial file Prometheus could half-read
    assert not list(folder.iterdir())  # gone with the run: Prometheus stops scraping it


def test_without_file_sd_nothing_is_written(tmp_path: Path) -> None:
    config = HarnessConfig.model_validate({"providers": {"prometheus": {"url": "http://p:9"}}})
    with ExitStack() as stack:
        announce_sandbox(
            SimpleNamespace(config=config),  # type: ignore[arg-type]
            stack,
            run_id="r",
            role="baseline",
            release="baseline",
            base_url="http://127.0.0.1:1",
        )
    assert not list(tmp_path.iterdir())


def test_a_cpu_fault_is_the_candidate_sandboxs_knob() -> None:
    from harness.drill.knobs import check_knob, knob

    fault = parse_fault("cpu:*.orders.create=+20ms")
    assert fault.kind is FaultKind.CPU and fault.delay_s == pytest.approx(0.02)
    assert knob(fault) == ("cpu:*.orders.create=+20ms",)
    assert knob(parse_fault("latency:api=+20ms")) == ()
    check_knob(fault, sandbox=True)
    with pytest.raises(UsageError, match="cannot burn the target's CPU"):
        check_knob(fault, sandbox=False)
    with pytest.raises(UsageError, match="no after=/for="):
        check_knob(parse_fault("cpu:api=+5ms,after=5s"), sandbox=True)
