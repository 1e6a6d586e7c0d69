"""Gate kinds, their configuration and the verdict, on synthetic run data (no sockets)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.errors import SpecError
from harness.exitcodes import ExitCode
from harness.gates.config import DEFAULT_GATES, parse_gates
from harness.gates.data import RunData
from harness.gates.outcome import Decision
from harness.gates.verdict import evaluate, summary_lines
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey

SECONDS = 60


def lognormal(n: int, seed: int, median: float = 20.0, sigma: float = 0.5) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(np.log(median), sigma, n)


def make_data(
    base: np.ndarray,
    cand: np.ndarray,
    *,
    iterations: tuple[int, int] = (2000, 2000),
    failures: tuple[int, int] = (0, 0),
    step_failures: tuple[int, int] = (0, 0),
    health: dict | None = None,
) -> RunData:
    store = HdrStore()
    windows = {}
    for target, values, n, _failed in (
        ("baseline", base, iterations[0], step_failures[0]),
        ("candidate", cand, iterations[1], step_failures[1]),
    ):
        key = SeriesKey(target, "buy", "pay", "api")
        for value in values:
            store.record(key, float(value))
        for value in values[:n]:
            store.record(SeriesKey(target, "buy", ITERATION, ""), float(value) * 2)
        per_second: dict[int, list[float]] = {}
        for index, value in enumerate(values):
            per_second.setdefault(1000 + index % SECONDS, []).append(float(value))
        windows[(target, "buy", "pay", "api")] = per_second
    timeline = [
        {"target": t, "t": 1000 + s, "iterations": n // SECONDS, "failures": f // SECONDS}
        for t, n, f in (
            ("baseline", iterations[0], failures[0]),
            ("candidate", iterations[1], failures[1]),
        )
        for s in range(SECONDS)
    ]
    return RunData(
        candidate="candidate",
        baseline="baseline",
        hdr=store,
        journeys={
            ("baseline", "buy"): (iterations[0], failures[0]),
            ("candidate", "buy"): (iterations[1], failures[1]),
        },
        step_failures={
            ("baseline", "buy", "pay", "api"): step_failures[0],
            ("candidate", "buy", "pay", "api"): step_failures[1],
        },
        step_order={"buy": [("pay", "api")]},
        windows=windows,
        failed_traces={("candidate", "buy"): ["f" * 32]},
        slow_traces={},
        timeline=timeline,
        health=health or {"saturated": False},
        meta={
            "run_id": "r",
            "seed": 1,
            "targets": {"baseline": {"name": "baseline"}, "candidate": {"name": "candidate"}},
        },
    )


def gate(kind: str, **fields) -> list:
    return parse_gates([{"kind": kind, **fields}])


def test_identical_sides_pass_every_default_gate() -> None:
    values = lognormal(2000, 1)
    data = make_data(values, lognormal(2000, 2))
    verdict = evaluate(data, parse_gates(DEFAULT_GATES))
    assert verdict.decision is Decision.PASS, summary_lines(verdict)
    assert verdict.exit_code == ExitCode.PASSED


def test_a_selected_journey_that_never_ran_makes_a_would_be_pass_inconclusive() -> None:
    data = make_data(lognormal(2000, 1), lognormal(2000, 2))
    data.journeys.update({("baseline", "cross"): (0, 0), ("candidate", "cross"): (0, 0)})
    verdict = evaluate(data, parse_gates(DEFAULT_GATES))
    assert verdict.decision is Decision.INCONCLUSIVE, summary_lines(verdict)
    assert "journey `cross` never ran on candidate (0 iterations)" in " ".join(verdict.reasons)


def test_uniform_latency_fails_tail_shift_and_kayenta_naming_the_step() -> None:
    data = make_data(lognormal(2000, 1), lognormal(2000, 2) + 15.0)
    verdict = evaluate(data, gate("tail_shift") + gate("mann_whitney"))
    assert [g.decision for g in verdict.gates] == [Decision.FAIL, Decision.FAIL]
    assert "step `pay` of `buy` on api" in verdict.gates[0].summary
    evidence = verdict.gates[0].evidence[0]
    assert evidence.n_baseline == 2000 and evidence.interval is not None
    assert evidence.interval[0] > 1.1 and evidence.test.startswith("bootstrap")
    assert verdict.exit_code == ExitCode.FAILED


def test_tail_only_regression_fails_tail_shift_while_kayenta_passes() -> None:
    base = lognormal(2000, 1)
    cand = lognormal(2000, 2)
    p90 = np.quantile(base, 0.90)
    cand = np.where(cand > p90, cand + 0.5 * np.quantile(base, 0.95), cand)
    verdict = evaluate(
        make_data(base, cand), gate("tail_shift", margin="10%") + gate("mann_whitney")
    )
    tail, kayenta = verdict.gates
    assert tail.decision is Decision.FAIL, tail.summary
    assert kayenta.decision is Decision.PASS, kayenta.summary


def test_error_rate_regression_fails_relative_and_sequential() -> None:
    values = lognormal(2000, 1)
    data = make_data(values, values, failures=(0, 40))
    verdict = evaluate(
        data, gate("relative", metric="error_rate", margin="0.5pp") + gate("sequential")
    )
    assert [g.decision for g in verdict.gates] == [Decision.FAIL, Decision.FAIL]
    assert "0.00% → 2.00%" in verdict.gates[0].summary
    assert verdict.gates[0].evidence[0].trace_ids == ["f" * 32]


def test_funnel_drop_fails_the_funnel_gate() -> None:
    values = lognormal(2000, 1)
    data = make_data(values, values, failures=(0, 400), step_failures=(0, 400))
    outcome = evaluate(data, gate("funnel", max_drop="5pp")).gates[0]
    assert outcome.decision is Decision.FAIL
    assert "drop +20.0 pp" in outcome.summary


def test_too_few_samples_is_inconclusive_never_pass() -> None:
    data = make_data(lognormal(40, 1), lognormal(40, 2), iterations=(40, 40))
    verdict = evaluate(data, parse_gates(DEFAULT_GATES))
    assert verdict.decision is Decision.INCONCLUSIVE
    assert verdict.exit_code == ExitCode.INCONCLUSIVE
    tail = next(g for g in verdict.gates if g.kind == "tail_shift")
    assert tail.decision is Decision.INCONCLUSIVE
    # 40 samples a side over 60 s of run: p99 needs 999, i.e. 999 / (40 / 60 s) ≈ 25 min
    assert "not judged on 1 of 1 series: step `pay` of `buy` on api" in tail.summary
    assert "n = 40 / 40 of 999 needed per side; ≈ 25 min at this run's rate" in tail.summary


def test_a_saturated_generator_cannot_pass() -> None:
    data = make_data(
        lognormal(2000, 1), lognormal(2000, 2), health={"saturated": True, "reasons": ["CPU 99%"]}
    )
    verdict = evaluate(data, gate("threshold", metric="p95", value="10s"))
    assert verdict.decision is Decision.INCONCLUSIVE
    assert "saturated" in verdict.reasons[-1]


def test_threshold_gate_on_a_step() -> None:
    data = make_data(lognormal(2000, 1), lognormal(2000, 2))
    passing = evaluate(data, gate("threshold", step="pay", metric="p95", value="1s"))
    failing = evaluate(data, gate("threshold", step="pay", metric="p95", op="<=", value="5ms"))
    assert passing.decision is Decision.PASS and failing.decision is Decision.FAIL
    assert "p95 of step `pay`" in failing.gates[0].summary


def test_burn_rate_fails_only_when_both_windows_burn() -> None:
    values = lognormal(2000, 1)
    hot = make_data(values, values, iterations=(6000, 6000), failures=(0, 600))
    assert evaluate(hot, gate("burn_rate", slo=0.995)).decision is Decision.FAIL
    cool = make_data(values, values, iterations=(6000, 6000), failures=(0, 60))
    outcome = evaluate(cool, gate("burn_rate", slo=0.995)).gates[0]
    assert outcome.decision is Decision.PASS and "over budget" in outcome.summary


def test_critical_failures_lead_the_reasons_and_score_grades_the_rest() -> None:
    values = lognormal(2000, 1)
    data = make_data(values, values, failures=(0, 40))
    gates = parse_gates(
        [
            {"kind": "threshold", "metric": "p95", "value": "10s", "group": "latency"},
            {
                "kind": "relative",
                "metric": "error_rate",
                "margin": "0.5pp",
                "critical": True,
                "group": "errors",
            },
            {"kind": "score", "groups": {"latency": 50, "errors": 50}},
        ]
    )
    verdict = evaluate(data, gates)
    assert verdict.decision is Decision.FAIL
    assert verdict.reasons[0].startswith("relative")
    assert verdict.score == 0.0  # a failed critical gate sinks the score


def test_gate_config_errors_name_the_gate_and_suggest() -> None:
    with pytest.raises(SpecError, match="did you mean 'tail_shift'"):
        parse_gates([{"kind": "tailshift"}])
    with pytest.raises(SpecError, match=r"unknown key `margn`.*did you mean `margin`"):
        parse_gates([{"kind": "relative", "margn": "5%"}])
    with pytest.raises(SpecError, match="gate #1"):
        parse_gates([{"kind": "threshold"}])  # value is required
    assert len(parse_gates(DEFAULT_GATES)) == len(DEFAULT_GATES)


def test_relative_gates_need_a_baseline() -> None:
    data = make_data(lognormal(500, 1), lognormal(500, 2))
    data.baseline = None
    verdict = evaluate(data, gate("relative"))
    assert verdict.decision is Decision.ERROR
    assert "needs a baseline" in verdict.gates[0].summary
