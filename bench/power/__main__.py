"""Power of the default gates: how often the real `evaluate` fails an identical candidate (A/A)
and how often it catches injected regressions, on noise replayed from a recorded sandbox run.

    python bench/gates_power.py [--quick] [--sims N] [--seed S] [--noise PATH] [--derive RUN_DIR]

The default noise (bench/data/gates_noise.json) is a quiet machine's recording; `--noise
bench/data/gates_noise_busy.json` replays one made beside 8 agents on 2 cores.

Exit 0 when every goal is met (with `--quick`: when none is clearly missed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.lib.output import say
from bench.power import noise, sim
from harness.gates.outcome import Decision

SIZES = ((200, 45), (1000, 120), (5000, 300))
MODELS = ("iid", "drift", "strong")
SHIFTS = (
    sim.Shift("median +20% on one step", median=1.20),
    sim.Shift("median +10% on one step", median=1.10),
    sim.Shift("p95 +30%, tail only", tail=0.30),
    sim.Shift("errors 0.5% → 1.5%", errors=0.015),
)
UNDER = sim.Shift("doubled p95 on an under-sampled step (150 of 1,000)", tail=1.0, key_n=150)
#: (row, size) → the least power wanted
POWER_GOALS = {
    ("median +20% on one step", 1000): 0.8,
    ("median +10% on one step", 5000): 0.8,
    ("p95 +30%, tail only", 5000): 0.8,
    ("errors 0.5% → 1.5%", 1000): 0.9,
}
AA_GOAL = 0.025


@dataclass
class Cell:
    fail: int = 0
    passed: int = 0
    runs: int = 0
    eval_s: float = 0.0

    def rate(self, what: str = "fail") -> float:
        return (self.fail if what == "fail" else self.passed) / max(self.runs, 1)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def run_cell(
    series: list[noise.Series],
    n: int,
    seconds: int,
    model: str,
    shift: sim.Shift,
    sims: int,
    seed: int,
) -> Cell:
    cell = Cell()
    rng = np.random.default_rng(seed)
    for _ in range(sims):
        data = sim.build(rng, series, n, seconds, model, shift)
        verdict, took = sim.judge(data)
        cell.runs += 1
        cell.eval_s += took
        cell.fail += verdict.decision is Decision.FAIL
        cell.passed += verdict.decision is Decision.PASS
    return cell


def judge_goal(ok_point: bool, k: int, n: int, goal: float, above: bool, quick: bool) -> bool:
    """Met; under --quick, not clearly missed (the 95% interval reaches the goal)."""
    if not quick:
        return ok_point
    low, high = wilson(k, n)
    return high >= goal if above else low <= goal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer simulations (< 5 min)")
    parser.add_argument("--sims", type=int, help="simulations per cell (default 200, quick 30)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--noise",
        type=Path,
        default=noise.DATA,
        help="the recorded noise to replay (default bench/data/gates_noise.json, a quiet "
        "machine; bench/data/gates_noise_busy.json: 8 agents on 2 cores)",
    )
    parser.add_argument("--derive", type=Path, help="rewrite the --noise file from a run folder")
    args = parser.parse_args()
    if args.derive:
        noise.derive(args.derive, args.noise)
        say(f"wrote {args.noise} from {args.derive}")
    series = noise.load(args.noise)
    sims = args.sims or (30 if args.quick else 200)
    started = time.perf_counter()
    say(f"gates power · {len(series)} step series from {args.noise.name} · {sims} runs per cell")
    misses = _aa_rows(series, sims, args.seed, args.quick) + _power_rows(
        series, sims, args.seed, args.quick
    )
    _ttd_rows(series, sims, args.seed)
    say(
        f"\n{time.perf_counter() - started:.0f} s · "
        + ("every goal met" if not misses else f"MISSED: {'; '.join(misses)}")
    )
    return 1 if misses else 0


def _aa_rows(series: list[noise.Series], sims: int, seed: int, quick: bool) -> list[str]:
    misses = []
    say(
        "\n| A/A false FAIL (i.i.d. / arm drift / strong arm drift) | "
        + " | ".join(f"{n:,} / {s} s" for n, s in SIZES)
        + " |"
    )
    say("|---|---|---|---|")
    cells = []
    evals = []
    for n, seconds in SIZES:
        parts = []
        for model in MODELS:
            cell = run_cell(series, n, seconds, model, sim.AA, sims, seed + n)
            evals.append(cell.eval_s / cell.runs)
            parts.append(f"{cell.rate():.1%}")
            if not judge_goal(cell.rate() <= AA_GOAL, cell.fail, cell.runs, AA_GOAL, False, quick):
                misses.append(f"A/A {model} at {n}: {cell.rate():.1%} > {AA_GOAL:.1%}")
        cells.append(" / ".join(parts))
    say("| A/A false FAIL | " + " | ".join(cells) + " |")
    say(f"(mean evaluate() time per simulated run: {np.mean(evals):.3f} s)")
    return misses


def _power_rows(series: list[noise.Series], sims: int, seed: int, quick: bool) -> list[str]:
    misses = []
    say(
        "\n| regression (arm drift noise): P(FAIL) [P(PASS)]; a goal's cell also gives P(FAIL) "
        "under i.i.d. and strong arm drift noise; goals are judged under arm drift | "
        + " | ".join(f"{n:,} / {s} s" for n, s in SIZES)
        + " |"
    )
    say("|---|---|---|---|")
    for shift in SHIFTS:
        parts = []
        for n, seconds in SIZES:
            cell = run_cell(series, n, seconds, "drift", shift, sims, seed + 7 * n)
            part = f"{cell.rate():.2f} [{cell.rate('pass'):.2f}]"
            goal = POWER_GOALS.get((shift.name, n))
            if goal is not None:  # the goal's cell under the other two noise models too
                others = {
                    model: run_cell(series, n, seconds, model, shift, sims, seed + 7 * n).rate()
                    for model in ("iid", "strong")
                }
                part += f" (i.i.d. {others['iid']:.2f}, strong {others['strong']:.2f})"
            parts.append(part)
            if goal is not None and not judge_goal(
                cell.rate() >= goal, cell.fail, cell.runs, goal, True, quick
            ):
                misses.append(f"{shift.name} at {n}: {cell.rate():.2f} < {goal}")
        say(f"| {shift.name} | " + " | ".join(parts) + " |")
    cell = run_cell(series, 1000, 120, "drift", UNDER, sims, seed + 99)
    say(f"| {UNDER.name}: P(PASS) | — | {cell.rate('pass'):.2f} (goal 0) | — |")
    if cell.passed:
        misses.append(f"{UNDER.name} passed {cell.passed} of {cell.runs}")
    return misses


def _ttd_rows(series: list[noise.Series], sims: int, seed: int) -> None:
    from bench.power import ttd

    say(
        "\n| sequential latency test (every step, 10 s blocks, up to 300 s) | A/A false FAIL | "
        "identical: median s to PASS (share passed) | demo +120 ms on order steps: "
        "median s to FAIL (share failed) |"
    )
    say("|---|---|---|---|")
    for line in ttd.rows(series, sims, seed + 5):
        say(line)


if __name__ == "__main__":
    sys.exit(main())
