"""One `harness load`, traced or not, and paired rounds of them with their medians printed."""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from bench.lib.runs import ROOT, load_argv, run_folder
from bench.lib.stats import alternated, median_interval, median_or_zero, ratios


class Run(NamedTuple):
    """What one `harness load` measured."""

    rate: float  #: iterations per second over the load
    cpu_per_iteration: float  #: CPU s of the harness and its span exporter, start-up included
    generator_cpu: float  #: the generator's median CPU % from its health samples
    wall_s: float  #: start to exit: start-up, load, the span export's catching up, reports


def run_once(
    base: str,
    results: Path,
    duration: str,
    users: int,
    traced: bool,
    *,
    select: Sequence[str] = ("-k", "not browse and not cross"),
    env: dict[str, str] | None = None,
) -> Run:
    """One `harness load`, traced or not."""
    options = ["--users", str(users), "--spawn-rate", str(users), "--duration", duration]
    options += ["--browser-users", "0", *select]
    if not traced:
        options.append("--no-traces")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(
        load_argv(base, results, *options),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    run_dir = run_folder(results)
    if run_dir is None:
        raise RuntimeError(f"harness load against {base} wrote no run")
    run = json.loads((run_dir / "run.json").read_text())
    iterations = float(run["iterations"])
    health = json.loads((run_dir / "health.json").read_text())["summary"]
    # A traced run leaves ≈ 6 MB of traces a second: removed at once, so that the kernel's
    # write-back of one run's files does not run during the next.
    shutil.rmtree(run_dir, ignore_errors=True)
    return Run(
        iterations / float(run["elapsed_s"]), cpu / max(iterations, 1.0), health["cpu_median"], wall
    )


def _play(once: Callable[[bool], Run], rounds: int, out: TextIO) -> dict[bool, list[Run]]:
    """Alternate traced and untraced runs `rounds` times, printing each run."""
    runs: dict[bool, list[Run]] = {True: [], False: []}  #: traced, untraced; in round order
    for index in range(rounds):
        for on in alternated((True, False), index):
            run = once(on)
            runs[on].append(run)
            print(
                f"  round {index + 1}: tracing {'on ' if on else 'off'} {run.rate:8.1f} it/s, "
                f"{run.cpu_per_iteration * 1e6:7.0f} µs CPU per iteration, generator CPU median "
                f"{run.generator_cpu:.0f}%, {run.wall_s:.1f} s start to exit",
                file=out,
                flush=True,
            )
    return runs


def _throughput(traced: list[float], plain: list[float], out: TextIO) -> dict[str, Any]:
    # Each round runs both, back to back: its ratio compares like with like on a noisy machine.
    rounds = ratios(traced, plain)
    ratio = median_or_zero(rounds)
    low, high = median_interval(rounds)
    print(
        f"  median traced {statistics.median(traced):.1f} it/s, untraced "
        f"{statistics.median(plain):.1f} it/s; ratio traced/untraced, median of rounds "
        f"{ratio:.2f}, 90% interval {low:.2f}–{high:.2f} "
        f"(rounds: {', '.join(f'{r:.2f}' for r in rounds)})",
        file=out,
    )
    return {
        "traced": traced,
        "untraced": plain,
        "ratio": round(ratio, 3),
        "ratio_interval_90": [round(low, 3), round(high, 3)],
    }


def _generator(generator: dict[bool, list[float]], out: TextIO) -> None:
    # Throughput only shows the generator's cost when the generator is the bound (≥ 90% CPU).
    busiest = statistics.median(generator[True])
    print(
        f"  generator CPU median of the traced runs {busiest:.0f}%, untraced "
        f"{statistics.median(generator[False]):.0f}%: "
        + (
            "the generator was the bound"
            if busiest >= 90
            else "the target was the bound (tracing's CPU shows in the line below, not in "
            "throughput)"
        ),
        file=out,
    )


def _cpu(cpu: dict[bool, list[float]], out: TextIO) -> float:
    # Paired by round like throughput: untraced / traced CPU per iteration.
    rounds = ratios(cpu[False], cpu[True])
    cpu_ratio = median_or_zero(rounds)
    print(
        f"  CPU per iteration (harness + span exporter): traced "
        f"{statistics.median(cpu[True]) * 1e6:.0f} µs, untraced "
        f"{statistics.median(cpu[False]) * 1e6:.0f} µs; ratio untraced/traced, median of rounds "
        f"{cpu_ratio:.2f} (rounds: {', '.join(f'{r:.2f}' for r in rounds)})\n",
        file=out,
        flush=True,
    )
    return cpu_ratio


def _wall(wall: dict[bool, list[float]], out: TextIO) -> float:
    # Without an OTLP endpoint the span export waits while no core is idle and catches up
    # after the load: that shows here, not in throughput.
    # `harness load` gives its verdict at exit, after every span is written: start to exit is
    # start to verdict. Paired by round, traced / untraced (goal ≤ 1.1).
    rounds = ratios(wall[True], wall[False])
    wall_ratio = median_or_zero(rounds)
    print(
        f"  start to verdict, median: traced {statistics.median(wall[True]):.1f} s, untraced "
        f"{statistics.median(wall[False]):.1f} s; ratio traced/untraced, median of rounds "
        f"{wall_ratio:.2f} (goal ≤ 1.1; rounds: {', '.join(f'{r:.2f}' for r in rounds)})",
        file=out,
        flush=True,
    )
    return wall_ratio


def paired_rounds(
    title: str, once: Callable[[bool], Run], rounds: int, out: TextIO
) -> dict[str, Any]:
    """Alternate traced and untraced runs `rounds` times; print each run and the medians of the
    rounds' ratios; return them."""
    print(title, file=out, flush=True)
    runs = _play(once, rounds, out)
    cpu = {on: [r.cpu_per_iteration for r in runs[on]] for on in runs}
    generator = {on: [r.generator_cpu for r in runs[on]] for on in runs}
    wall = {on: [r.wall_s for r in runs[on]] for on in runs}
    throughput = _throughput([r.rate for r in runs[True]], [r.rate for r in runs[False]], out)
    _generator(generator, out)
    cpu_ratio = _cpu(cpu, out)
    wall_ratio = _wall(wall, out)
    return {
        "wall_s": {"traced": wall[True], "untraced": wall[False]},
        "start_to_verdict_ratio": round(wall_ratio, 3),
        **throughput,
        "cpu_us_per_iteration": {
            "traced": [round(v * 1e6) for v in cpu[True]],
            "untraced": [round(v * 1e6) for v in cpu[False]],
        },
        "cpu_ratio": round(cpu_ratio, 3),
        "generator_cpu_median": {"traced": generator[True], "untraced": generator[False]},
    }
