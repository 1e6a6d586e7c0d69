"""Every process a bench starts, so that each is stopped by PID, also on failure."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Sequence
from typing import Any

import psutil


class HungRun(RuntimeError):
    """A child did not finish in time (it was stopped)."""


class Children:
    """Every process this bench starts, so that each is stopped by PID, also on failure."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(list(argv), start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        """Stop `proc` and whatever it started (each by its PID): signal, wait 5 s, kill."""
        try:
            family = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            family = []
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, sig)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        for child in family:  # orphans of a killed parent (e.g. harness workers)
            _stop_orphan(child)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.procs):
            self.stop(proc)


def _stop_orphan(child: psutil.Process) -> None:
    with contextlib.suppress(psutil.Error):
        if child.is_running():
            child.terminate()
            child.wait(timeout=5)
    with contextlib.suppress(psutil.Error):
        if child.is_running():
            child.kill()


CHILDREN = Children()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
