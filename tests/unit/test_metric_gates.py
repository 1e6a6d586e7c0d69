"""The `metric` gate and the Prometheus provider, without a Prometheus: fetched points in
memory, and a fake transport answering as Prometheus' HTTP API does."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from harness.config import HarnessConfig, load_config
from harness.errors import ConfigError, ConnectionFailed, SpecError
from harness.gates.config import parse_gates
from harness.gates.data import RunData
from harness.gates.metric import MetricGate, MetricLimit, expand_query
from harness.gates.metric_series import METRICS_FILE, FetchedMetric, FetchedSide, MetricsFile
from harness.gates.outcome import Decision
from harness.gates.verdict import evaluate, summary_lines
from harness.http import HttpRequest, RawResponse
from harness.providers import Answer, ProviderError, check_providers, fetch_metrics, prometheus
from harness.providers.prometheus import PrometheusProvider
from harness.targets import Target
from harness.telemetry.hdr import HdrStore
from harness.testing import FakeTransport

QUERY = 'sum(rate(process_cpu_seconds_total{release="{release}"}[30s]))'


def _side(values: list[float] | None, error: str | None = None) -> FetchedSide:
    points = [(1000.0 + i, v) for i, v in enumerate(values or [])]
    return FetchedSide(target="t", query=QUERY, points=points, error=error)


def _data(base: FetchedSide, cand: FetchedSide, query: str = QUERY) -> RunData:
    fetched = FetchedMetric(
        provider="prometheus",
        kind="prometheus",
        query=query,
        resolution_s=1.0,
        start=1000.0,
        end=1030.0,
        sides={"baseline": base, "candidate": cand},
    )
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
        metrics=[fetched],
    )


def _noisy(mean: float, n: int = 30, seed: int = 1) -> list[float]:
    return list(mean + np.random.default_rng(seed).normal(0, 0.01, n))


def _gate(**fields: object) -> MetricGate:
    fields = {"min_points": 5, **fields}  # the default, 30, is for real runs' drifting points
    (gate,) = parse_gates([{"kind": "metric", "name": "cpu", "query": QUERY, **fields}])
    assert isinstance(gate, MetricGate)
    return gate


def test_a_candidate_beyond_the_margin_fails_and_its_points_are_recorded() -> None:
    data = _data(_side(_noisy(0.20)), _side(_noisy(0.30, seed=2)))
    outcome = _gate(margin="20%").evaluate(data)
    assert outcome.decision is Decision.FAIL, outcome.summary
    assert outcome.summary.startswith("metric `cpu` 0.1993 → 0.2992 (+0.09991, +50%; 95% CI")
    assert "margin +20% (+0.03987), 30 paired points" in outcome.summary
    assert outcome.metric is not None
    assert outcome.metric["query"] == QUERY and outcome.metric["provider"] == "prometheus"
    assert len(outcome.metric["sides"]["candidate"]["points"]) == 30
    assert outcome.evidence[0].counts == "points"


def test_an_identical_candidate_passes_and_a_lower_one_passes_an_increase_gate() -> None:
    same = _gate(margin="20%").evaluate(_data(_side(_noisy(0.20)), _side(_noisy(0.20, seed=3))))
    assert same.decision is Decision.PASS, same.summary
    lower = _gate(margin="20%").evaluate(_data(_side(_noisy(0.20)), _side(_noisy(0.10, seed=3))))
    assert lower.decision is Decision.PASS
    drop = _gate(margin="20%", direction="decrease")
    assert drop.evaluate(_data(_side(_noisy(0.20)), _side(_noisy(0.10, seed=3)))).decision is (
        Decision.FAIL
    )


def test_percentage_points_are_absolute_and_zero_baselines_are_fine() -> None:
    data = _data(_side([0.0] * 20), _side([0.02 + 0.001 * (i % 3) for i in range(20)]))
    assert _gate(margin="0.5pp").evaluate(data).decision is Decision.FAIL
    assert _gate(margin="5pp").evaluate(data).decision is Decision.PASS


def test_threshold_judges_the_candidate_alone() -> None:
    data = _data(_side(None), _side(_noisy(0.5)))
    assert _gate(judge="threshold", value=0.8).evaluate(data).decision is Decision.PASS
    assert _gate(judge="threshold", value=0.3).evaluate(data).decision is Decision.FAIL


def test_a_fetch_error_is_the_gates_error_and_the_rest_is_still_judged() -> None:
    down = "prometheus at http://127.0.0.1:9 unreachable: could not connect: Connection refused"
    data = _data(_side(None, error=down), _side(None, error=down))
    gates = parse_gates(
        [
            {"kind": "metric", "name": "cpu", "query": QUERY},
            {"kind": "metric", "name": "other", "query": "up", "provider": "elsewhere"},
        ]
    )
    verdict = evaluate(data, gates)
    cpu = verdict.gates[0]
    assert cpu.decision is Decision.ERROR
    assert cpu.summary == f"prometheus on the baseline: {down}"
    assert verdict.gates[1].decision is Decision.INCONCLUSIVE  # judged, though not fetched
    assert "was not fetched from elsewhere" in verdict.gates[1].summary
    assert verdict.decision is Decision.ERROR
    assert any("cpu" in line and "error" in line for line in summary_lines(verdict))


def test_an_empty_result_is_inconclusive_naming_the_query() -> None:
    expanded = QUERY.replace("{release}", "v42")
    empty = FetchedSide(target="t", query=expanded, points=[])
    outcome = _gate().evaluate(_data(_side(_noisy(0.2)), empty))
    assert outcome.decision is Decision.INCONCLUSIVE
    said = f"query {expanded!r} returned no data on the candidate from prometheus"
    assert outcome.summary == said


def test_too_few_points_are_not_judged_and_warmup_drops_the_first_seconds() -> None:
    data = _data(_side(_noisy(0.2, n=8)), _side(_noisy(0.5, n=8)))
    (default,) = parse_gates([{"kind": "metric", "query": QUERY}])
    assert "n = 8 / 8 of 30 points needed" in default.evaluate(data).summary
    assert _gate().evaluate(data).decision is Decision.FAIL
    short = _gate(warmup="4s").evaluate(data)
    assert short.decision is Decision.INCONCLUSIVE
    assert "n = 4 / 4 of 5 points needed per side" in short.summary


def test_the_gate_reads_metrics_json_of_a_stored_run(tmp_path: Path) -> None:
    data = _data(_side(_noisy(0.20)), _side(_noisy(0.30, seed=2)))
    assert data.metrics is not None
    (tmp_path / METRICS_FILE).write_text(MetricsFile(metrics=data.metrics).model_dump_json())
    stored = _data(_side(None), _side(None))
    stored.metrics, stored.run_dir = None, tmp_path
    assert _gate().evaluate(stored).decision is Decision.FAIL


def test_placeholders_expand_per_side_and_promql_braces_stay() -> None:
    labels = {"release": 'v4"2', "side": "candidate", "target": "prod"}
    assert expand_query(QUERY, labels) == (
        'sum(rate(process_cpu_seconds_total{release="v4\\"2"}[30s]))'
    )
    assert expand_query("up{job=~'a.*'}", {}) == "up{job=~'a.*'}"
    with pytest.raises(SpecError, match=r"uses \{region\}, which no label"):
        expand_query('x{region="{region}"}', labels)


def test_margins() -> None:
    assert MetricLimit("20%", what="m").absolute(0.5) == pytest.approx(0.1)
    assert MetricLimit("0.5pp", what="m").absolute(0.5) == pytest.approx(0.005)
    assert MetricLimit(3, what="m").absolute(10) == 3
    with pytest.raises(SpecError, match="20% \\(relative\\)"):
        MetricLimit("lots", what="m")


def _answer(status: int, body: object) -> FakeTransport:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return FakeTransport(lambda request: RawResponse(status, {}, raw))


def _provider(transport: FakeTransport, **settings: object) -> PrometheusProvider:
    config = HarnessConfig.model_validate(
        {"providers": {"prom": {"url": "http://prom.example:9090/", **settings}}}
    ).providers["prom"]
    return PrometheusProvider("prom", config, transport)


def _matrix(*series: list[list[object]]) -> dict[str, object]:
    result = [{"metric": {}, "values": values} for values in series]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def test_prometheus_query_range_with_headers_and_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROM_TOKEN", "s3cret")
    transport = _answer(200, _matrix([[1000, "0.5"], [1001, "NaN"], [1002, "0.7"]]))
    provider = _provider(
        transport, headers={"X-Scope-OrgID": "${PROM_TOKEN}"}, auth=["me", "pw"], timeout=3
    )
    points = provider.fetch('sum(rate(x{a="b"}[5s]))', 1000.0, 1002.0, 1.0).points
    assert [t for t, _ in points] == [1000.0, 1001.0, 1002.0]  # NaN (0/0) kept for the gate
    assert points[0] == (1000.0, 0.5) and math.isnan(points[1][1]) and points[2] == (1002.0, 0.7)
    (request,) = transport.requests
    assert isinstance(request, HttpRequest)
    assert request.url.startswith("http://prom.example:9090/api/v1/query_range?query=sum%28rate")
    assert "start=1000.000&end=1002.000&step=1&timeout=2.000" in request.url  # 1 s less
    assert request.headers["x-scope-orgid"] == "s3cret"
    assert request.headers["authorization"].startswith("Basic ")
    assert request.timeout == 3


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            400,
            {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"},
            "prometheus answered HTTP 400: bad_data: parse error at char 5",
        ),
        (500, b"internal\nserver error", "prometheus answered HTTP 500: internal server error"),
        (200, _matrix([[1, "1"]], [[1, "2"]]), "returned 2 series; aggregate it to one"),
        (200, {"status": "success", "data": {"resultType": "vector", "result": []}}, "'vector'"),
    ],
)
def test_prometheus_errors_are_one_line(status: int, body: object, message: str) -> None:
    with pytest.raises(ProviderError, match=message.replace("(", r"\(")) as caught:
        _provider(_answer(status, body)).fetch("up", 1.0, 2.0, 1.0)
    assert "\n" not in str(caught.value)


def test_an_unreachable_prometheus_is_a_provider_error_after_its_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("harness.providers.prometheus.RETRY_PAUSES_S", (0.0, 0.0, 0.0))
    tries: list[str] = []

    def refuse(request: HttpRequest) -> RawResponse:
        tries.append(request.url)
        raise ConnectionFailed(f"GET {request.url} could not connect: Connection refused")

    with pytest.raises(ProviderError) as caught:
        _provider(FakeTransport(refuse)).fetch("up", 1.0, 2.0, 1.0)
    assert str(caught.value) == (
        "prometheus at http://prom.example:9090/ unreachable: could not connect: Connection "
        "refused (4 tries over 0 s)"
    )
    assert len(tries) == 4


def test_an_answer_prometheus_gave_is_not_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.providers.prometheus.RETRY_PAUSES_S", (0.0, 0.0, 0.0))
    tries: list[str] = []
    bad = b'{"status":"error","errorType":"bad_data","error":"parse error"}'

    def answer(request: HttpRequest) -> RawResponse:
        tries.append(request.url)
        return RawResponse(400, {"content-type": "application/json"}, bad)

    with pytest.raises(ProviderError, match=r"HTTP 400: bad_data: parse error$"):
        _provider(FakeTransport(answer)).fetch("up(", 1.0, 2.0, 1.0)
    assert len(tries) == 1


def test_a_query_prometheus_timed_out_as_asked_is_said_so_and_not_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Prometheus answers its own timeout with 503, which would otherwise be retried."""
    monkeypatch.setattr("harness.providers.prometheus.RETRY_PAUSES_S", (0.0, 0.0, 0.0))
    tries: list[str] = []
    timed_out = b'{"status":"error","errorType":"timeout","error":"query timed out in query queue"}'

    def answer(request: HttpRequest) -> RawResponse:
        tries.append(request.url)
        return RawResponse(503, {"content-type": "application/json"}, timed_out)

    with pytest.raises(ProviderError) as failed:
        _provider(FakeTransport(answer), timeout=1.5).fetch("up", 1.0, 2.0, 1.0)
    assert len(tries) == 1 and tries[0].endswith("&timeout=0.750")  # half, below 2 s
    assert str(failed.value) == (
        "prometheus at http://prom.example:9090/ stopped evaluating the query after 0.75 s, as "
        "the harness asked (the timeout sent with it, for providers.prom.timeout = 1.5 s; a query "
        "over a long window at a fine resolution can take longer): query timed out in query queue"
    )


