"""Coverage is part of the verdict: a gate passes only when every series in its scope was
judged, a gate's scope is narrowed explicitly (journeys, touchpoints), and a series short of
samples says how many it needs and how long a run at this run's rate would take."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.errors import SpecError
from harness.gates.config import DEFAULT_GATES, parse_gates
from harness.gates.data import RunData
from harness.gates.outcome import Decision, Evidence, GateOutcome
from harness.gates.verdict import Verdict, evaluate, summary_lines, summary_markdown
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey

SECONDS = 60
T0 = 1000

Series = dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]]


def lognormal(n: int, seed: int, median: float = 20.0, sigma: float = 0.5) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(np.log(median), sigma, n)


def run_data(series: Series, seconds: int = SECONDS) -> RunData:
    """A rehearsal of `seconds` seconds: each series' samples spread evenly over the run, one
    iteration per sample of the journey's busiest step."""
    store = HdrStore()
    windows: dict[tuple[str, str, str, str], dict[int, list[float]]] = {}
    order: dict[str, list[tuple[str, str]]] = {}
    iterations: dict[tuple[str, str], int] = {}
    for (journey, step, touchpoint), sides in series.items():
        order.setdefault(journey, []).append((step, touchpoint))
        for target, values in zip(("baseline", "candidate"), sides, strict=True):
            per_second: dict[int, list[float]] = {}
            for index, value in enumerate(values):
                store.record(SeriesKey(target, journey, step, touchpoint), float(value))
                per_second.setdefault(T0 + index * seconds // len(values), []).append(float(value))
            windows[(target, journey, step, touchpoint)] = per_second
            iterations[(target, journey)] = max(iterations.get((target, journey), 0), len(values))
    for (target, journey), n in iterations.items():
        for value in lognormal(n, 9, median=100.0):
            store.record(SeriesKey(target, journey, ITERATION, ""), float(value))
    timeline = [
        {"target": t, "t": T0 + s, "iterations": 50, "failures": 0}
        for t in ("baseline", "candidate")
        for s in range(seconds)
    ]
    return RunData(
        candidate="candidate",
        baseline="baseline",
        hdr=store,
        journeys={k: (n, 0) for k, n in iterations.items()},
        step_failures={},
        step_order=order,
        windows=windows,
        failed_traces={},
        slow_traces={},
        timeline=timeline,
        health={"saturated": False},
        meta={
            "run_id": "r",
            "targets": {"baseline": {"name": "baseline"}, "candidate": {"name": "candidate"}},
        },
    )


def doubled_p95(values: np.ndarray, base: np.ndarray) -> np.ndarray:
    """The tail above the baseline's p90 pushed out so that the p95 about doubles; the median
    (what Kayenta's judge compares) is untouched."""
    out = values.copy()
    out[out > np.quantile(base, 0.90)] += np.quantile(base, 0.95)
    return out


def test_a_doubled_p95_on_a_thin_step_never_passes() -> None:
    # The simulation: default gates, a well-sampled API step and a web step with 150
    # samples a side (below the tail gate's 200 / 999): before, the tail gate passed on the API
    # step alone whenever the bootstrap did not already fail the thin step.
    decisions = []
    for seed in range(12):
        web = lognormal(150, 100 + seed, median=300.0)
        data = run_data(
            {
                ("shop", "pay", "api"): (lognormal(2000, seed), lognormal(2000, 50 + seed)),
                ("shop", "filter", "web"): (web, doubled_p95(lognormal(150, 200 + seed, 300), web)),
            }
        )
        verdict = evaluate(data, parse_gates(DEFAULT_GATES))
        decisions.append(verdict.decision)
        assert verdict.decision is not Decision.PASS, summary_lines(verdict)
        tail = next(g for g in verdict.gates if g.kind == "tail_shift")
        assert tail.decision in (Decision.INCONCLUSIVE, Decision.FAIL)
        assert "step `filter` of `shop` on web" in tail.summary
    assert Decision.INCONCLUSIVE in decisions  # not merely caught by luck of the bootstrap


def test_a_gate_passes_only_when_every_series_in_scope_was_judged() -> None:
    few = lognormal(8, 3, median=300.0), lognormal(8, 4, median=300.0)
    # a pass needs each interval within the margin: p99 at 2,000 a side is within 20%
    tail = parse_gates([{"kind": "tail_shift", "margin": "20%"}])
    data = run_data({("shop", "pay", "api"): (lognormal(2000, 1), lognormal(2000, 2))})
    assert evaluate(data, tail).decision is Decision.PASS
    data = run_data(
        {
            ("shop", "pay", "api"): (lognormal(2000, 1), lognormal(2000, 2)),
            ("shop", "filter", "web"): few,
        }
    )
    verdict = evaluate(data, tail)
    gate = verdict.gates[0]
    assert gate.decision is Decision.INCONCLUSIVE and verdict.decision is Decision.INCONCLUSIVE
    assert gate.summary.startswith("not judged on 1 of 2 series: step `filter` of `shop` on web")
    missing = [e for e in gate.evidence if not e.judged]
    assert {(e.journey, e.step, e.touchpoint) for e in missing} == {("shop", "filter", "web")}
    assert all(e.n_needed is not None and e.n_baseline == 8 for e in missing)


def test_touchpoints_narrow_the_scope_explicitly() -> None:
    few = lognormal(8, 3, median=300.0), lognormal(8, 4, median=300.0)
    data = run_data(
        {
            # enough for every default gate's interval to lie within its margin
            ("shop", "pay", "api"): (lognormal(6000, 1), lognormal(6000, 2)),
            ("app", "cart", "mobile"): (lognormal(6000, 5), lognormal(6000, 6)),
            ("shop", "filter", "web"): few,
        }
    )
    everything = evaluate(data, parse_gates(DEFAULT_GATES))
    assert everything.decision is Decision.INCONCLUSIVE
    assert any("step `filter` of `shop` on web" in r for r in everything.reasons)
    scoped = parse_gates([{**g, "touchpoints": ["api", "mobile"]} for g in DEFAULT_GATES])
    verdict = evaluate(data, scoped)
    assert verdict.decision is Decision.PASS, summary_lines(verdict)
    tail = next(g for g in verdict.gates if g.kind == "tail_shift")
    judged = {(e.step, e.touchpoint) for e in tail.evidence}
    assert judged == {("pay", "api"), ("cart", "mobile")}
    unnamed = parse_gates([{"kind": "tail_shift", "touchpoints": ["api", "mobile"]}])[0]
    assert unnamed.title() == "tail_shift (touchpoints=api,mobile)"
    # journeys narrow it likewise, and the single spellings still work
    only_app = parse_gates([{"kind": "tail_shift", "journeys": ["app"]}])
    assert {e.journey for e in evaluate(data, only_app).gates[0].evidence} == {"app"}
    single = parse_gates(
        [{"kind": "tail_shift", "journey": "app", "touchpoint": "mobile", "margin": "20%"}]
    )
    assert evaluate(data, single).decision is Decision.PASS
    one_name = parse_gates([{"kind": "tail_shift", "touchpoints": "mobile"}])[0]
    assert one_name.touchpoints == ["mobile"]


def test_scope_keys_are_checked_with_a_suggestion() -> None:
    with pytest.raises(
        SpecError, match=r"`touchpoints` .*'mobil' is not a touchpoint; did you mean 'mobile'\?"
    ):
        parse_gates([{"kind": "tail_shift", "touchpoints": ["api", "mobil"]}])
    with pytest.raises(
        SpecError, match=r"'desktop' is not a touchpoint.*Allowed: web, api, mobile"
    ):
        parse_gates([{"kind": "tail_shift", "touchpoint": "desktop"}])
    with pytest.raises(SpecError, match=r"give `journey` or `journeys`, not both"):
        parse_gates([{"kind": "tail_shift", "journey": "a", "journeys": ["b"]}])
    with pytest.raises(
        SpecError, match=r"unknown key `touchpoint_list`.*did you mean `touchpoints`"
    ):
        parse_gates([{"kind": "tail_shift", "touchpoint_list": ["api"]}])


def test_minutes_needed_come_from_this_runs_rate() -> None:
    # 8 samples a side over a 60-second run: 8 / 60 per second. The p95 test needs 200 per
    # side: 200 / (8 / 60) = 1,500 s = 25 min. Kayenta needs 30 per-second points: the 8
    # samples fall in 8 distinct seconds, so 30 / (8 / 60) = 225 s = 3.75 min.
    few = lognormal(8, 3, median=300.0), lognormal(8, 4, median=300.0)
    data = run_data({("shop", "filter", "web"): few})
    assert data.run_seconds() == SECONDS
    gates = parse_gates(
        [{"kind": "tail_shift", "quantiles": ["p95"]}, {"kind": "mann_whitney", "name": "kayenta"}]
    )
    verdict = evaluate(data, gates)
    tail, kayenta = (g.evidence[0] for g in verdict.gates)
    assert (tail.n_baseline, tail.n_candidate, tail.n_needed) == (8, 8, 200)
    assert tail.minutes_needed == pytest.approx(25.0)
    assert tail.words.endswith("n = 8 / 8 of 200 needed per side; ≈ 25 min at this run's rate")
    assert (kayenta.counts, kayenta.n_needed) == ("per-second points", 30)
    assert kayenta.minutes_needed == pytest.approx(3.75)
    assert "of 30 per-second points needed per side; ≈ 4 min" in kayenta.words
    assert verdict.run_s == SECONDS and verdict.minutes_needed == pytest.approx(25.0)
    lines = summary_lines(verdict)
    assert any(line.startswith("  needs: a run of ≈ 25 min at this run's rates") for line in lines)
    # the slower side sets the pace; an empty side cannot be waited for
    lopsided = Evidence(
        series="s", decision=Decision.INCONCLUSIVE, test="t", n_baseline=30, n_candidate=6,
        judged=False, n_needed=100,
    )  # fmt: skip
    timed = lopsided.at_rate(120.0)
    assert timed.minutes_needed == pytest.approx(100 / (6 / 120) / 60, abs=0.01)
    assert timed.at_rate(60.0) == timed  # timed once
    empty = lopsided.model_copy(update={"n_candidate": 0})
    assert empty.at_rate(120.0).minutes_needed is None
    assert "none on the candidate: a longer run would not help" in empty.shortfall()


def test_the_verdict_carries_a_coverage_table() -> None:
    few = lognormal(8, 3, median=300.0), lognormal(8, 4, median=300.0)
    data = run_data(
        {
            ("shop", "pay", "api"): (lognormal(2000, 1), lognormal(2000, 2)),
            ("shop", "filter", "web"): few,
        }
    )
    gates = parse_gates(
        [
            {"kind": "tail_shift", "name": "tail", "quantiles": ["p95"]},
            {"kind": "tail_shift", "name": "api tail", "touchpoints": ["api"]},
            {"kind": "relative", "name": "errors", "metric": "error_rate", "margin": "1pp"},
        ]
    )
    verdict = Verdict.model_validate_json(evaluate(data, gates).model_dump_json())
    rows = {(r.journey, r.step, r.touchpoint): r for r in verdict.coverage}
    assert list(rows) == [("shop", None, None), ("shop", "pay", "api"), ("shop", "filter", "web")]
    assert rows[("shop", "pay", "api")].judged_by == ["tail", "api tail"]
    web = rows[("shop", "filter", "web")]
    assert web.judged_by == [] and [c.gate for c in web.unjudged] == ["tail"]
    cell = web.unjudged[0]
    assert (cell.n_baseline, cell.n_candidate, cell.n_needed) == (8, 8, 200)
    assert cell.why() == "8 / 8 of 200 per side (≈ 25 min)"
    assert rows[("shop", None, None)].judged_by == ["errors"]  # 2,000 iterations a side
    markdown = summary_markdown(verdict)
    assert "| shop › filter (web) | — | tail: 8 / 8 of 200 per side (≈ 25 min) |" in markdown
    assert "| shop › pay (api) | tail, api tail | — |" in markdown


def test_a_failure_still_fails_and_counts_what_it_could_not_judge() -> None:
    failed = Evidence(series="a", decision=Decision.FAIL, test="t", n_candidate=500, words="a rose")
    missing = Evidence(
        series="b", decision=Decision.INCONCLUSIVE, test="t", n_candidate=5, judged=False,
        n_needed=20, words="b: not judged",
    )  # fmt: skip
    outcome = GateOutcome.combine(name="g", kind="k", evidence=[failed, missing])
    assert outcome.decision is Decision.FAIL and outcome.summary == "a rose (1 series not judged)"
    empty = GateOutcome.combine(name="g", kind="k", evidence=[])
    assert empty.decision is Decision.INCONCLUSIVE and "no series" in empty.summary
    names = [
        Evidence(
            series=f"s{i}", decision=Decision.INCONCLUSIVE, test="t", n_candidate=1,
            judged=False, n_needed=20,
        )
        for i in range(5)
    ]  # fmt: skip
    listed = GateOutcome.combine(name="g", kind="k", evidence=names).summary
    assert listed.startswith("not judged on 5 of 5 series: s0 (n = 1 of 20 needed); s1")
    assert listed.endswith("; and 2 more")


def test_a_verdict_written_before_coverage_still_reads() -> None:
    old = {
        "series": "step `pay`", "decision": "inconclusive", "test": "bootstrap",
        "n_baseline": 8, "n_candidate": 8, "words": "too few samples to pass (8 / 8, need 200)",
    }  # fmt: skip
    assert Evidence.model_validate(old).judged is False
    judged = {**old, "decision": "pass", "estimate": 1.0}
    assert Evidence.model_validate(json.loads(json.dumps(judged))).judged is True


def test_a_scoped_error_gate_still_aborts_on_the_pooled_live_window() -> None:
    from harness.gates.abort import ALL, live_gates

    scoped = parse_gates(
        [
            {
                "kind": "relative", "metric": "error_rate", "margin": "1pp", "abort": True,
                "journeys": ["shop"], "touchpoints": ["api"],
            }
        ]
    )  # fmt: skip
    (live,) = live_gates(scoped)
    window = RunData(
        candidate="candidate", baseline="baseline", hdr=HdrStore(),
        journeys={("baseline", ALL): (1000, 0), ("candidate", ALL): (1000, 100)},
        step_failures={}, step_order={}, windows={}, failed_traces={}, slow_traces={},
        timeline=[],
    )  # fmt: skip
    assert scoped[0].evaluate(window).decision is Decision.INCONCLUSIVE  # nothing in its scope
    assert live.evaluate(window).decision is Decision.FAIL
