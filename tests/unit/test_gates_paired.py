"""The paired gate: per-second paired differences cancel the noise both sides share, so it
catches what an unpaired judge of per-second points (Kayenta's) cannot, and says what it could
have caught (minimum detectable effect). Synthetic data, no sockets."""

from __future__ import annotations

import numpy as np

from harness.gates.config import parse_gates
from harness.gates.outcome import Decision
from harness.gates.verdict import evaluate, summary_lines
from tests.unit.test_gates_coverage import run_data

N = 1200
SECONDS = 60


def _shared(seed: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Both sides slowed alike by each second's machine load (log sd 0.8), little else; the
    candidate `shift` times slower."""
    rng = np.random.default_rng(seed)
    second = np.arange(N) * SECONDS // N
    load = rng.lognormal(0.0, 0.8, SECONDS)[second]
    base = 20.0 * load * rng.lognormal(0.0, 0.1, N)
    cand = 20.0 * load * rng.lognormal(0.0, 0.1, N) * shift
    return base, cand


def test_pairing_catches_a_fifth_slower_step_that_kayentas_judge_misses() -> None:
    data = run_data({("shop", "pay", "api"): _shared(1, 1.2)})
    verdict = evaluate(data, parse_gates([{"kind": "paired"}, {"kind": "mann_whitney"}]))
    paired, kayenta = verdict.gates
    assert paired.decision is Decision.FAIL, paired.summary
    assert "typical latency of step `pay` of `shop` on api +2" in paired.summary
    assert kayenta.decision is Decision.PASS, kayenta.summary  # seconds vary more than 20%


def test_an_identical_candidate_passes_and_the_summary_says_what_it_could_catch() -> None:
    data = run_data({("shop", "pay", "api"): _shared(2, 1.0)})
    verdict = evaluate(data, parse_gates([{"kind": "paired"}]))
    assert verdict.decision is Decision.PASS, summary_lines(verdict)
    evidence = verdict.gates[0].evidence[0]
    assert evidence.mde is not None and 0.05 < evidence.mde < 0.2
    assert evidence.n_baseline == N and evidence.counts == "paired seconds"
    line = next(x for x in summary_lines(verdict) if x.strip().startswith("could have caught"))
    assert f"{evidence.mde:+.0%}" in line and "1 judged step" in line


def test_too_few_paired_seconds_is_not_judged() -> None:
    data = run_data({("shop", "pay", "api"): _shared(3, 1.0)}, seconds=10)
    outcome = evaluate(data, parse_gates([{"kind": "paired"}])).gates[0]
    assert outcome.decision is Decision.INCONCLUSIVE
    assert "n = 10 / 10 of 20 paired seconds needed" in outcome.summary