def test_fetch_metrics_expands_labels_per_side_and_keeps_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[str] = []

    def fetch(self: PrometheusProvider, query: str, *args: float) -> Answer:
        sent.append(query)
        if "v2" in query:
            raise ProviderError("prometheus answered HTTP 503: unavailable")
        return Answer([(1.0, 0.1)])

    monkeypatch.setattr(PrometheusProvider, "fetch", fetch)
    config = HarnessConfig.model_validate({"providers": {"prometheus": {"url": "http://p:9090"}}})
    sides = {
        "baseline": Target.from_base_url("http://a:1", name="a").model_copy(
            update={"labels": {"release": "v1"}}
        ),
        "candidate": Target.from_base_url("http://b:1", name="b").model_copy(
            update={"labels": {"release": "v2"}}
        ),
    }
    gates = [_gate(), _gate(name="again")]  # one query: fetched once per side
    (fetched,) = fetch_metrics(gates, config, sides, 1.0, 9.0)
    assert sent == [QUERY.replace("{release}", "v1"), QUERY.replace("{release}", "v2")]
    assert fetched.sides["baseline"].points == [(1.0, 0.1)]
    assert fetched.sides["candidate"].error == "prometheus answered HTTP 503: unavailable"


def test_config_providers_labels_and_unconfigured_providers(tmp_path: Path) -> None:
    path = tmp_path / "harness.toml"
    path.write_text(
        '[providers.prometheus]\nurl = "http://127.0.0.1:9090"\n'
        '[targets.prod]\nurl = "http://127.0.0.1:8800"\nlabels = { release = "v42" }\n'
        f'[[gates]]\nkind = "metric"\nquery = \'{QUERY}\'\nmargin = "0.5pp"\n'
    )
    config = load_config(path).config
    assert config.targets["prod"].resolve("prod").labels == {"release": "v42"}
    check_providers(parse_gates(config.gates), config)
    with pytest.raises(SpecError, match=r"provider 'thanos' is not configured"):
        check_providers([_gate(provider="thanos")], config)
    path.write_text('[providers.prometheus]\nurl = "http://x"\nheaderz = {}\n')
    with pytest.raises(ConfigError, match="did you mean `headers`"):
        load_config(path)


