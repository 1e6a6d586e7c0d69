"""Child processes that die with the harness.

A sandbox, a drill proxy or a local worker started by the harness must not outlive it, even when
the harness is killed with SIGKILL and cannot stop them. The parent puts its PID in the child's
environment (`PARENT_ENV`); the child asks the kernel (Linux `prctl(PR_SET_PDEATHSIG)`) for a
SIGTERM when its parent dies, and checks that the parent is still there (it may have died
before the request). Elsewhere, or when the call is not available, the child runs as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

PARENT_ENV = "HARNESS_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def child_env(env: dict[str, str]) -> dict[str, str]:
    """`env` for a child that is to die with this process."""
    return {**env, PARENT_ENV: str(os.getpid())}


def die_with_parent() -> None:
    """In a child started with `child_env`: receive SIGTERM when the parent dies (its usual
    stop, so it flushes what it holds), or exit now if the parent is already gone."""
    parent = os.environ.pop(PARENT_ENV, "")
    if not parent.isdigit():
        return
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != int(parent):
        raise SystemExit(0)  # orphaned before the request could take effect
