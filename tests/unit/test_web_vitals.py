"""Web Vitals: readings from the page become step samples, travel through the load collector
into `vitals/` histograms, and gates judge them with `metric = "lcp"`."""

from __future__ import annotations

import numpy as np
import pytest

from harness.engine.collector import LoadAggregator, LoadCollector
from harness.gates.config import parse_gates
from harness.gates.data import RunData
from harness.gates.outcome import Decision
from harness.gates.verdict import evaluate
from harness.gates.vitals import split_metric, view
from harness.records import Outcome, StepRecord, Touchpoint
from harness.report.vitals import vitals_rows
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey
from harness.touchpoints.web_vitals import INIT_SCRIPT, merge, merge_pages


def test_readings_of_several_documents_become_samples_and_junk_is_dropped() -> None:
    documents = [
        {"ttfb": 12.345, "fcp": 100, "lcp": 180.0, "cls": 0.01234},
        {"inp": 48, "lcp": "slow", "cls": -1, "evil": 3, "requests": 4, "transfer": 12.5},
        "not a document",
        {"ttfb": 1e12},
    ]
    assert merge(documents) == {
        "ttfb": (12.3,),
        "fcp": (100.0,),
        "lcp": (180.0,),
        "cls": (0.0123,),
        "inp": (48.0,),
        "requests": (4.0,),
        "transfer": (12.5,),
    }
    assert merge({"lcp": 1}) == {}
    pages = merge_pages([{"lcp": 9, "page": "/orders/1234"}, {"lcp": 8, "ttfb": 1}])[1]
    assert pages == {"ttfb": ("?",), "lcp": ("/orders/{id}", "?")}
    assert "__KEY__" not in INIT_SCRIPT and "__harness_vitals" in INIT_SCRIPT


@pytest.mark.parametrize(
    ("metric", "found"),
    [
        ("lcp", ("lcp", "p75")),
        ("LCP.p95", ("lcp", "p95")),
        ("inp_p99", ("inp", "p99")),
        ("p95", (None, None)),
        ("error_rate", (None, None)),
        (None, (None, None)),
    ],
)
def test_a_vital_metric_names_the_vital_and_its_statistic(metric, found) -> None:
    assert split_metric(metric) == found


def _step(target: str, vitals: dict[str, tuple[float, ...]] | None) -> StepRecord:
    return StepRecord(
        run_id="r",
        target=target,
        journey="buy",
        step="checkout",
        index=0,
        touchpoint=Touchpoint.WEB,
        worker=0,
        user=0,
        iteration=0,
        started_at=1000.0,
        duration_ms=300.0,
        outcome=Outcome.PASSED,
        vitals=vitals,
    )


def test_the_collector_carries_vitals_to_the_aggregator() -> None:
    collector = LoadCollector()
    collector.step_finished(_step("candidate", {"lcp": (200.0, 250.0), "cls": (0.05,)}))
    collector.step_finished(_step("candidate", None))
    aggregator = LoadAggregator()
    aggregator.absorb("local", collector.take_delta())
    lcp = SeriesKey("candidate", "buy", "checkout", "lcp")
    assert aggregator.vitals.count(lcp) == 2
    assert aggregator.vitals.percentile(SeriesKey("candidate", "buy", "checkout", "cls"), 50) == (
        pytest.approx(0.05, rel=0.01)
    )
    assert aggregator.hdr.count(SeriesKey("candidate", "buy", "checkout", "web")) == 2
    assert "vitals" not in LoadCollector().take_delta()  # an API-only run carries none
    rows = vitals_rows(aggregator.vitals)
    assert rows[0] == ["journey › step", "metric", "samples", "p50", "p75", "p95"]
    assert [r[1] for r in rows[1:]] == ["lcp", "cls"] and rows[2][3] == "0.05"


def _run(base_lcp: np.ndarray, cand_lcp: np.ndarray) -> RunData:
    latency, vitals = HdrStore(), HdrStore()
    windows: dict = {}
    for target, values in (("baseline", base_lcp), ("candidate", cand_lcp)):
        for i, value in enumerate(values):
            latency.record(SeriesKey(target, "buy", "checkout", "web"), 400.0)
            latency.record(SeriesKey(target, "buy", ITERATION, ""), 900.0)
            vitals.record(SeriesKey(target, "buy", "checkout", "lcp"), float(value))
            second = windows.setdefault((target, "buy", "checkout", "web"), {})
            second.setdefault(1000 + i % 60, []).append(float(value))
    return RunData(
        candidate="candidate",
        baseline="baseline",
        hdr=latency,
        journeys={
            ("baseline", "buy"): (len(base_lcp), 0),
            ("candidate", "buy"): (len(cand_lcp), 0),
        },
        step_failures={},
        step_order={},
        windows={},
        failed_traces={},
        slow_traces={},
        timeline=[],
        vitals=vitals,
        vital_windows={"lcp": windows},
    )