def test_the_report_charts_both_sides_of_each_metric_gate() -> None:
    from types import SimpleNamespace

    from harness.report.metric_charts import metric_series

    data = _data(_side(_noisy(0.20)), _side(_noisy(0.30, seed=2)))
    verdict = evaluate(data, [_gate(margin="20%")])
    html = str(metric_series(SimpleNamespace(verdict=verdict)))  # type: ignore[arg-type]
    assert html.count("<svg") == 1
    assert "cpu: fail" in html and "query sum(rate(process_cpu_seconds_total" in html
    assert "baseline" in html and "candidate" in html
    empty = str(metric_series(SimpleNamespace(verdict=None)))  # type: ignore[arg-type]
    assert "no metric gate fetched points" in empty


def test_a_drill_times_a_metric_gates_detection_on_windows_of_its_points() -> None:
    from harness.drill.replay import StoredRun, detection_times
    from harness.records import IterationRecord, Outcome

    def record(at: float) -> IterationRecord:
        return IterationRecord(
            target="baseline", journey="j", run_id="r", worker=0, user=0, iteration=0,
            started_at=at, duration_ms=1.0, outcome=Outcome.PASSED, steps_passed=1,
            steps_total=1,
        )  # fmt: skip

    # the candidate's CPU doubles from second 5 of a 40-second run
    base = [0.2 + 0.002 * (i % 3) for i in range(40)]
    cand = [b * (2.0 if i >= 5 else 1.0) for i, b in enumerate(base)]
    data = _data(_side(base), _side(cand))
    assert data.metrics is not None
    run = StoredRun([record(1000.0), record(1039.0)], [], "baseline", "candidate", {}, data.metrics)
    gate = _gate(margin="20%", alpha=0.01, drift="short")
    detected = detection_times(run, [gate], onset=1005.0)
    assert detected["cpu"] is not None and 1 <= detected["cpu"] <= 30


