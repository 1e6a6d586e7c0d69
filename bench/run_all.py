"""Run every benchmark script in bench/ one after the other and print one line per script.

    .venv/bin/python bench/run_all.py [--quick]

Each bench script `bench/*.py` (except this one and `_script.py`) runs in its own process with
the same interpreter and `--json`; `--quick` is passed on to the scripts that accept it (their
`--help` mentions it). One script at a time, so that they do not disturb each other's
measurements. Exit code 0 when every script met its goals, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TIMEOUT_S = 30 * 60  # per script


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs where a script has them")
    args = parser.parse_args()
    scripts = sorted(
        p
        for p in BENCH.glob("*.py")
        if p.name != Path(__file__).name and not p.name.startswith("_")
    )
    failed = []
    for script in scripts:
        argv = [sys.executable, str(script), "--json"]
        if args.quick:
            usage = subprocess.run(
                [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60
            ).stdout
            if "--quick" in usage:
                argv.append("--quick")
        print(f"== {script.name} ({' '.join(argv[2:])})", flush=True)
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        try:
            out, _ = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            print(f"   TIMEOUT after {TIMEOUT_S / 60:.0f} min", flush=True)
            failed.append(script.name)
            continue
        elapsed = time.perf_counter() - started
        lines = [line for line in out.splitlines() if line.startswith("{")]
        result = json.loads(lines[-1]) if lines else {}
        ok = proc.returncode == 0 and result.get("meets_goals", True)
        print(f"   exit {proc.returncode} · {elapsed:.0f} s · {'OK' if ok else 'MISS'}", flush=True)
        if not ok:
            failed.append(script.name)
    print(
        f"\n{len(scripts) - len(failed)} of {len(scripts)} benchmarks met their goals"
        + (f"; missed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