def test_gates_judge_lcp_where_latency_is_unchanged() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(300, 20, 600).clip(50)
    slow = _run(base, base + 300)
    gates = parse_gates(
        [
            {"kind": "threshold", "metric": "lcp", "step": "checkout", "value": "500ms"},
            {"kind": "relative", "metric": "lcp.p95", "margin": "20%"},
            {"kind": "paired", "metric": "lcp", "step": "checkout"},
            {"kind": "threshold", "metric": "p95", "step": "checkout", "value": "500ms"},
        ]
    )
    outcomes = evaluate(slow, gates).gates
    assert [o.decision for o in outcomes] == [Decision.FAIL] * 3 + [Decision.PASS]
    assert outcomes[0].name.startswith("LCP ")
    p75 = evaluate(slow, parse_gates([{"kind": "relative", "metric": "lcp", "margin": "20%"}]))
    assert p75.gates[0].decision is Decision.FAIL
    shown = p75.gates[0].evidence[0]
    assert shown.candidate is not None and shown.candidate < 625, shown  # p75 ≈ 613, p95 ≈ 633
    same = evaluate(_run(base, base), gates[:2]).gates
    assert [o.decision for o in same] == [Decision.PASS, Decision.PASS]
    # the view keys LCP as the web step, whole iterations left out
    seen = view(slow, "lcp")
    assert list(seen.hdr) == [
        SeriesKey("baseline", "buy", "checkout", "web"),
        SeriesKey("candidate", "buy", "checkout", "web"),
    ]


def test_the_report_shows_a_smoke_runs_vitals_from_its_records(tmp_path) -> None:
    from harness.report.folder import RunFolder
    from harness.report.vitals import vitals_section

    run = RunFolder(path=tmp_path, steps=[_step("sandbox", {"lcp": (180.0,), "cls": (0.0,)})])
    html = str(vitals_section(run))
    assert "<td>buy › checkout</td><td>lcp</td>" in html and "180 ms" in html
    assert "0.00" in html
    assert "no web step recorded" in str(vitals_section(RunFolder(path=tmp_path)))


class _FakeSession:
    closed = False
    trace_parent = None

    def drain_requests(self) -> list:
        return []

    def step_vitals(self, step: object) -> tuple[dict | None, dict | None]:
        from harness.records import Touchpoint

        web = getattr(step, "touchpoint", None) is Touchpoint.WEB
        return ({"lcp": (120.0, 90.0)}, {"lcp": ("/cart", "/orders/{id}")}) if web else (None, None)

    def close(self) -> None:
        self.closed = True


def test_a_web_step_records_its_vitals_and_a_targets_timeouts_win(tmp_path) -> None:
    from harness import journey
    from harness.config import TargetConfig
    from harness.journey import journeys_in
    from harness.runtime import RunSettings
    from harness.testing import RecordingSink
    from harness.virtual_user import VirtualUser

    opened: list[dict] = []

    class FakeHost:
        def new_session(self, **options):
            opened.append(options)
            return _FakeSession()

    @journey
    def web_then_api(j):
        with j.step("open", on="web"):
            assert j.web is not None
        with j.step("check", on="api"):
            pass

    target = TargetConfig(url="http://shop.test", action_timeout=2.0).resolve("shop")
    sink = RecordingSink()
    settings = RunSettings(run_id="r", target=target, artifacts_dir=tmp_path, action_timeout=5.0)
    user = VirtualUser(index=0, settings=settings, sink=sink, browser=FakeHost)
    user.run_iteration(journeys_in({"j": web_then_api})[0], 0)
    assert [s.vitals for s in sink.steps] == [{"lcp": (120.0, 90.0)}, None]
    assert sink.steps[0].vital_pages == {"lcp": ("/cart", "/orders/{id}")}
    assert (opened[0]["action_timeout"], opened[0]["navigation_timeout"]) == (2.0, 15.0)


@pytest.mark.parametrize(("value", "on"), [(None, True), ("1", True), ("0", False), ("off", False)])
def test_vitals_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, value, on) -> None:
    from harness.touchpoints import web_vitals

    if value is None:
        monkeypatch.delenv(web_vitals.ENV, raising=False)
    else:
        monkeypatch.setenv(web_vitals.ENV, value)
    assert web_vitals.enabled() is on


def _checkout_records(rng: np.random.Generator, slower_ms: float, n: int = 30) -> list[StepRecord]:
    """`n` iterations of a checkout step on both sides, three pages each; the candidate's
    checkout page `slower_ms` later."""
    records = []
    for i in range(n):
        shared = {page: rng.lognormal(np.log(ms), 0.3) for page, ms in _PAGES.items()}
        for target in ("baseline", "candidate"):
            lcp = [shared[p] * rng.lognormal(0, 0.15) for p in _PAGES]
            if target == "candidate":
                lcp[1] += slower_ms
            record = _step(target, {"lcp": tuple(round(v, 1) for v in lcp)})
            records.append(
                record.model_copy(
                    update={
                        "iteration": i,
                        "started_at": 1000.0 + 6 * i + (3 if target == "candidate" else 0),
                        "vital_pages": {"lcp": tuple(_PAGES)},
                    }
                )
            )
    return records