def test_an_abort_metric_gate_stops_the_run_once_its_breach_is_sustained() -> None:
    from types import SimpleNamespace

    from harness.run.metric_watch import MetricAbortWatch

    looks: list[tuple[float, float]] = []
    failing = _data(_side(_noisy(0.20)), _side(_noisy(0.40, seed=2)))
    assert failing.metrics is not None

    def fetch(start: float, end: float) -> list[FetchedMetric]:
        looks.append((start, end))
        return list(failing.metrics or [])

    gate = _gate(margin="20%", abort=True, **{"for": "4s"})
    watch = MetricAbortWatch(
        [gate], fetch, baseline="base", candidate="hot", every_s=2.0, clock=lambda: 1030.0
    )
    aggregator = SimpleNamespace(seconds={})
    assert watch(aggregator, 0.0) is None  # type: ignore[arg-type]  # nothing measured yet
    tally = SimpleNamespace(iterations=3, failures=0)
    aggregator.seconds = {("base", 1000): tally, ("hot", 1000): tally}
    assert watch(aggregator, 1.0) is None  # type: ignore[arg-type]  # not due: every 2 s
    assert watch(aggregator, 2.0) is None  # type: ignore[arg-type]  # the breach begins
    assert watch(aggregator, 4.0) is None  # type: ignore[arg-type]  # held 2 s of 4
    reason = watch(aggregator, 6.0)  # type: ignore[arg-type]
    assert reason is not None and reason.startswith("cpu breached for 4 s: metric `cpu`")
    assert looks[0] == (1000.0, 1030.0)

    def down(start: float, end: float) -> list[FetchedMetric]:
        raise ProviderError("prometheus answered HTTP 500: boom")

    quiet = MetricAbortWatch([gate], down, baseline="base", candidate="hot", every_s=0.0)
    assert quiet(aggregator, 10.0) is None  # type: ignore[arg-type]


