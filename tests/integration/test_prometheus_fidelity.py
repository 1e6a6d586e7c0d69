"""The Prometheus provider and the `metric` gate against a real Prometheus (Debian's
`prometheus`), on what its HTTP API really answers: windows longer than its 11,000 points per
query, and sample values that are not numbers. The queries need no scraped data: PromQL's
`vector(...)` and `time()` give a value at every step, per side through its labels."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.config import HarnessConfig, ProviderConfig
from harness.faults import ProxyProcess
from harness.gates.data import RunData
from harness.gates.metric import MetricGate
from harness.gates.outcome import Decision, GateOutcome
from harness.providers import ProviderError, fetch_metrics
from harness.providers.prometheus import PrometheusProvider
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
    config: HarnessConfig | None = None,
) -> GateOutcome:
    """`gate` fetched from `server` (or as `config` says) on a baseline and a candidate
    labelled `labels[side]`, over [start, end], and judged."""
    if config is None:
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


NOW = float(int(time.time()))
#: `{num} / {den}` for 60 s, but with `{den}` at 0 in every tenth second when `{gaps}` is 1
RATIO = "vector({num}) / (vector({den}) * (vector(time() % 10 >= bool {gaps})))"


def _ratio(server: Prometheus, baseline: str, candidate: str, **settings: str) -> GateOutcome:
    """The RATIO gate on a baseline and a candidate given as `num/den/gaps`."""
    gate = MetricGate(name="ratio", query=RATIO, min_points=5, **settings)  # type: ignore[arg-type]
    labels = {
        side: dict(zip(("num", "den", "gaps"), spec.split("/"), strict=True))
        for side, spec in (("baseline", baseline), ("candidate", candidate))
    }
    return _judge(server, gate, labels, NOW - 60, NOW - 1)


def test_a_candidate_dividing_by_zero_a_tenth_of_the_time_fails(prometheus: Prometheus) -> None:
    """Prometheus answers x/0 as "+Inf". Left out like NaN, the candidate's worst seconds
    vanished and the others (equal to the baseline's) passed the gate."""
    outcome = _ratio(prometheus, "1/1/0", "1/1/1")
    assert outcome.decision is Decision.FAIL, outcome.summary
    assert "was +Inf on the candidate at 6 point(s) where the baseline's was not" in (
        outcome.summary
    )
    recorded = outcome.metric["sides"]["candidate"]
    assert [v for _, v in recorded["nonfinite"]] == ["+Inf"] * 6 and len(recorded["points"]) == 54
    # lower is worse: the same +Inf is better, left out and said
    outcome = _ratio(prometheus, "1/1/0", "1/1/1", direction="decrease")
    assert outcome.decision is Decision.PASS, outcome.summary
    assert "left out: 6 point(s) not a number (6 +Inf) on the candidate" in outcome.summary
    # a threshold: beyond any limit
    outcome = _ratio(prometheus, "1/1/0", "1/1/1", judge="threshold", value="2")
    assert outcome.decision is Decision.FAIL, outcome.summary


def test_a_ratio_that_is_nan_everywhere_says_so(prometheus: Prometheus) -> None:
    """0/0 at every step (no requests on the candidate): not a number, not "no data"."""
    outcome = _ratio(prometheus, "1/1/0", "0/0/0")
    assert outcome.decision is Decision.INCONCLUSIVE, outcome.summary
    assert "returned no number on the candidate" in outcome.summary
    assert "60 point(s) not a number (60 NaN)" in outcome.summary


def test_an_answer_with_a_warning_cannot_pass(tmp_path: Path) -> None:
    """A Prometheus whose remote store is down answers `success` with the local data and a
    warning: the data may be partial. Judged silently, two identical sides passed."""
    server = start_prometheus(tmp_path / "prometheus", remote_read="http://127.0.0.1:9/read")
    try:
        gate = MetricGate(
            name="warned", query="(count(up) or vector(0)) * 0 + {level}", min_points=5
        )
        labels = {"baseline": {"level": "1"}, "candidate": {"level": "1"}}
        outcome = _judge(server, gate, labels, NOW - 60, NOW - 1)
    finally:
        server.stop()
    assert outcome.decision is Decision.INCONCLUSIVE, outcome.summary
    assert "prometheus warned on the baseline: remote_read: error sending request" in (
        outcome.summary
    )
    assert "not enough to pass" in outcome.summary and "\n" not in outcome.summary
    assert outcome.metric["sides"]["candidate"]["warnings"]


def test_a_query_slower_than_the_timeout_is_said_so(prometheus: Prometheus) -> None:
    """A subquery at 1 ms over 30 minutes takes Prometheus about 1.5 s a fetch here (of a
    constant: evaluated once, so its own deadline is seen only at the end). Past `timeout` the
    gate is `error` saying so: not "unreachable", and not the encoded query."""
    gate = MetricGate(name="slow", query="count_over_time(vector(1)[30m:1ms])", min_points=5)
    config = HarnessConfig.model_validate(
        {"providers": {"prometheus": {"url": prometheus.url, "timeout": 0.2}}}
    )
    outcome = _judge(prometheus, gate, {"baseline": {}, "candidate": {}}, NOW - 60, NOW, config)
    assert outcome.decision is Decision.ERROR, outcome.summary
    assert outcome.summary == (
        f"prometheus on the baseline: prometheus at {prometheus.url} did not answer within 0.2 s "
        "(providers.prometheus.timeout; the query was sent with timeout=0.1s, so Prometheus stops "
        "evaluating it too; a query over a long window at a fine resolution can take longer)"
    )


def test_a_prometheus_unavailable_for_a_while_is_asked_again(prometheus: Prometheus) -> None:
    """Behind a proxy that answers 503 for its first 2.5 s (the harness's drill proxy, in front
    of the real Prometheus: a server restarting, a load balancer between replicas), a fetch
    still gets every point, asked again after 0.5, 1 and 2 s, as Argo Rollouts rides out a
    measurement error; a proxy that keeps answering 503 makes it one line naming the tries."""
    now = time.time()
    with ProxyProcess(prometheus.url, ["errors:*=100%,status=503,for=2500ms"]) as proxy:
        provider = PrometheusProvider("prometheus", ProviderConfig(url=proxy.url))
        answer = provider.fetch("vector(1)", now - 60, now, 1.0)
    assert len(answer.points) == 61 and {v for _, v in answer.points} == {1.0}
    assert proxy.counts.get("errors:*=100%,status=503,for=2500ms", 0) >= 1, proxy.counts
    with ProxyProcess(prometheus.url, ["errors:*=100%,status=503"]) as proxy:
        provider = PrometheusProvider("prometheus", ProviderConfig(url=proxy.url))
        with pytest.raises(ProviderError) as caught:
            provider.fetch("vector(1)", now - 60, now, 1.0)
    assert str(caught.value).startswith("prometheus answered HTTP 503")
    assert str(caught.value).endswith("(4 tries over 3.5 s)")


def _queries_running(server: Prometheus) -> int:
    """Prometheus' own `prometheus_engine_queries` gauge, read from its `/metrics`."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    (line,) = [ln for ln in text.splitlines() if ln.startswith("prometheus_engine_queries ")]
    return int(float(line.split()[1]))


def test_a_query_the_harness_gave_up_on_stops_on_the_server_too(
    prometheus: Prometheus,
) -> None:
    """A subquery at 1 ms over an hour (3.6 million evaluations of `vector(time())`, which
    Prometheus checks its deadline between) takes 1.2 to 4 s on this server. With a 0.6 s timeout
    and Prometheus behind a proxy that does not pass a client's close on (the drill proxy, as
    many load balancers), the query ran on for seconds after the harness had given up; sent
    with `timeout=`, Prometheus stops it itself and says so, and the gate's error is its."""
    query = "count_over_time(vector(time())[1h:1ms])"
    idle_by = time.monotonic() + 30  # queries an earlier test gave up on may still be running
    while _queries_running(prometheus) and time.monotonic() < idle_by:
        time.sleep(0.2)
    with ProxyProcess(prometheus.url) as proxy:
        provider = PrometheusProvider(
            "prometheus", ProviderConfig(url=proxy.url, timeout=0.6), pauses=()
        )
        end = time.time()
        with pytest.raises(ProviderError) as failed:
            provider.fetch(query, end - 1, end, 1.0)
        gave_up = time.monotonic()
        running = []
        while time.monotonic() - gave_up < 1.5:
            running.append(_queries_running(prometheus))
            time.sleep(0.1)
    assert max(running) == 0, running  # once a tenth of a second
    said = str(failed.value)
    # Prometheus' own "timed out" comes 0.3 s before the harness gives up; beside a CPU hog the
    # proxy may relay it later than that, and the harness's timeout speaks first, naming the
    # deadline it sent: the server stopped either way (above)
    assert (
        "stopped evaluating the query after 0.3 s" in said
        and "query timed out in expression evaluation" in said
    ) or ("did not answer within 0.6 s" in said and "sent with timeout=0.3s" in said), said
    # the same query with no deadline of its own runs past the harness's: the test has teeth
    patient = PrometheusProvider("prometheus", ProviderConfig(url=prometheus.url, timeout=60))
    started = time.monotonic()
    patient.fetch(query, end - 1, end, 1.0)
    assert time.monotonic() - started > 0.6
