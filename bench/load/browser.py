"""Part e: the browser. (1) journeys per second with 2 browser users; (2) PSS per open Chromium
context; (3) API throughput with 2 browser users in the same run against without."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from pathlib import Path

from bench.lib.contexts import contexts_memory
from bench.lib.output import Row, say
from bench.lib.runs import RunResult, run_harness
from bench.lib.servers import Ping
from bench.lib.servers import sandbox as start_sandbox
from bench.lib.stats import alternated, fit
from bench.load import Settings
from harness.sandbox.process import SandboxProcess

GOAL_BROWSER_MIX = 0.9


def _browse(cfg: Settings, work: Path, box: SandboxProcess) -> Row:
    """(1) browser journeys per second with 2 browser users alone."""
    web = run_harness(
        work, box.urls.base, "bench_browse", 2, cfg.e_duration, lambda: [box.pid], browser_users=2
    )
    per_s = web.extra["meta"].get("iterations", 0) / cfg.e_duration
    failed = web.failures
    say(
        f"  (1) 2 browser users: {per_s:.1f} journeys/s ({failed} failed; Chromium CPU "
        f"{web.cpu['browser']:.0f}%, generator {web.cpu['gen']:.0f}%)"
    )
    return Row(
        "(e1) browser journeys/s, --browser-users 2",
        f"{per_s:.1f}/s",
        "(info)",
        None if failed == 0 else False,
        {"per_s": per_s, "failed": failed},
    )


def _memory_per_context(cfg: Settings, web_url: str) -> list[Row]:
    """(2) proportional memory (PSS) of Chromium with N contexts open, a straight-line fit."""
    counts = cfg.contexts
    say(
        f"  (2) PSS of Chromium with N open contexts (each at /), N = "
        f"{', '.join(map(str, counts))}, contexts without a Playwright trace "
        "(as `harness load` opens them by default)"
    )
    points = contexts_memory(counts, web_url)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    slope, intercept = fit(xs, ys)
    per_gib = 1024.0 / slope if slope > 0 else float("inf")
    say(
        f"      fit: {slope:.1f} MiB per context + {intercept:.0f} MiB fixed → "
        f"{per_gib:.0f} contexts per GiB"
    )
    return [
        Row(
            "(e2) PSS per open context / fixed part",
            f"{slope:.1f} MiB / {intercept:.0f} MiB",
            "(info)",
            None,
            {"points": points},
        ),
        Row("(e2) open contexts per GiB", f"{per_gib:.0f}", "(info)", None),
    ]


def _mix_pair(
    cfg: Settings,
    work: Path,
    base: str,
    ping_url: str,
    pids: Callable[[], list[int]],
    order: tuple[str, ...],
) -> dict[str, RunResult]:
    got = {}
    for kind in order:
        mixed = kind == "mixed"
        got[kind] = run_harness(
            work,
            base,
            "bench_ping or bench_browse" if mixed else "bench_ping",
            cfg.users + 2 if mixed else cfg.users,
            cfg.ab_duration,
            pids,
            ping_url=ping_url,
            browser_users=2 if mixed else 0,
        )
    return got


def _mix(cfg: Settings, work: Path, box: SandboxProcess, ping: Ping | None) -> list[Row]:
    """(3) API throughput with 2 browser users in the run against API alone."""
    if ping is None:
        ping_url, ping_pids, name = f"{box.urls.api}/health", lambda: [box.pid], "sandbox"
    else:
        ping_url, ping_pids, name = ping.url, (lambda: [*ping.pids(), box.pid]), ping.name
    say(
        f"  (3) ping journey ({cfg.users} users → {name}) alone vs with 2 browser users "
        f"(bench_browse → sandbox) · {cfg.ab_duration:g} s · {cfg.mix_pairs} alternated pairs"
    )
    ratios, healths, alone_r, mix_r = [], [], [], []
    for i in range(cfg.mix_pairs):
        order = alternated(("alone", "mixed"), i)
        got = _mix_pair(cfg, work, box.urls.base, ping_url, ping_pids, order)
        alone, mixed = got["alone"], got["mixed"]
        ratios.append(mixed.rate / alone.rate)
        alone_r.append(alone.rate)
        mix_r.append(mixed.rate)
        h = mixed.extra["health"]
        healths.append(h)
        web_it = mixed.extra["series"].get("bench_browse", {}).get("count", 0)
        say(
            f"  pair {i + 1}: alone {alone.rate:8,.0f} req/s · with browsers "
            f"{mixed.rate:8,.0f} req/s (+{web_it} web journeys, Chromium CPU "
            f"{mixed.cpu['browser']:.0f}%) · ratio {ratios[-1]:.2f} · health: CPU median "
            f"{h['cpu_median']:.0f}%, Chromium max {h['browser_cpu_max']:.0f}%, lag p95 "
            f"{h['lag_p95_ms']:.0f} ms, saturated {h['saturated']}"
        )
    ratio = statistics.median(ratios)
    h = healths[-1]
    return [
        Row(
            "(e3) API req/s with 2 browser users / without",
            f"{ratio:.2f} ({statistics.median(mix_r):,.0f} vs {statistics.median(alone_r):,.0f})",
            f">= {GOAL_BROWSER_MIX}",
            ratio >= GOAL_BROWSER_MIX,
            {"pairs": ratios, "health": healths},
        ),
        Row(
            "(e3) generator health of the mixed run",
            f"CPU {h['cpu_median']:.0f}%, lag p95 {h['lag_p95_ms']:.0f} ms, "
            f"{'saturated' if h['saturated'] else 'not saturated'}",
            "(info)",
            None,
            {"reasons": h.get("reasons")},
        ),
    ]


def run(cfg: Settings, work: Path, ping: Ping | None) -> list[Row]:
    say(
        f"\n(e) browser · sandbox · Chromium pinned by the harness to core "
        f"{sorted(os.sched_getaffinity(0))[-1]} of {os.cpu_count()}"
    )
    with start_sandbox() as box:
        rows = [_browse(cfg, work, box)]
        rows += _memory_per_context(cfg, box.urls.web)
        rows += _mix(cfg, work, box, ping)
    return rows
