"""The tail gate's paired exceedances: both sides ran the same iterations in the same seconds,
so a quantile that rose only in its tail fails on the paired low end (significantly higher, not
shown within the margin), where the unpaired bootstrap had to clear the margin and never did.
Synthetic data, no sockets."""

from __future__ import annotations

import numpy as np

from harness.gates.config import parse_gates
from harness.gates.outcome import Decision, GateOutcome
from harness.gates.verdict import evaluate
from tests.unit.test_gates_coverage import run_data

N = 5000
SECONDS = 300
STEPS = 6  # the drift is learned across steps: at least five


def _sides(seed: int, tail: float) -> tuple[np.ndarray, np.ndarray]:
    """Both sides slowed alike by each second's load (log sd 0.4), their own requests' noise
    (log sd 0.8); the candidate's values above its p90 raised by `tail` times its p95."""
    rng = np.random.default_rng(seed)
    load = rng.lognormal(0.0, 0.4, SECONDS)[np.arange(N) * SECONDS // N]
    base = 20.0 * load * rng.lognormal(0.0, 0.8, N)
    cand = 20.0 * load * rng.lognormal(0.0, 0.8, N)
    p90, p95 = np.quantile(cand, [0.90, 0.95])
    return base, np.where(cand > p90, cand + tail * p95, cand)


def _tail_gate(seed: int, tail: float, paired: bool) -> GateOutcome:
    series = {
        ("shop", f"s{i}", "api"): _sides(seed * 10 + i, tail if i == 0 else 0.0)
        for i in range(STEPS)
    }
    gate = {"kind": "tail_shift", "quantiles": ["p95"], "margin": "20%", "paired": paired}
    return evaluate(run_data(series, seconds=SECONDS), parse_gates([gate])).gates[0]


def test_a_p95_raised_a_third_in_its_tail_alone_fails_paired_and_not_unpaired() -> None:
    outcome = _tail_gate(1, 0.3, paired=True)
    assert outcome.decision is Decision.FAIL, outcome.summary
    raised = outcome.evidence[0]
    assert raised.decision is Decision.FAIL and "paired" in raised.test
    # its low end is not beyond the +20% margin, which the unpaired rule needed to fail
    assert raised.interval is not None and raised.interval[0] < 1.2, raised.words
    assert all(e.decision is not Decision.FAIL for e in outcome.evidence[1:])


def test_an_identical_candidate_does_not_fail_the_paired_tail() -> None:
    decisions = [_tail_gate(seed, 0.0, paired=True).decision for seed in (2, 3, 4)]
    assert Decision.FAIL not in decisions


def test_a_short_run_keeps_the_unpaired_rule() -> None:
    from harness.gates.tail_paired import MIN_SECONDS, tail_blocks
    from harness.telemetry.hdr import SeriesKey

    short = run_data({("shop", "pay", "api"): _sides(5, 0.3)}, seconds=MIN_SECONDS - 1)
    assert tail_blocks(short, SeriesKey("candidate", "shop", "pay", "api"), "p95", 0.95) is None


def test_too_few_steps_to_learn_the_drift_keep_the_unpaired_rule() -> None:
    series = {("shop", f"s{i}", "api"): _sides(60 + i, 0.0) for i in range(2)}
    gate = {"kind": "tail_shift", "quantiles": ["p95"], "margin": "20%"}
    outcome = evaluate(run_data(series, seconds=SECONDS), parse_gates([gate])).gates[0]
    assert all("paired" not in e.test for e in outcome.evidence), outcome.evidence
