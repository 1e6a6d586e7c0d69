"""Open contexts per GiB: Chromium's memory with N contexts open (each at /), opened as
`harness load` opens them (no Playwright trace), N going up then down again so that a drift of
the machine (other Chromiums starting or stopping change how shared pages divide into PSS) hits
both ends. PSS is the goal's measure; USS (private memory, not shared with any process) is
shown beside it, as the steadier one."""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.browser import GOAL_CONTEXTS_PER_GIB
from bench.lib.output import Row, say
from bench.lib.stats import fit


def _chromium_memory() -> tuple[float, float]:
    """PSS and USS (MiB) of this process's Chromium processes."""
    pss = uss = 0.0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            name = child.name().lower()
            if "chrom" in name or "headless" in name:
                info = child.memory_full_info()
                pss += info.pss
                uss += info.uss
    return pss / 2**20, uss / 2**20


def points(counts: tuple[int, ...], web_url: str) -> list[tuple[int, float, float]]:
    """(N, PSS MiB, USS MiB) for each N of `counts`, then each again on the way down."""
    from harness.touchpoints.web import BrowserHost

    host = BrowserHost()
    sessions: list[Any] = []
    got: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="harness-bench-contexts-") as scratch:
        artifacts = Path(scratch)
        try:
            host.start()
            for n in (*counts, *reversed(counts[:-1])):
                while len(sessions) < n:
                    s = host.new_session(
                        base_url=web_url, artifacts_dir=artifacts, record_trace=False
                    )
                    sessions.append(s)
                    s.goto("/")
                while len(sessions) > n:
                    sessions.pop().close()
                time.sleep(1.0)
                pss, uss = _chromium_memory()
                got.append((n, pss, uss))
                say(f"    N = {n:3d}: PSS {pss:7.1f} MiB · USS {uss:7.1f} MiB")
        finally:
            for s in sessions:
                with contextlib.suppress(Exception):
                    s.close()
            host.close()
    return got


def rows(counts: tuple[int, ...], web_url: str) -> list[Row]:
    say(f"  Chromium memory with N open contexts as `harness load` opens them, N = {counts}")
    got = points(counts, web_url)
    xs = [p[0] for p in got]
    pss_slope, pss_fixed = fit(xs, [p[1] for p in got])
    uss_slope, _ = fit(xs, [p[2] for p in got])
    per_gib = 1024.0 / pss_slope if pss_slope > 0 else float("inf")
    say(
        f"    fit: PSS {pss_slope:.1f} MiB per context + {pss_fixed:.0f} MiB fixed; "
        f"USS {uss_slope:.1f} MiB per context"
    )
    return [
        Row(
            "open contexts per GiB (PSS)",
            f"{per_gib:.1f} ({pss_slope:.1f} MiB each)",
            f">= {GOAL_CONTEXTS_PER_GIB:g}",
            per_gib >= GOAL_CONTEXTS_PER_GIB,
            {"points": got},
        ),
        Row("USS per open context", f"{uss_slope:.1f} MiB", "(info)", None),
    ]
