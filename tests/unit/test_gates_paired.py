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


def _shared(seed: int, shift: float, noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Both sides slowed alike by each second's machine load (log sd 0.8), little else (log sd
    `noise`); the candidate `shift` times slower."""
    rng = np.random.default_rng(seed)
    second = np.arange(N) * SECONDS // N
    load = rng.lognormal(0.0, 0.8, SECONDS)[second]
    base = 20.0 * load * rng.lognormal(0.0, noise, N)
    cand = 20.0 * load * rng.lognormal(0.0, noise, N) * shift
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
    assert evidence.mde is not None and 0.005 < evidence.mde < 0.2
    assert evidence.n_baseline == N and evidence.counts == "paired seconds"
    line = next(x for x in summary_lines(verdict) if x.strip().startswith("could have caught"))
    assert f"{evidence.mde:+.0%}" in line and "1 judged step" in line


def test_too_few_paired_seconds_is_not_judged() -> None:
    data = run_data({("shop", "pay", "api"): _shared(3, 1.0)}, seconds=10)
    outcome = evaluate(data, parse_gates([{"kind": "paired"}])).gates[0]
    assert outcome.decision is Decision.INCONCLUSIVE
    assert "n = 10 / 10 of 20 paired seconds needed" in outcome.summary


def test_a_step_significantly_slower_but_not_shown_within_the_margin_fails() -> None:
    # +10% on a 5% margin: a test against the margin needs the whole interval beyond +5%, which
    # arm drift makes out of reach at 5,000 per side (bench: 0.27-0.40); the deterioration
    # test (significantly slower, not shown within the margin) fails it
    data = run_data({("shop", "pay", "api"): _shared(4, 1.1, noise=0.5)})
    gates = parse_gates([{"kind": "paired", "alpha": 0.0025, "drift": "short", "margin": "5%"}])
    outcome = evaluate(data, gates).gates[0]
    evidence = outcome.evidence[0]
    assert evidence.interval is not None and evidence.interval[0] < 1.05 < evidence.interval[1]
    assert outcome.decision is Decision.FAIL, outcome.summary


def test_a_slowdown_shown_within_the_margin_passes_even_when_significant() -> None:
    data = run_data({("shop", "pay", "api"): _shared(5, 1.01, noise=0.02)})
    outcome = evaluate(data, parse_gates([{"kind": "paired"}])).gates[0]
    evidence = outcome.evidence[0]
    assert evidence.interval is not None and evidence.interval[0] > 1.0  # significant
    assert evidence.interval[1] < 1.05
    assert outcome.decision is Decision.PASS, outcome.summary


def test_the_default_margin_passes_the_sandboxs_own_arm_bias() -> None:
    # two sandbox processes of the same release differ by 1-4% per step (a quiet recording of
    # 2026-12-07): at a 5% margin a +4% step with a 95% interval of about +-3% was significantly
    # slower and not shown within the margin, so an identical candidate failed; at 10% it passes
    data = run_data({("shop", "pay", "api"): _shared(11, 1.04, noise=0.2)})
    outcome = evaluate(data, parse_gates([{"kind": "paired"}])).gates[0]
    assert outcome.decision is Decision.PASS, outcome.summary
    assert "margin +10%" in outcome.evidence[0].words
    narrow = evaluate(data, parse_gates([{"kind": "paired", "margin": "5%"}])).gates[0]
    assert narrow.decision is Decision.FAIL, narrow.summary


def test_arm_drift_does_not_make_an_identical_candidate_fail_a_step() -> None:
    # each side wanders on its own (AR(1), 10 s memory, sd 0.15): with Newey-West's plug-in lag
    # (4 at 120 s) the error was understated 1.7x and a step failed at ~10x the nominal rate;
    # at lag sqrt(n) with n/sqrt(n) degrees of freedom still 2.75% at a nominal 0.25%
    from scipy import stats as sps

    from harness.gates.paired import Paired

    rng = np.random.default_rng(6)
    runs, fails, alpha = 2000, 0, 0.0025
    phi, sd = 0.9, 0.15
    for _ in range(runs):
        drift = np.empty((2, 120))
        drift[:, 0] = rng.normal(0, sd, 2)
        shocks = rng.normal(0, sd * np.sqrt(1 - phi**2), (2, 120))
        for t in range(1, 120):
            drift[:, t] = phi * drift[:, t - 1] + shocks[:, t]
        diffs = drift[1] - drift[0] + rng.normal(0, 0.35, 120)
        paired = Paired(diffs, 1000, 1000)
        fails += paired.mean - float(sps.t.ppf(1 - alpha, paired.df)) * paired.se > 0
    assert fails / runs <= 3 * alpha, fails / runs  # 0.5% here; 3%+ before


def _steps(rng: np.random.Generator, sd: float, shift: float = 0.0) -> list[np.ndarray]:
    """13 steps' per-second paired differences over 120 s: each side's own AR(1) drift (memory
    ten seconds, stationary sd `sd`) plus the requests' white noise; the first step `shift`ed."""
    phi, n = 0.9, 120
    out = []
    for index in range(13):
        drift = np.empty((2, n))
        drift[:, 0] = rng.normal(0, sd, 2)
        shocks = rng.normal(0, sd * np.sqrt(1 - phi**2), (2, n))
        for t in range(1, n):
            drift[:, t] = phi * drift[:, t - 1] + shocks[:, t]
        out.append(drift[1] - drift[0] + rng.normal(0, 0.35, n) + (shift if index == 0 else 0))
    return out


