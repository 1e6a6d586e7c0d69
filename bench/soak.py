"""Soak: a long load run against the sandbox, watching the harness's own memory and disk.

    .venv/bin/python bench/soak.py [--minutes 10] [--users 50]

Starts one sandbox and runs `harness load` against it (API and mobile journeys, no browser) for
the given time, sampling every 5 s the resident memory of the harness process and of its span
sidecar, and the size of the run folder. Prints memory after warm-up (the first 20% of the run)
against memory at the end of the load — the growth, goal < 10% — the peak while the reports are
written, and the results' size per minute.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.sandbox.process import SandboxProcess  # noqa: E402 - after the path set-up above

SAMPLE_S = 5.0


def _to_stderr(*parts: object, **kwargs: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


say = print


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _rss_mib(process: psutil.Process) -> tuple[float, float]:
    """(harness process, its sidecar children) resident memory in MiB."""
    own = process.memory_info().rss / 2**20
    children = 0.0
    for child in process.children(recursive=True):
        try:
            children += child.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            continue
    return own, children


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="2 minutes at 20 users")
    parser.add_argument("--json", action="store_true", help="human output on stderr")
    options = parser.parse_args()
    if options.quick:
        options.minutes, options.users = 2.0, 20
    global say
    if options.json:
        say = _to_stderr
    duration_s = options.minutes * 60.0
    samples: list[tuple[float, float, float, int]] = []  # (t, harness MiB, sidecar MiB, bytes)
    with SandboxProcess() as sandbox, tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp)
        command = [
            sys.executable, "-m", "harness.cli", "load", "--target", sandbox.urls.base,
            "--users", str(options.users), "--spawn-rate", "10",
            "--duration", f"{duration_s:g}s", "--browser-users", "0",
            "-k", "not browse and not cross", "--results", str(results),
            "--max-error-rate", "100",
        ]  # fmt: skip
        base = sandbox.urls.base
        say(f"soak: {options.users} users for {options.minutes:g} min against {base}")
        log = open(results / "stdout.log", "w")  # noqa: SIM115 - closed below
        child = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        watched = psutil.Process(child.pid)
        started = time.monotonic()
        try:
            while child.poll() is None:
                time.sleep(SAMPLE_S)
                elapsed = time.monotonic() - started
                runs = [p for p in results.iterdir() if p.is_dir()]
                size = _folder_bytes(runs[0]) if runs else 0
                try:
                    own, sidecar = _rss_mib(watched)
                except psutil.NoSuchProcess:
                    break
                samples.append((elapsed, own, sidecar, size))
                if len(samples) % 12 == 0:
                    say(
                        f"  {elapsed / 60:4.1f} min  harness {own:6.1f} MiB  sidecar "
                        f"{sidecar:6.1f} MiB  results {size / 2**20:7.1f} MiB",
                        flush=True,
                    )
                if elapsed > duration_s + 300:
                    child.send_signal(signal.SIGTERM)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            log.close()
        if child.returncode != 0:
            tail = (results / "stdout.log").read_text(errors="replace").splitlines()[-15:]
            say(f"harness load exited {child.returncode}; the end of its output:")
            say("\n".join(f"    {line}" for line in tail))
        run = next(p for p in results.iterdir() if p.is_dir())
        meta = json.loads((run / "run.json").read_text())
        final_bytes = _folder_bytes(run)
    # The load phase: after warm-up, until the planned end (then the run writes its reports).
    warm = [s for s in samples if 0.2 * duration_s <= s[0] <= duration_s]
    after = [s for s in samples if s[0] > duration_s]
    report_peak = max((s[1] for s in after), default=0.0)
    if len(warm) < 4:
        say("soak: too few samples after warm-up; run longer")
        return 1
    first = statistics.median(s[1] for s in warm[:3])
    last = statistics.median(s[1] for s in warm[-3:])
    growth = (last - first) / first * 100.0
    minutes = max(meta.get("elapsed_s", duration_s), 1.0) / 60.0
    per_minute = final_bytes / 2**20 / minutes
    iterations = int(meta.get("iterations", 0))
    say(
        f"\niterations {iterations:,} ({iterations / (minutes * 60):.0f}/s), failed "
        f"{meta.get('failed', 0):,}, exit {child.returncode}"
    )
    say(
        f"harness memory after warm-up {first:.1f} MiB → at the end {last:.1f} MiB: growth "
        f"{growth:+.1f}% (goal < 10%) {'OK' if growth < 10 else 'MISS'}"
    )
    say(f"sidecar memory at the end of the load {warm[-1][2]:.1f} MiB")
    say(f"harness memory while writing the reports (peak of samples) {report_peak:.1f} MiB")
    say(f"results {final_bytes / 2**20:.1f} MiB in all, {per_minute:.1f} MiB per minute")
    print(  # the one line on stdout under --json
        json.dumps(
            {
                "growth_pct": round(growth, 2),
                "rss_warm_mib": round(first, 1),
                "rss_end_mib": round(last, 1),
                "rss_report_peak_mib": round(report_peak, 1),
                "results_mib_per_min": round(per_minute, 2),
                "iterations": iterations,
                "meets_goals": growth < 10,
            }
        )
    )
    return 0 if growth < 10 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
