"""Time to decision of the sequential latency test (`harness.gates.sequential`): every step of
the recorded noise replayed second by second at its recorded rate, each step judged on 10 s
blocks (block medians, as the HDR bucket counts give them), their error widened by each side's
drift as learned across the steps (`block_inflation`, every 30 s); the run stops at the first
step that fails, or when every step has passed."""

from __future__ import annotations

import itertools

import numpy as np

from bench.power import noise
from harness.gates.config import DEFAULT_GATES
from harness.gates.paired import PairedGate
from harness.gates.sequential import BLOCK_S, SequentialLatency, block_inflation
from harness.gates.values import parse_share

#: the demo's regression (`latency:*.orders.create=+120ms`): the steps that create an order
DEMO_STEPS = ("pay", "place order")
DEMO_MS = 120.0
MAX_S = 300
#: the paired gate's default share of the verdict's alpha, split over the steps, and its margin
ALPHA = next(g["alpha"] for g in DEFAULT_GATES if g["kind"] == "paired")
#: a step passes on its 95% confidence sequence, as the end-of-run gate on its 95% interval
PASS_ALPHA = 0.05
MARGIN = parse_share(PairedGate.model_fields["margin"].default, what="margin")


def one_run(
    rng: np.random.Generator, series: list[noise.Series], model: str, demo: bool
) -> tuple[str, int]:
    """("fail" | "pass" | "continue", seconds) of one replayed rehearsal."""
    tests = []
    blocks = []
    seconds = []
    for s in series:
        rate = s.n / 2 / 45  # per side per second in the recording (45 s)
        n = int(rate * MAX_S)
        second, base, cand = noise.draw(rng, s, n, MAX_S, model)
        if demo and s.step in DEMO_STEPS:
            cand = cand + DEMO_MS
        edges = np.searchsorted(second, np.arange(0, MAX_S + 1, BLOCK_S))
        blocks.append(
            [
                float(np.log(np.median(cand[a:b]) / np.median(base[a:b])))
                for a, b in itertools.pairwise(edges)
                if b > a
            ]
        )
        cuts = np.searchsorted(second, np.arange(0, MAX_S + 1))
        seconds.append(
            np.array(
                [
                    float(np.log(np.median(cand[a:b]) / np.median(base[a:b])))
                    for a, b in itertools.pairwise(cuts)
                    if b > a
                ]
            )
        )
        tests.append(
            SequentialLatency(margin=MARGIN, alpha=ALPHA / len(series), pass_alpha=PASS_ALPHA)
        )
    for k in range(min(len(b) for b in blocks)):
        if k % 3 == 0 and (k + 1) * BLOCK_S >= 18:  # each side's drift, learned across steps
            inflation = block_inflation([d[: (k + 1) * BLOCK_S] for d in seconds])
            for t in tests:
                t.inflation = inflation
        states = [t.add_block(b[k]) for t, b in zip(tests, blocks, strict=True)]
        if "fail" in states:
            return "fail", (k + 1) * BLOCK_S
        if all(x == "pass" for x in states):
            return "pass", (k + 1) * BLOCK_S
    return "continue", MAX_S


def rows(series: list[noise.Series], sims: int, seed: int) -> list[str]:
    """The bench's time-to-decision lines."""
    rng = np.random.default_rng(seed)
    out = []
    for model in ("iid", "drift", "strong"):
        aa = [one_run(rng, series, model, False) for _ in range(sims)]
        demo = [one_run(rng, series, model, True) for _ in range(sims)]
        false_fail = sum(d == "fail" for d, _ in aa) / sims
        passed = [s for d, s in aa if d == "pass"]
        failed = [s for d, s in demo if d == "fail"]
        out.append(
            f"| {model} | {false_fail:.1%} | "
            + (f"{np.median(passed):.0f} s ({len(passed) / sims:.0%})" if passed else "— (0%)")
            + " | "
            + (f"{np.median(failed):.0f} s ({len(failed) / sims:.0%})" if failed else "— (0%)")
            + " |"
        )
    return out