_PAGES = {"/cart": 300.0, "/checkout": 250.0, "/orders/{id}": 300.0}


def _from_records(records: list[StepRecord]) -> RunData:
    latency = HdrStore()
    for r in records:
        latency.record(SeriesKey(r.target, r.journey, r.step, "web"), r.duration_ms)
    data = RunData(
        candidate="candidate",
        baseline="baseline",
        hdr=latency,
        journeys={("baseline", "buy"): (30, 0), ("candidate", "buy"): (30, 0)},
        step_failures={},
        step_order={},
        windows={},
        failed_traces={},
        slow_traces={},
        timeline=[],
    )
    data._absorb_records(records)
    return data


def test_a_gate_with_page_judges_each_page_of_a_step() -> None:
    gate = {"kind": "paired", "metric": "lcp", "step": "checkout", "page": "*", "alpha": 0.002}
    slow = _from_records(_checkout_records(np.random.default_rng(3), 300.0))
    outcome = evaluate(slow, parse_gates([gate])).gates[0]
    assert outcome.decision is Decision.FAIL, outcome.summary
    decided = {e.step: e.decision for e in outcome.evidence}
    assert decided["checkout · /checkout"] is Decision.FAIL
    assert decided["checkout · /cart"] is not Decision.FAIL
    assert decided["checkout · /orders/{id}"] is not Decision.FAIL
    # the pooled view keeps the step's own series only, pages out of it
    assert {k[2] for k in view(slow, "lcp").windows} == {"checkout"}
    assert {k.step for k in view(slow, "lcp", "/check*").hdr} == {"checkout · /checkout"}
    same = _from_records(_checkout_records(np.random.default_rng(4), 0.0))
    assert evaluate(same, parse_gates([gate])).gates[0].decision is not Decision.FAIL
    # the default gates judge pages too: the rehearsal without [[gates]] fails on this page
    from harness.gates.config import DEFAULT_GATES

    defaults = {g.name: g for g in evaluate(slow, parse_gates(DEFAULT_GATES)).gates}
    pages = defaults["LCP per page (paired)"]
    assert pages.decision is Decision.FAIL, pages.summary
    assert "LCP of step `checkout · /checkout`" in pages.summary


def test_page_needs_a_vital_metric() -> None:
    from harness.errors import SpecError

    with pytest.raises(SpecError, match="`page` scopes a Web Vital"):
        parse_gates([{"kind": "paired", "step": "checkout", "page": "*"}])


def test_the_report_shows_each_pages_vitals_under_its_step(tmp_path) -> None:
    from harness.report.folder import RunFolder
    from harness.report.vitals import vitals_section

    step = _step("sandbox", {"lcp": (180.0, 520.0), "ttfb": (40.0, 340.0)}).model_copy(
        update={"vital_pages": {"lcp": ("/cart", "/checkout"), "ttfb": ("/cart", "/checkout")}}
    )
    html = str(vitals_section(RunFolder(path=tmp_path, steps=[step])))
    rows = [r.split("</td>")[0] + "|" + r.split("</td>")[1] for r in html.split("<tr><td>")[1:]]
    assert rows == [
        "buy › checkout|<td>ttfb",
        "buy › checkout|<td>lcp",
        "buy › checkout · /cart|<td>ttfb",
        "buy › checkout · /cart|<td>lcp",
        "buy › checkout · /checkout|<td>ttfb",
        "buy › checkout · /checkout|<td>lcp",
    ], rows
    assert "520 ms" in html


def test_the_collector_keeps_each_pages_ttfb_and_lcp() -> None:
    collector = LoadCollector()
    step = _step("candidate", {"lcp": (180.0, 520.0), "cls": (0.0,)}).model_copy(
        update={"vital_pages": {"lcp": ("/cart", "/checkout"), "cls": ("/cart",)}}
    )
    collector.step_finished(step)
    aggregator = LoadAggregator()
    aggregator.absorb("local", collector.take_delta())
    page = SeriesKey("candidate", "buy", "checkout · /checkout", "lcp.page")
    assert aggregator.vitals.count(page) == 1
    assert aggregator.vitals.count(SeriesKey("candidate", "buy", "checkout", "lcp")) == 2
    assert not [k for k in aggregator.vitals if k.touchpoint == "cls.page"]  # TTFB, LCP only
    # the pooled LCP gate sees the step, not its pages
    data = _from_records([])
    data.vitals = aggregator.vitals
    assert [k.step for k in view(data, "lcp").hdr] == ["checkout"]
