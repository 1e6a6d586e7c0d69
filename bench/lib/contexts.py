"""Chromium's memory with N browser contexts open, each at `/`, opened as `harness load` opens
them (no Playwright trace): what `bench/browser_overhead.py` (open contexts per GiB) and
`bench/load_overhead.py` (part e) both measure."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from bench.lib.output import say


def chromium_memory() -> tuple[float, float]:
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


def contexts_memory(counts: Sequence[int], web_url: str) -> list[tuple[int, float, float]]:
    """(N, PSS MiB, USS MiB) with N contexts open, for each N of `counts` in turn (contexts are
    opened or closed to reach it; a second after, so that Chromium settles), each printed."""
    from harness.touchpoints.web import BrowserHost

    host = BrowserHost()
    sessions: list[Any] = []
    got: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="harness-bench-contexts-") as scratch:
        try:
            host.start()
            for n in counts:
                while len(sessions) < n:
                    s = host.new_session(
                        base_url=web_url, artifacts_dir=Path(scratch), record_trace=False
                    )
                    sessions.append(s)
                    s.goto("/")
                while len(sessions) > n:
                    sessions.pop().close()
                time.sleep(1.0)
                pss, uss = chromium_memory()
                got.append((n, pss, uss))
                say(f"    N = {n:3d}: PSS {pss:7.1f} MiB · USS {uss:7.1f} MiB")
        finally:
            for s in sessions:
                with contextlib.suppress(Exception):
                    s.close()
            host.close()
    return got
