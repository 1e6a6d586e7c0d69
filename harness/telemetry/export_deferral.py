"""When the span sidecar leaves the spool for later: while the machine has no core to spare
(`MachineLoad`, from the kernel's CPU counters) and the spool still grows (`Deferral`)."""

from __future__ import annotations

import os
from collections.abc import Callable

import psutil

QUIET_S = 1.0
MAX_BACKLOG_BYTES = 256 * 2**20  #: a spool backlog beyond which the export goes on regardless


class MachineLoad:
    """How many of the machine's cores were idle, or busy with this process only, since the last
    look (from the kernel's CPU counters)."""

    def __init__(self) -> None:
        self._cores = psutil.cpu_count() or 1
        self._last = self._counters()

    @staticmethod
    def _counters() -> tuple[float, float, float]:
        times = psutil.cpu_times()
        idle = times.idle + getattr(times, "iowait", 0.0)
        # guest time is counted in user time already
        total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
        own = os.times()
        return total, idle, own.user + own.system

    def idle_cores(self) -> float:
        """Cores left idle by other processes since the previous call (all of them when no
        time has passed)."""
        total, idle, own = self._counters()
        last_total, last_idle, last_own = self._last
        self._last = (total, idle, own)
        elapsed = total - last_total
        if elapsed <= 0:
            return float(self._cores)
        return self._cores * min(1.0, (idle - last_idle + own - last_own) / elapsed)


class Deferral:
    """Whether to leave the spool for later: while fewer than `idle_cores` cores are idle and
    the spool still grows, up to a backlog of `MAX_BACKLOG_BYTES` (`idle_cores` 0: never).
    `idle` measures the idle cores (by default `MachineLoad`, made on first need)."""

    def __init__(self, idle_cores: float, idle: Callable[[], float] | None = None) -> None:
        self.threshold = idle_cores
        self._idle = idle
        self._size = -1
        self._grew = 0.0

    def wait(self, size: int, backlog: int, now: float) -> bool:
        """True to skip this poll; `size` the spool's size, `backlog` its unread bytes."""
        if size != self._size:
            self._size, self._grew = size, now
        if self.threshold <= 0 or backlog <= 0 or backlog >= MAX_BACKLOG_BYTES:
            return False
        if now - self._grew >= QUIET_S:  # the run has stopped writing: catch up
            return False
        if self._idle is None:
            self._idle = MachineLoad().idle_cores
        return self._idle() < self.threshold
