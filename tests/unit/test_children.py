"""SpawnedProcess: children started with posix_spawn, polled and stopped by PID."""

from __future__ import annotations

import sys

from harness.children import SpawnedProcess


def test_exit_code_is_reported() -> None:
    child = SpawnedProcess([sys.executable, "-c", "raise SystemExit(3)"], {})
    assert child.wait(10) == 3
    assert child.poll() == 3


def test_stop_terminates_a_child_that_does_not_end() -> None:
    child = SpawnedProcess([sys.executable, "-c", "import time; time.sleep(60)"], {})
    assert child.poll() is None
    child.stop(grace_s=0.2)
    assert child.returncode is not None and child.returncode < 0
