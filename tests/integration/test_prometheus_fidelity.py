"""The Prometheus provider and the `metric` gate against a real Prometheus (Debian's
`prometheus`), on what its HTTP API really answers: windows longer than its 11,000 points per
query, and sample values that are not numbers. The queries need no scraped data: PromQL's
`vector(...)` and `time()` give a value at every step, per side through its labels."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from harness.config import HarnessConfig
from harness.gates.data import RunData
from harness.gates.metric import MetricGate
from harness.gates.outcome import Decision, GateOutcome
from harness.providers import fetch_metrics
from harness.targets import Target
from harness.telemetry.hdr import HdrStore
from tests.integration.prometheus_server import Prometheus, start_prometheus

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    server = start_prometheus(tmp_path_factory.mktemp("prometheus"))
    try:
        yield server
    finally:
        server.stop()


def _judge(
    server: Prometheus,
    gate: MetricGate,
    labels: dict[str, dict[str, str]],
    start: float,
    end: float,
) -> GateOutcome:
    """`gate` fetched from `server` on a baseline and a candidate labelled `labels[side]`, over
    [start, end], and judged."""
    config = HarnessConfig.model_validate({"providers": {"prometheus": {"url": server.url}}})
    sides = {
        role: Target.from_base_url(f"http://127.0.0.1:{port}", name=role).model_copy(
            update={"labels": labels[role]}
        )
        for role, port in (("baseline", 9), ("candidate", 10))
    }
    metrics = fetch_metrics([gate], config, sides, start, end)
    data = RunData(
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
    return gate.evaluate(data)


def test_a_four_hour_run_at_one_second_is_judged_on_every_point(prometheus: Prometheus) -> None:
    """14,401 points a side, beyond the 11,000 Prometheus answers per query: the window is
    fetched in pieces on one grid, and a candidate 25% worse fails on all 14,401 paired points
    (instead of an `error`: "exceeded maximum resolution")."""
    end = float(int(time.time()))
    start = end - 4 * 3600
    gate = MetricGate(name="level", query="vector({level}) + 0 * vector(time())")
    labels = {"baseline": {"level": "1"}, "candidate": {"level": "1.25"}}
    outcome = _judge(prometheus, gate, labels, start, end)
    assert outcome.decision is Decision.FAIL, outcome.summary
    assert "14401 paired points" in outcome.summary
    sides = outcome.metric["sides"]
    times = [t for t, _ in sides["candidate"]["points"]]
    assert times == [start + i for i in range(14401)]
    assert {v for _, v in sides["candidate"]["points"]} == {1.25}
