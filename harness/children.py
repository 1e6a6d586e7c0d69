"""Child processes started from a gevent-patched process without running Python after fork.

Locust monkey-patches the process, so `subprocess.Popen` is gevent's: it forks in Python, and
the child runs the fork hooks registered by other libraries (OpenTelemetry's span processors,
gevent's own hub re-initialisation) before it reaches `exec`. When the parent already has
greenlets scheduled (a Locust master's ZeroMQ listener, say), a hook that yields lets the hub
run them in the child, which then never execs and spins on the parent's sockets. `posix_spawn`
creates the child in C and execs at once, so nothing of the parent runs there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Sequence


class SpawnedProcess:
    """A child started with `os.posix_spawn`; polled, stopped and killed by its PID."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], *, group: bool = False) -> None:
        """Start `argv`; with `group=True` the child leads a process group of its own, and every
        signal goes to that whole group (a shell's own children included)."""
        self.args = list(argv)
        self.group = group
        if group:
            self.pid = os.posix_spawn(self.args[0], self.args, env, setpgroup=0)
        else:
            self.pid = os.posix_spawn(self.args[0], self.args, env)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code once the child has ended (negative: killed by that signal), else None."""
        if self.returncode is not None:
            return self.returncode
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped by someone else's SIGCHLD handler: it has ended
            if _alive(self.pid):
                return None
            self.returncode = -1
            return self.returncode
        if pid == 0:
            return None
        self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> int | None:
        """Wait up to `timeout` seconds without blocking other greenlets; None if still alive."""
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)  # gevent's sleep once Locust has patched the process
        return self.returncode

    def signal(self, signum: int) -> None:
        """Send `signum` unless the child has already ended (to its whole group, if it leads
        one: then also to what the child left running)."""
        if self.group:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signum)
        elif self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def stop(self, grace_s: float = 10.0) -> None:
        """Let the child end by itself within `grace_s`, then SIGTERM, then SIGKILL."""
        if self.wait(grace_s) is not None:
            return
        self.signal(signal.SIGTERM)
        if self.wait(5.0) is not None:
            return
        self.signal(signal.SIGKILL)
        self.wait(5.0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # our own child: signal 0 fails only when it no longer exists
    except ProcessLookupError:
        return False
    return True
