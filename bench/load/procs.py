"""Part procs: `harness load --processes 2` against one process, alternated pairs."""

from __future__ import annotations

import os
import statistics
from pathlib import Path

from bench.lib.output import Row, say
from bench.lib.runs import RunResult, run_harness
from bench.lib.servers import Ping
from bench.lib.stats import alternated
from bench.load import Settings

GOAL_PROCS = 1.7


def _pair(cfg: Settings, work: Path, ping: Ping, order: tuple[int, ...]) -> dict[int, RunResult]:
    got = {}
    for n in order:
        got[n] = run_harness(  # a hang raises HungRun: no second pair after it
            work,
            ping.target,
            "bench_ping",
            cfg.users,
            cfg.ab_duration,
            ping.pids,
            ping_url=ping.url,
            processes=n if n > 1 else 0,
        )
    return got


def _bound(ping: Ping, target_cpu: float, machine_cpu: float) -> str:
    """What bounded the two-process runs: the target, the machine's cores, or neither."""
    cores = os.cpu_count() or 1
    if target_cpu >= 90:
        return f"bounded by the target: {ping.name} used {target_cpu:.0f}% of a core"
    if machine_cpu >= 90 * cores:
        return (
            f"bounded by the machine: {machine_cpu:.0f}% of {100 * cores}% CPU busy "
            f"(2 generator processes + master + {ping.name} on {cores} cores)"
        )
    return "not bounded by the target or the machine's CPU"


def run(cfg: Settings, work: Path, ping: Ping) -> list[Row]:
    say(
        f"\n--processes 2 vs 1 process (harness) · {ping.describe} · {cfg.users} users · "
        f"{cfg.ab_duration:g} s · {cfg.proc_pairs} alternated pairs · {os.cpu_count()} cores"
    )
    ones, twos, ratios, nginx_cpu, machine = [], [], [], [], []
    for i in range(cfg.proc_pairs):
        got = _pair(cfg, work, ping, alternated((1, 2), i))
        ones.append(got[1].rate)
        twos.append(got[2].rate)
        ratios.append(got[2].rate / got[1].rate)
        nginx_cpu.append(got[2].cpu["target"])
        machine.append(got[2].cpu["machine"])
        say(
            f"  pair {i + 1}: 1 process {got[1].rate:8,.0f} req/s "
            f"(gen CPU {got[1].cpu['gen']:.0f}%)"
            f" · 2 processes {got[2].rate:8,.0f} req/s (gen CPU {got[2].cpu['gen']:.0f}%, "
            f"target {got[2].cpu['target']:.0f}%, machine {got[2].cpu['machine']:.0f}% of "
            f"{100 * (os.cpu_count() or 1)}%) · ratio {ratios[-1]:.2f}"
        )
    ratio = statistics.median(ratios)
    bound = _bound(ping, statistics.median(nginx_cpu), statistics.median(machine))
    say(f"  {bound}")
    return [
        Row(
            "harness --processes 2 / 1 process, req/s",
            f"{ratio:.2f}x ({statistics.median(twos):,.0f} vs {statistics.median(ones):,.0f})",
            f">= {GOAL_PROCS}x",
            ratio >= GOAL_PROCS,
            {"pairs": ratios, "one": ones, "two": twos, "bound": bound},
        ),
    ]