def test_kayentas_judge_on_the_points() -> None:
    higher = _data(_side(_noisy(0.20)), _side(_noisy(0.40, seed=2)))
    outcome = _gate(judge="mann_whitney").evaluate(higher)
    assert outcome.decision is Decision.FAIL, outcome.summary
    assert "Mann-Whitney, Kayenta: High" in outcome.summary
    same = _data(_side(_noisy(0.20)), _side(_noisy(0.20, seed=5)))
    assert _gate(judge="mann_whitney").evaluate(same).decision is Decision.PASS


def test_points_that_are_not_numbers_are_kept_apart_and_survive_metrics_json() -> None:
    side = FetchedSide.of(
        "t", "q", [(1.0, 0.5), (2.0, math.nan), (3.0, math.inf), (4.0, -math.inf)]
    )
    assert side.points == [(1.0, 0.5)] and side.series == 1
    assert side.nonfinite == [(2.0, "NaN"), (3.0, "+Inf"), (4.0, "-Inf")]
    assert side.within(2.0, 4.0).nonfinite == [(2.0, "NaN"), (3.0, "+Inf")]
    fetched = FetchedMetric(
        provider="p", kind="prometheus", query="q", resolution_s=1.0, start=0.0, end=5.0,
        sides={"target": side},
    )  # fmt: skip
    stored = MetricsFile(metrics=[fetched]).model_dump_json()
    assert MetricsFile.model_validate_json(stored).metrics == [fetched]


def test_prometheus_warnings_and_infos_are_kept_one_line_each() -> None:
    body = {
        **_matrix([[1000, "1"]]),
        "warnings": ["remote_read: error sending request:\n connection refused"],
        "infos": ["PromQL info: metric might not be a counter"],
    }
    answer = _provider(_answer(200, body)).fetch("up", 1000.0, 1000.0, 1.0)
    assert answer.points == [(1000.0, 1.0)]
    assert answer.warnings == ["remote_read: error sending request: connection refused"]
    assert answer.infos == ["PromQL info: metric might not be a counter"]


def test_a_live_look_asks_once_and_the_end_of_the_run_asks_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Port 9 on loopback refuses at once: the live watch's look (`retry=False`) is one try,
    its next look coming anyway; the end of the run's fetch tries 4 times."""
    config = HarnessConfig.model_validate(
        {"providers": {"prometheus": {"url": "http://127.0.0.1:9"}}}
    )
    sides = {"target": Target.from_base_url("http://a:1", name="a")}
    gate = _gate(query="up")
    (once,) = fetch_metrics([gate], config, sides, 1.0, 9.0, retry=False)
    error = once.sides["target"].error or ""
    assert "unreachable" in error and "tries" not in error
    monkeypatch.setattr(prometheus, "RETRY_PAUSES_S", (0.0, 0.0, 0.0))
    (again,) = fetch_metrics([gate], config, sides, 1.0, 9.0)
    assert (again.sides["target"].error or "").endswith("(4 tries over 0 s)")