def _failed(steps: list[np.ndarray], alpha: float, pooled: bool) -> list[bool]:
    from scipy import stats as sps

    from harness.gates.drift import pooled_errors
    from harness.gates.paired import Paired

    pairs = [Paired(d, 1000, 1000) for d in steps]
    if pooled:
        for p, se in zip(pairs, pooled_errors(steps) or [], strict=True):
            p.pool(se)
    z = [float(sps.t.ppf(1 - alpha / len(steps), p.df)) for p in pairs]
    return [p.mean - k * p.se > 0 for p, k in zip(pairs, z, strict=True)]


def test_drift_learned_across_steps_keeps_the_gate_valid_and_gives_it_power() -> None:
    # strong arm drift (sd 0.15): any of 13 steps failing an identical candidate stays near the
    # gate's 1.1%; under arm drift (sd 0.05) a +20% step is caught far more often than by a
    # fixed-b error from the step alone (0.17 in the bench)
    rng = np.random.default_rng(7)
    alpha = 0.011
    runs = 300
    false = sum(any(_failed(_steps(rng, 0.15), alpha, True)) for _ in range(runs))
    assert false / runs <= 0.025, false / runs
    caught = [_failed(_steps(rng, 0.05, np.log(1.2)), alpha, True)[0] for _ in range(100)]
    alone = [_failed(_steps(rng, 0.05, np.log(1.2)), alpha, False)[0] for _ in range(100)]
    assert np.mean(caught) >= 0.6, np.mean(caught)
    assert np.mean(caught) > np.mean(alone) + 0.2, (np.mean(caught), np.mean(alone))


def test_the_learned_error_is_close_to_the_truth_under_arm_drift() -> None:
    # the drift's part taken 1.5 jackknife errors above its fit made the error 1.17x the true
    # sd of a step's mean under arm drift (sd 0.05): +20% at 1,000 a side caught 0.73 of the
    # time where a known error gives 0.88; one error above (1.09x) gives 0.78 (issue 22)
    from harness.gates.drift import pooled_errors

    rng = np.random.default_rng(9)
    runs = [_steps(rng, 0.05) for _ in range(100)]
    truth = np.array([[d.mean() for d in run] for run in runs]).std(axis=0)
    errors = np.array([pooled_errors(run) for run in runs])
    ratio = float((errors.mean(axis=0) / truth).mean())
    assert 1.0 < ratio < 1.12, ratio


def test_a_short_run_judges_each_step_alone_under_strong_drift() -> None:
    # 45 s of strong arm drift (sd 0.15, ten seconds' memory): the drift learned across steps
    # found about half of it, and the gate failed 4-7% of identical candidates at its 1.04%
    # (bench, 1,000 replays); under 60 paired seconds each step keeps its fixed-b error
    def sides(rng: np.random.Generator, seconds: int) -> tuple[np.ndarray, np.ndarray]:
        out = []
        for _ in range(2):
            level = np.empty(seconds)
            level[0] = rng.normal(0, 0.15)
            for t in range(1, seconds):
                level[t] = 0.9 * level[t - 1] + rng.normal(0, 0.15 * np.sqrt(1 - 0.81))
            out.append(20.0 * np.exp(np.repeat(level, 8) + rng.normal(0, 0.5, seconds * 8)))
        return out[0], out[1]

    rng = np.random.default_rng(12)
    gate = parse_gates([{"kind": "paired", "alpha": 0.0104}])
    fails = 0
    for _ in range(20):
        steps = {("shop", f"s{i}", "api"): sides(rng, 45) for i in range(13)}
        outcome = evaluate(run_data(steps, seconds=45), gate).gates[0]
        assert all("fixed-b" in e.test for e in outcome.evidence)
        fails += outcome.decision is Decision.FAIL
    assert fails == 0, fails
    steps = {("shop", f"s{i}", "api"): sides(rng, 60) for i in range(13)}
    outcome = evaluate(run_data(steps, seconds=60), gate).gates[0]
    assert all("drift pooled across steps" in e.test for e in outcome.evidence)


def test_a_drift_without_memory_is_no_more_than_the_steps_own_noise() -> None:
    # seconds whose neighbours anticorrelate (no drift an AR(1) could have) fitted φ = 0 and a
    # "drift" of variance n times the lags' mean: every step's error about twice what its own
    # seconds said (a real 3-minute sandbox rehearsal: intervals of +-12% against +-5%)
    from harness.gates.drift import pooled_errors

    rng = np.random.default_rng(3)
    steps = []
    for _ in range(13):
        e = rng.normal(0, 0.45, 181)
        steps.append(e[1:] - 0.5 * e[:-1])
    errors = np.array(pooled_errors(steps))
    own = np.array([d.std() / np.sqrt(d.size) for d in steps])
    assert np.all(errors / own < 1.2), errors / own


def test_too_few_steps_fall_back_to_the_step_alone() -> None:
    from harness.gates.drift import pooled_errors

    rng = np.random.default_rng(8)
    assert pooled_errors(_steps(rng, 0.05)[:4]) is None
    assert pooled_errors([d[:17] for d in _steps(rng, 0.05)]) is None
    assert pooled_errors([d[:18] for d in _steps(rng, 0.05)]) is not None
