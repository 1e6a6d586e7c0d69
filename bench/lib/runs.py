"""One `harness load`, raw Locust or wrk run in a subprocess, and what it measured."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.lib.cpu import CpuSampler
from bench.lib.output import say
from bench.lib.procs import CHILDREN, HungRun
from harness.telemetry.hdr import HdrStore

ROOT = Path(__file__).resolve().parents[2]
JOURNEYS = ROOT / "bench" / "journeys" / "bench_load.py"
PY = sys.executable
RUN_GRACE_S = 45.0  # a child that outlives its duration by this much is killed

During = Callable[[threading.Event], None]  # runs while the child runs; the event: load started


@dataclass
class RunResult:
    kind: str
    requests: int
    failures: int
    duration_s: float
    cpu: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.duration_s


# -- harness load ----------------------------------------------------------------------------


def load_argv(target: str, results: Path, *options: str) -> list[str]:
    """The command line of one `harness load` against `target`, its run folder under `results`."""
    return [
        PY,
        "-m",
        "harness.cli",
        "load",
        "--target",
        target,
        *options,
        "--results",
        str(results),
    ]


def run_folder(results: Path) -> Path | None:
    """The newest run folder (one with a run.json) under `results`, None when there is none."""
    runs = [p for p in results.iterdir() if (p / "run.json").is_file()] if results.is_dir() else []
    return max(runs, key=lambda p: p.stat().st_mtime, default=None)


def run_harness(
    workdir: Path,
    target: str,
    keyword: str,
    users: int,
    duration_s: float,
    targets: Callable[[], list[int]],
    *,
    ping_url: str | None = None,
    processes: int = 0,
    browser_users: int = 0,
    arrival_rate: float = 0.0,
    max_users: int = 0,
    no_traces: bool = False,
    during: During | None = None,
    more: tuple[str, ...] = (),
) -> RunResult:
    """`harness load` in a subprocess; requests = steps = iterations of a one-step journey."""
    results = workdir / f"harness-{time.monotonic_ns()}"
    options = ["--journeys", str(JOURNEYS), "-k", keyword, "--duration", f"{duration_s:g}s"]
    options += ["--browser-users", str(browser_users), "--seed", "1", "--max-error-rate", "100"]
    if arrival_rate:
        options += ["--shape", "arrival", "--rate", f"{arrival_rate:g}"]
        options += ["--max-users", str(max_users)]
    else:
        options += ["--users", str(users), "--spawn-rate", str(users)]
    if processes:
        options += ["--processes", str(processes)]
    if no_traces:
        options += ["--no-traces"]
    options += more
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BENCH_PING_URL": ping_url or ""}
    results.mkdir(parents=True)
    argv = load_argv(target, results, *options)
    code, sampler = _run_child(
        argv, env, duration_s, targets, "  journeys:", results / "stdout.log", during
    )
    run = run_folder(results)
    if run is None:
        raise RuntimeError(f"harness wrote no run (exit {code}); see {results / 'stdout.log'}")
    return _harness_result(run, duration_s, sampler)


def _harness_result(run: Path, duration_s: float, sampler: CpuSampler) -> RunResult:
    meta = json.loads((run / "run.json").read_text())
    health = json.loads((run / "health.json").read_text())["summary"]
    hdr = HdrStore.read(run / "histograms")
    series = {}
    for key in hdr:
        s = hdr.summary(key)
        series[key.journey + (f" › {key.step}" if key.step else "")] = {
            "count": s.count,
            "p50": s.p(50.0),
            "p99": s.p(99.0),
            "max": s.max_ms,
        }
    steps = sum(hdr.count(k) for k in hdr if not k.is_iteration and k.journey == "bench_ping")
    requests = steps or int(meta.get("iterations", 0))
    return RunResult(
        "harness",
        requests,
        int(meta.get("failed", 0)),
        duration_s,
        sampler.summary(),
        {"run": str(run), "meta": meta, "health": health, "series": series, "hdr": hdr},
    )


def hdr_pcts(hdr: HdrStore, journey: str, step: str) -> tuple[float, float, int]:
    """p50, p99 and count of `journey › step` (the iteration when `step` is "")."""
    for key in hdr:
        if key.journey == journey and key.step == step:
            s = hdr.summary(key)
            return s.p(50.0), s.p(99.0), s.count
    raise KeyError(f"{journey} › {step!r} not in the histograms")


# -- any child -------------------------------------------------------------------------------


def _watch_output(
    proc: subprocess.Popen[bytes], marker: str, started: threading.Event, log: Path
) -> threading.Thread:
    def run() -> None:
        assert proc.stdout is not None
        with open(log, "wb") as out:
            for line in proc.stdout:
                out.write(line)
                if marker.encode() in line:
                    started.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _run_child(
    argv: list[str],
    env: dict[str, str],
    duration_s: float,
    targets: Callable[[], list[int]],
    marker: str,
    log: Path,
    during: During | None = None,
) -> tuple[int, CpuSampler]:
    proc = CHILDREN.start(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    started = threading.Event()
    reader = _watch_output(proc, marker, started, log)
    try:
        with CpuSampler(lambda: [proc.pid], targets) as sampler:
            if during is not None:
                during(started)
            try:
                code = proc.wait(timeout=duration_s + RUN_GRACE_S)
            except subprocess.TimeoutExpired:
                raise HungRun(
                    f"`{' '.join(argv[2:4])}` was still running "
                    f"{duration_s + RUN_GRACE_S:.0f} s after start (duration {duration_s:g} s); "
                    f"stopped it; its output: {log}"
                ) from None
        reader.join(timeout=5)
        return code, sampler
    finally:
        CHILDREN.stop(proc)


# -- raw Locust ------------------------------------------------------------------------------

LOCUSTFILE = '''\
"""Raw Locust, generated by bench/lib/runs.py: one GET per task, FastHttpUser."""
import json, os, sys, time
from locust import FastHttpUser, constant, constant_throughput, events, task

PATH = os.environ["BENCH_RAW_PATH"]
OUT = os.environ["BENCH_RAW_OUT"]
RATE = float(os.environ.get("BENCH_RAW_RATE") or 0)
EXACT = os.environ.get("BENCH_RAW_EXACT") == "1"
times = []


class RawUser(FastHttpUser):
    wait_time = constant_throughput(RATE) if RATE > 0 else constant(0)

    @task
    def get(self):
        self.client.get(PATH)


if EXACT:
    @events.request.add_listener
    def _exact(response_time, **_):
        times.append(response_time)


@events.test_start.add_listener
def _started(**_):
    print("BENCH-START", flush=True)


@events.quitting.add_listener
def _dump(environment, **_):
    total = environment.stats.total
    pct = {str(p): total.get_response_time_percentile(p) for p in (0.5, 0.9, 0.95, 0.99)}
    with open(OUT, "w") as f:
        json.dump({"requests": total.num_requests, "failures": total.num_failures,
                   "percentiles_ms": pct, "max_ms": total.max_response_time,
                   "exact_ms": sorted(times)}, f)
'''


def run_raw(
    workdir: Path,
    host: str,
    path: str,
    users: int,
    duration_s: float,
    targets: Callable[[], list[int]],
    *,
    rate: float = 0.0,
    exact: bool = False,
    during: During | None = None,
) -> RunResult:
    """Raw Locust (FastHttpUser, one GET per task) in a subprocess, one process."""
    locustfile = workdir / "raw_locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    out = workdir / f"raw-{time.monotonic_ns()}.json"
    env = {
        **os.environ,
        "BENCH_RAW_PATH": path,
        "BENCH_RAW_OUT": str(out),
        "BENCH_RAW_RATE": str(rate),
        "BENCH_RAW_EXACT": "1" if exact else "0",
        "PYTHONUNBUFFERED": "1",
    }
    argv = [PY, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users)]
    argv += ["-r", str(users), "-t", f"{duration_s:g}s", "--only-summary", "--host", host]
    argv += ["--loglevel", "WARNING", "--exit-code-on-error", "0"]
    code, sampler = _run_child(
        argv, env, duration_s, targets, "BENCH-START", out.with_suffix(".log"), during
    )
    if not out.exists():
        raise RuntimeError(
            f"raw Locust wrote no result (exit {code}); see {out.with_suffix('.log')}"
        )
    data = json.loads(out.read_text())
    return RunResult("raw", data["requests"], data["failures"], duration_s, sampler.summary(), data)


# -- wrk -------------------------------------------------------------------------------------


def run_wrk(url: str, connections: int, duration_s: float) -> dict[str, float] | None:
    """wrk's p50, p99 (ms) and request count with `connections`, None without wrk."""
    binary = shutil.which("wrk")
    if binary is None:
        say("  wrk not found: install the Debian package `wrk` (apt-get install -y wrk); skipped")
        return None
    proc = CHILDREN.start(
        [binary, "-t1", f"-c{connections}", f"-d{duration_s:g}s", "--latency", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        out, _ = proc.communicate(timeout=duration_s + RUN_GRACE_S)
    finally:
        CHILDREN.stop(proc)
    text = out.decode(errors="replace")
    found = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)\s*$", text, re.M))
    if "50" not in found or "99" not in found:
        say(f"  wrk output not understood:\n{textwrap.indent(text, '    ')}")
        return None
    requests = re.search(r"(\d+) requests in", text)
    return {
        "p50": wrk_ms(found["50"]),
        "p99": wrk_ms(found["99"]),
        "requests": float(requests.group(1)) if requests else 0.0,
    }


def wrk_ms(text: str) -> float:
    """One of wrk's durations ("812.00us", "1.20ms", "2s") in milliseconds."""
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        raise ValueError(text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
