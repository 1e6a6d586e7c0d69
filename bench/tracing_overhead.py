"""Load throughput with tracing at 100% sampling against tracing off, alternated in one run.

    .venv/bin/python bench/tracing_overhead.py [--rounds 3] [--duration 12s] [--users 10]

Starts one sandbox, then runs `harness load` against it (API and mobile journeys, no browser)
alternately with full tracing and with `--no-traces`, and prints iterations per second of each
and the ratio traced / untraced, the median of the rounds' ratios (goal ≥ 0.9).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.sandbox.process import SandboxProcess  # noqa: E402 - after the path set-up above


def run_once(base: str, results: Path, duration: str, users: int, traced: bool) -> float:
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "load",
        "--target",
        base,
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--duration",
        duration,
        "--browser-users",
        "0",
        "-k",
        "not browse and not cross",
        "--results",
        str(results),
    ]
    if not traced:
        command.append("--no-traces")
    subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False, timeout=600)
    run_dir = max(results.iterdir(), key=lambda p: p.stat().st_mtime)
    run = json.loads((run_dir / "run.json").read_text())
    return float(run["iterations"]) / float(run["elapsed_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", default="12s")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 8 s")
    parser.add_argument("--json", action="store_true", help="human output on stderr")
    options = parser.parse_args()
    if options.quick:
        options.rounds, options.duration = 2, "8s"
    out = sys.stderr if options.json else sys.stdout
    traced, plain = [], []
    with SandboxProcess() as sandbox, tempfile.TemporaryDirectory() as tmp:
        for index in range(options.rounds):
            for on in (True, False) if index % 2 == 0 else (False, True):
                rate = run_once(sandbox.urls.base, Path(tmp), options.duration, options.users, on)
                (traced if on else plain).append(rate)
                print(
                    f"round {index + 1}: tracing {'on ' if on else 'off'} {rate:8.1f} it/s",
                    file=out,
                    flush=True,
                )
    # Each round runs both, back to back: its ratio compares like with like on a noisy machine.
    ratios = sorted(on / off for on, off in zip(traced, plain, strict=True) if off > 0)
    ratio = statistics.median(ratios) if ratios else 0.0
    print(
        f"\nmedian traced {statistics.median(traced):.1f} it/s, untraced "
        f"{statistics.median(plain):.1f} it/s; ratio traced/untraced, median of rounds "
        f"{ratio:.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)}; goal ≥ 0.9)",
        file=out,
    )
    result = {"traced": traced, "untraced": plain, "ratio": round(ratio, 3)}
    print(json.dumps({**result, "meets_goals": ratio >= 0.9}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
