"""The sequential latency test (issue 22): fed a block at a time, it stays valid however often
it is looked at, and decides a clear regression early. Synthetic data, no sockets."""

from __future__ import annotations

import numpy as np

from harness.gates.sequential import SequentialLatency, weighted_median


def _run(rng: np.random.Generator, shift: float, blocks: int, sd: float = 0.1) -> SequentialLatency:
    test = SequentialLatency(margin=0.05, alpha=0.025)
    for _ in range(blocks):
        if test.add_block(float(rng.normal(np.log(shift), sd))) != "continue":
            break
    return test


def test_an_identical_candidate_watched_every_block_fails_no_more_than_alpha() -> None:
    # 60 looks each: a fixed-sample test at 2.5% looked at this often fails about 15-20%
    rng = np.random.default_rng(1)
    runs = 2000
    fails = sum(_run(rng, 1.0, 60).decision == "fail" for _ in range(runs))
    assert fails / runs <= 0.025, fails / runs


def test_naive_repeated_looks_would_not_have_been_valid() -> None:
    # the defect the sequence fixes: a t interval re-read after every block
    from scipy import stats as sps

    rng = np.random.default_rng(2)
    runs, fails = 1000, 0
    t = {k: float(sps.t.ppf(0.975, k - 1)) for k in range(4, 61)}
    for _ in range(runs):
        d = rng.normal(0.0, 0.1, 60)
        for k in range(4, 61):
            x = d[:k]
            if x.mean() - t[k] * x.std(ddof=1) / np.sqrt(k) > 0:
                fails += 1
                break
    assert fails / runs > 0.06, fails / runs


def test_a_clear_regression_fails_early_and_an_identical_candidate_passes() -> None:
    rng = np.random.default_rng(3)
    slow = [_run(rng, 1.3, 60) for _ in range(200)]
    assert all(t.decision == "fail" for t in slow)
    assert float(np.median([t.decided_at for t in slow])) <= 6  # a minute of 10 s blocks
    same = [_run(rng, 1.0, 200, sd=0.03) for _ in range(200)]
    assert np.mean([t.decision == "pass" for t in same]) >= 0.95


def test_blocks_come_from_per_second_bucket_counts() -> None:
    assert weighted_median([1.0, 2.0, 3.0], [1, 1, 5]) == 3.0
    assert weighted_median([], []) is None
    test = SequentialLatency(block_s=2, min_blocks=2)
    for _ in range(4):
        test.add_second(([10.0, 20.0], [3, 1]), ([12.0, 24.0], [3, 1]))
    assert len(test.diffs) == 2
    assert np.allclose(test.diffs, np.log(1.2))
