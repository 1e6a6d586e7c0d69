"""CPU of the generator's processes, of the target and of the rest of the machine during a run."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections.abc import Callable

import psutil

_Times = dict[tuple[int, float], float]  # (pid, create time) → CPU seconds


class CpuSampler:
    """Every 0.5 s: CPU of the generator's process tree (Chromium apart), of the target, and of
    everything else on the machine (other work sharing it), in % of one core."""

    def __init__(self, roots: Callable[[], list[int]], target_pids: Callable[[], list[int]]):
        self.roots = roots
        self.target_pids = target_pids
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _groups(self) -> dict[str, _Times]:
        gen_procs = _tree(self.roots())
        browser = [p for p in gen_procs if is_browser(p)]
        gen = [p for p in gen_procs if p not in browser]
        return {
            "gen": _cpu(gen),
            "browser": _cpu(browser),
            "target": _cpu(_tree(self.target_pids())),
        }

    def _run(self) -> None:
        prev_t = time.perf_counter()
        prev_sys = psutil.cpu_times()
        prev: dict[str, _Times] = {}
        deadline = time.monotonic() + 3600
        while not self._stop.wait(0.5) and time.monotonic() < deadline:
            groups = self._groups()
            now = time.perf_counter()
            system = psutil.cpu_times()
            dt = now - prev_t
            sample = {"t": now}
            for name, values in groups.items():
                before = prev.get(name, {})
                sample[name] = (
                    100.0 * sum(v - before[k] for k, v in values.items() if k in before) / dt
                )
            sample["machine"] = 100.0 * (_busy(system) - _busy(prev_sys)) / dt
            sample["other"] = max(
                0.0, sample["machine"] - sample["gen"] - sample["browser"] - sample["target"]
            )
            if prev:
                self.samples.append(sample)
            prev, prev_t, prev_sys = groups, now, system

    def loaded(self, key: str) -> float:
        """Median CPU % of `key` over the samples where the target was busy (the load window)."""
        busy = [s for s in self.samples if s["target"] > 3.0] or self.samples
        values = [s[key] for s in busy[1:-1] or busy]  # drop the ramp and the tail
        return round(statistics.median(values), 1) if values else 0.0

    def summary(self) -> dict[str, float]:
        return {k: self.loaded(k) for k in ("gen", "browser", "target", "other", "machine")}


def _busy(times: object) -> float:
    """CPU seconds the whole machine was busy (not idle, not waiting for I/O)."""
    return float(
        sum(times) - times.idle - getattr(times, "iowait", 0)  # type: ignore[call-overload, attr-defined]
    )


def _cpu(procs: list[psutil.Process]) -> _Times:
    out = {}
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            out[(p.pid, p.create_time())] = t.user + t.system
    return out


def _tree(pids: list[int]) -> list[psutil.Process]:
    procs: list[psutil.Process] = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            procs += [root, *root.children(recursive=True)]
    return procs


def is_browser(p: psutil.Process) -> bool:
    try:
        name = p.name().lower()
    except psutil.Error:
        return False
    return "chrom" in name or "headless" in name or name == "node"
