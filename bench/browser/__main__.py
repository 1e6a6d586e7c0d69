"""`python -m bench.browser` (or `python bench/browser_overhead.py`): rounds, goals, the table."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.browser import GOAL_REUSE, GOAL_VS_RAW, Settings, memory
from bench.browser import __doc__ as DOC
from bench.lib import output
from bench.lib.output import Row, guarded, say
from bench.lib.procs import CHILDREN
from bench.lib.runs import PY, _run_child, hdr_pcts, run_harness
from bench.lib.servers import sandbox
from bench.lib.stats import median_or_zero, ratios
from harness.sandbox.process import SandboxProcess

Sample = dict[str, Any]  # one run: per_s, p50, failed, cpu


def _arguments() -> tuple[Settings, bool]:
    parser = argparse.ArgumentParser(
        prog="bench/browser_overhead.py", description=(DOC or "").splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="3 rounds of 12 s (< 5 min)")
    parser.add_argument("--rounds", type=int, default=0, help="rounds (default 3 quick, 5 full)")
    parser.add_argument("--json", action="store_true", help="print one JSON line on stdout")
    args = parser.parse_args()
    return Settings.of(quick=args.quick, rounds=args.rounds or None), args.json


def steady_rate(spans: list[tuple[float, float]]) -> float:
    """Journeys per second in the steady part of a run: the journeys completed between the
    first one's start and the last one's end, over that time. Both sides are measured this way,
    so neither counts its start-up (Chromium's launch, Locust's) in its rate."""
    if len(spans) < 2:
        return 0.0
    window = max(end for _, end in spans) - min(start for start, _ in spans)
    return len(spans) / window if window > 0 else 0.0


def _harness_spans(run: Path) -> list[tuple[float, float]]:
    spans = []
    with open(run / "steps.jsonl", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if "steps_total" in record and record.get("outcome") == "passed":
                start = float(record["started_at"])
                spans.append((start, start + float(record["duration_ms"]) / 1000.0))
    return spans


def _cpu_ms(cpu: dict[str, float], duration_s: float, journeys: int) -> float:
    """CPU milliseconds of Chromium and the generator per journey (from the sampler's median
    load-window percentages): less sensitive than journeys/s to a machine busy with others."""
    return (cpu["gen"] + cpu["browser"]) * 10.0 * duration_s / journeys if journeys else 0.0


def _raw(cfg: Settings, work: Path, box: SandboxProcess, policy: str) -> Sample:
    argv = [PY, "-m", "bench.browser.raw", "--url", box.urls.web, "--context", policy]
    argv += ["--concurrency", str(cfg.concurrency), "--duration", f"{cfg.duration_s:g}"]
    log = work / f"raw-{time.monotonic_ns()}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    code, sampler = _run_child(argv, env, cfg.duration_s, lambda: [box.pid], "journeys:", log)
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("{")]
    if code != 0 or not lines:
        raise RuntimeError(f"raw Playwright exited {code}; see {log}")
    got = json.loads(lines[-1])
    ms = sorted(got["ms"])
    cpu = sampler.summary()
    return {
        "cpu_ms": _cpu_ms(cpu, cfg.duration_s, len(ms)),
        "per_s": steady_rate([tuple(s) for s in got["spans"]]),
        "p50": statistics.median(ms) if ms else float("nan"),
        "failed": got["failures"],
        "cpu": cpu,
        "errors": got["errors"],
    }


def _harness(cfg: Settings, work: Path, box: SandboxProcess, policy: str) -> Sample:
    more = ("--browser-context", policy) if policy != "fresh" else ()
    run = run_harness(
        work,
        box.urls.base,
        "bench_browse",
        cfg.concurrency,
        cfg.duration_s,
        lambda: [box.pid],
        browser_users=cfg.concurrency,
        no_traces=True,
        more=more,
    )
    try:
        p50 = hdr_pcts(run.extra["hdr"], "bench_browse", "")[0]
    except KeyError:
        p50 = float("nan")
    spans = _harness_spans(Path(run.extra["run"]))
    return {
        "cpu_ms": _cpu_ms(run.cpu, cfg.duration_s, len(spans)),
        "per_s": steady_rate(spans),
        "p50": p50,
        "failed": run.failures,
        "cpu": run.cpu,
    }


def _measure(cfg: Settings, work: Path, box: SandboxProcess, subject: str) -> Sample:
    side, policy = subject.split()
    if side == "raw":
        return _raw(cfg, work, box, policy)
    return _harness(cfg, work, box, policy)


def _rounds(cfg: Settings, work: Path, box: SandboxProcess) -> dict[str, list[Sample]]:
    got: dict[str, list[Sample]] = {s: [] for s in cfg.subjects}
    subjects = list(cfg.subjects)
    for i in range(cfg.rounds):
        k = i % len(subjects)
        order = subjects[k:] + subjects[:k]
        if i % 2:
            order.reverse()
        say(f"  round {i + 1}/{cfg.rounds} (load average {os.getloadavg()[0]:.1f}):")
        for subject in order:
            s = _measure(cfg, work, box, subject)
            got[subject].append(s)
            cpu = s["cpu"]
            say(
                f"    {subject:<14} {s['per_s']:5.2f} journeys/s · p50 {s['p50']:6.0f} ms · "
                f"{s['failed']} failed · {s['cpu_ms']:5.0f} CPU ms/journey · CPU gen "
                f"{cpu['gen']:.0f}% Chromium "
                f"{cpu['browser']:.0f}% sandbox {cpu['target']:.0f}% other {cpu['other']:.0f}%"
            )
    return got


def _ratio_row(
    got: dict[str, list[Sample]], top: str, bottom: str, goal: float | None
) -> list[Row]:
    per_s = ratios([s["per_s"] for s in got[top]], [s["per_s"] for s in got[bottom]])
    p50 = ratios([s["p50"] for s in got[top]], [s["p50"] for s in got[bottom]])
    cpu = ratios([s["cpu_ms"] for s in got[top]], [s["cpu_ms"] for s in got[bottom]])
    value = median_or_zero(per_s)
    failed = sum(s["failed"] for s in got[top] + got[bottom])
    rates = (
        f"{median_or_zero([s['per_s'] for s in got[top]]):.2f} vs "
        f"{median_or_zero([s['per_s'] for s in got[bottom]]):.2f}/s"
    )
    return [
        Row(
            f"journeys/s {top} / {bottom}",
            f"{value:.2f} ({rates})",
            f">= {goal}" if goal is not None else "(info)",
            None if goal is None else (value >= goal and failed == 0),
            {"rounds": per_s, "failed": failed},
        ),
        Row(f"p50 {top} / {bottom}", f"{median_or_zero(p50):.2f}", "(info)", None, {"p50": p50}),
        Row(
            f"CPU per journey {top} / {bottom}",
            f"{median_or_zero(cpu):.2f}",
            "(info)",
            None,
            {"cpu": cpu},
        ),
    ]


def _run(cfg: Settings, work: Path) -> list[Row]:
    rows: list[Row] = []
    with sandbox() as box:
        got = _rounds(cfg, work, box)
        rows += _ratio_row(got, "harness fresh", "raw fresh", GOAL_VS_RAW)
        rows += _ratio_row(got, "harness reuse", "harness fresh", GOAL_REUSE)
        if "raw reuse" in got:
            rows += _ratio_row(got, "harness reuse", "raw reuse", None)
        rows += guarded("memory", lambda: memory.rows(cfg.contexts, box.urls.web))
    return rows


def main() -> int:
    cfg, as_json = _arguments()
    output.to_stderr(as_json)
    started = time.perf_counter()
    say(
        f"browser overhead bench · {os.cpu_count()} cores · load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} · {cfg.rounds} rounds of "
        f"{cfg.duration_s:g} s · {cfg.concurrency} at once · {'quick' if cfg.quick else 'full'}"
    )
    work = Path(tempfile.mkdtemp(prefix="harness-bench-browser-"))
    try:
        rows = guarded("rounds", lambda: _run(cfg, work))
    finally:
        CHILDREN.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    output.print_table(rows, elapsed)
    if as_json:
        output.print_json(rows, quick=cfg.quick, elapsed_s=round(elapsed, 1))
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
