"""`python -m bench.history` (or `python bench/history_index.py`): `harness history index`
over N run folders (1,000; `--quick` 200), each a smoke run of 4 journeys of 4 steps written by
the real writer, one in ten a rehearsal's with a verdict of two gates. The command runs as a
user runs it, in its own process, into a fresh SQLite file; goal: 1,000 folders in under 30 s.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.lib import output
from harness.gates.outcome import Decision, GateOutcome
from harness.gates.verdict import Verdict
from harness.records import IterationRecord, Outcome, StepRecord, Touchpoint
from harness.results import RunDirectory

GOAL_S = 30.0
GOAL_FOLDERS = 1_000
JOURNEYS = ("browse", "checkout", "reorder", "search")
STEPS = ("open", "choose", "pay", "confirm")


def make_folder(root: Path, n: int) -> None:
    """Run folder number `n`: a smoke run, or every tenth a rehearsal with a verdict."""
    rehearsal = n % 10 == 0
    run_id = f"20261201-{n:06d}-{'rehearse' if rehearsal else 'smoke'}-{n % 65536:04x}"
    run = RunDirectory(root, run_id)
    run.start(
        mode="rehearse" if rehearsal else "smoke",
        target={"target": {"name": "shop"}},
        seed=n,
        config={},
    )
    for j, journey in enumerate(JOURNEYS):
        for i, step in enumerate(STEPS):
            run.step_finished(
                StepRecord(
                    run_id=run_id,
                    target="shop",
                    journey=journey,
                    step=step,
                    index=i,
                    touchpoint=Touchpoint.API,
                    worker=0,
                    user=0,
                    iteration=j,
                    started_at=1.8e9 + n,
                    duration_ms=5.0 + i + n % 7,
                    outcome=Outcome.PASSED,
                )
            )
        run.iteration_finished(
            IterationRecord(
                run_id=run_id,
                target="shop",
                journey=journey,
                worker=0,
                user=0,
                iteration=j,
                started_at=1.8e9 + n,
                duration_ms=30.0,
                outcome=Outcome.PASSED,
                steps_passed=4,
                steps_total=4,
            )
        )
    run.close()
    if rehearsal:
        gates = [
            GateOutcome(name=g, kind="threshold", decision=Decision.PASS, summary="ok")
            for g in ("p95", "errors")
        ]
        verdict = Verdict(
            decision=Decision.PASS,
            reasons=[],
            run_id=run_id,
            baseline=None,
            candidate={"name": "shop"},
            seed=n,
            config_hash="x",
            decided_at="2026-12-01T00:00:00",
            evaluation_s=0.0,
            gates=gates,
        )
        (run.path / "verdict.json").write_text(verdict.model_dump_json())
    run.finish("passed")


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/history_index.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--folders", type=int, default=GOAL_FOLDERS)
    parser.add_argument("--quick", action="store_true", help="200 folders")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    args = parser.parse_args()
    output.to_stderr(args.json)
    count = 200 if args.quick else args.folders
    root = Path(tempfile.mkdtemp(prefix="bench-history-"))
    started = time.perf_counter()
    try:
        for n in range(count):
            make_folder(root, n)
        output.say(f"{count} run folders written in {time.perf_counter() - started:.1f} s")
        timed = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", "history", "index", str(root)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        elapsed = time.perf_counter() - timed
        output.say(done.stdout.strip() or done.stderr.strip())
    finally:
        shutil.rmtree(root, ignore_errors=True)
    goal = GOAL_S * count / GOAL_FOLDERS
    rows = [
        output.Row(
            f"history index, {count:,} folders",
            f"{elapsed:.1f} s",
            f"< {goal:.0f} s",
            done.returncode == 0 and elapsed < goal,
            {"seconds": elapsed},
        )
    ]
    output.print_table(rows, time.perf_counter() - started)
    if args.json:
        output.print_json(rows, quick=args.quick)
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
