"""`python -m bench.people` (or `python bench/synth.py`): synth's people per second."""

from __future__ import annotations

import argparse
import json
import statistics
import time

from faker import Faker

from bench.people import __doc__ as DOC
from synth.factory import SynthSource

GOAL_RATE = 20_000
GOAL_RATIO = 0.8


def bench_synth(n: int, round_: int) -> float:
    """People per second built through distinct scopes (fresh scopes every round)."""
    source = SynthSource(seed=round_)
    start = time.perf_counter()
    for i in range(n):
        _ = source.scope(i // 20, i % 20).person
    return n / (time.perf_counter() - start)


def bench_faker(n: int, fake: Faker) -> float:
    """name + email + address per second from raw Faker."""
    start = time.perf_counter()
    for _ in range(n):
        fake.name() + fake.email() + fake.address()
    return n / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/synth.py", description=(DOC or "").splitlines()[0])
    parser.add_argument("--people", type=int, default=40_000, help="people per synth round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()

    fake = Faker("en_US")
    fake.seed_instance(0)
    _ = SynthSource(seed=0).scope(0, 0).person  # load word lists outside the timed part
    faker_n = max(1, args.people // 10)  # raw Faker is slow; fewer calls, same precision
    bench_faker(200, fake)

    synth_rates, faker_rates = [], []
    for round_ in range(1, args.rounds + 1):
        synth_rates.append(bench_synth(args.people, round_))
        faker_rates.append(bench_faker(faker_n, fake))
        if not args.json:
            print(
                f"round {round_}: synth {synth_rates[-1]:>9,.0f} people/s   "
                f"raw faker {faker_rates[-1]:>9,.0f} people/s"
            )
    best_synth, best_faker = max(synth_rates), max(faker_rates)
    ratio = best_synth / best_faker
    ok = best_synth >= GOAL_RATE and ratio >= GOAL_RATIO
    result = {
        "synth_people_per_s": round(best_synth),
        "synth_median_per_s": round(statistics.median(synth_rates)),
        "faker_people_per_s": round(best_faker),
        "ratio": round(ratio, 2),
        "goal_people_per_s": GOAL_RATE,
        "goal_ratio": GOAL_RATIO,
        "meets_goals": ok,
    }
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(
            f"best: synth {best_synth:,.0f} people/s per core, raw faker {best_faker:,.0f}; "
            f"ratio {ratio:.1f}x (goals: >= {GOAL_RATE:,}/s and >= {GOAL_RATIO}x) "
            f"{'OK' if ok else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
