"""`python -m bench.endurance` (or `python bench/soak.py`): the harness's memory over a long run."""

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
from typing import Any

import psutil

from bench.endurance import __doc__ as DOC
from bench.lib import output
from bench.lib.output import say
from bench.lib.runs import ROOT, load_argv
from bench.lib.servers import sandbox

SAMPLE_S = 5.0
Sample = tuple[float, float, float, int]  # (t, harness MiB, sidecar MiB, results bytes)


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


def _watch(child: subprocess.Popen[bytes], results: Path, duration_s: float) -> list[Sample]:
    """Every 5 s until `child` exits: its memory, its sidecar's and the run folder's size."""
    samples: list[Sample] = []
    watched = psutil.Process(child.pid)
    started = time.monotonic()
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
                f"{sidecar:6.1f} MiB  results {size / 2**20:7.1f} MiB"
            )
        if elapsed > duration_s + 300:
            child.send_signal(signal.SIGTERM)
    return samples


def _soak(users: int, minutes: float) -> tuple[list[Sample], dict[str, Any], int, int]:
    """The run: its samples, its run.json, the run folder's final size and its exit code."""
    duration_s = minutes * 60.0
    with sandbox() as box, tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp)
        options = ["--users", str(users), "--spawn-rate", "10", "--duration", f"{duration_s:g}s"]
        options += ["--browser-users", "0", "-k", "not browse and not cross"]
        options += ["--max-error-rate", "100"]
        say(f"soak: {users} users for {minutes:g} min against {box.urls.base}")
        log = open(results / "stdout.log", "w")  # noqa: SIM115 - closed below
        child = subprocess.Popen(
            load_argv(box.urls.base, results, *options),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            samples = _watch(child, results, duration_s)
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
        return samples, meta, _folder_bytes(run), child.returncode


def _report(
    samples: list[Sample], meta: dict[str, Any], final_bytes: int, code: int, duration_s: float
) -> dict[str, Any] | None:
    """Print the growth, the peak and the results' size; the JSON record, None when too short."""
    # The load phase: after warm-up, until the planned end (then the run writes its reports).
    warm = [s for s in samples if 0.2 * duration_s <= s[0] <= duration_s]
    after = [s for s in samples if s[0] > duration_s]
    report_peak = max((s[1] for s in after), default=0.0)
    if len(warm) < 4:
        say("soak: too few samples after warm-up; run longer")
        return None
    first = statistics.median(s[1] for s in warm[:3])
    last = statistics.median(s[1] for s in warm[-3:])
    growth = (last - first) / first * 100.0
    minutes = max(meta.get("elapsed_s", duration_s), 1.0) / 60.0
    per_minute = final_bytes / 2**20 / minutes
    iterations = int(meta.get("iterations", 0))
    say(
        f"\niterations {iterations:,} ({iterations / (minutes * 60):.0f}/s), failed "
        f"{meta.get('failed', 0):,}, exit {code}"
    )
    say(
        f"harness memory after warm-up {first:.1f} MiB → at the end {last:.1f} MiB: growth "
        f"{growth:+.1f}% (goal < 10%) {'OK' if growth < 10 else 'MISS'}"
    )
    say(f"sidecar memory at the end of the load {warm[-1][2]:.1f} MiB")
    say(f"harness memory while writing the reports (peak of samples) {report_peak:.1f} MiB")
    say(f"results {final_bytes / 2**20:.1f} MiB in all, {per_minute:.1f} MiB per minute")
    return {
        "growth_pct": round(growth, 2),
        "rss_warm_mib": round(first, 1),
        "rss_end_mib": round(last, 1),
        "rss_report_peak_mib": round(report_peak, 1),
        "results_mib_per_min": round(per_minute, 2),
        "iterations": iterations,
        "meets_goals": growth < 10,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/soak.py", description=(DOC or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="2 minutes at 20 users")
    parser.add_argument("--json", action="store_true", help="human output on stderr")
    options = parser.parse_args()
    if options.quick:
        options.minutes, options.users = 2.0, 20
    output.to_stderr(options.json)
    samples, meta, final_bytes, code = _soak(options.users, options.minutes)
    result = _report(samples, meta, final_bytes, code, options.minutes * 60.0)
    if result is None:
        return 1
    print(json.dumps(result))  # the one line on stdout under --json
    return 0 if result["meets_goals"] else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
