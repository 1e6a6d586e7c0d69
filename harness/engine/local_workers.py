"""The worker processes of a master: starting the local ones of `--processes N` (the cluster
key in their environment), waiting until the expected workers are ready, and stopping the local
ones at the end."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import gevent

from harness.children import SpawnedProcess
from harness.engine.cluster_auth import KEY_ENV
from harness.errors import HarnessError
from harness.lifetime import child_env
from harness.text import plural

if TYPE_CHECKING:
    from harness.engine.cluster import KeyedMasterRunner
    from harness.engine.outcome import StopRequest

WORKER_WAIT_S = 60.0


def wait_for_workers(
    runner: KeyedMasterRunner,
    expect: int,
    children: Sequence[SpawnedProcess],
    stop: StopRequest | None,
    where: str,
) -> None:
    """Until `expect` workers are ready; raises `HarnessError` on a stop request, a local worker
    that exited, or when they have not all come within `WORKER_WAIT_S`."""
    deadline = time.perf_counter() + WORKER_WAIT_S
    while len(runner.clients.ready) < expect:
        if stop is not None and stop.reason is not None:
            raise HarnessError(
                f"stopped by {stop.reason} while waiting for workers "
                f"({len(runner.clients.ready)} of {expect} connected); nothing was run"
            )
        exited = [c for c in children if c.poll() is not None]
        if exited:
            raise HarnessError(
                f"a worker process exited before the run started (code "
                f"{exited[0].returncode}); see its output above"
            )
        if time.perf_counter() > deadline:
            refused = (
                f"; {len(runner.refused)} refused (WORKER REFUSED above)" if runner.refused else ""
            )
            raise HarnessError(
                f"only {len(runner.clients.ready)} of {plural(expect, 'worker')} "
                f"connected to the master on {where} within {WORKER_WAIT_S:.0f} s" + refused
            )
        gevent.sleep(0.1)


def spawn_local_workers(
    count: int, argv: Sequence[str], key: str
) -> Callable[[int], list[SpawnedProcess]]:
    """For `--processes N`: start N `harness load --worker` processes on loopback, given the
    cluster key in their environment (never on their command line, which `ps` shows); each one
    ends when this process does (`harness.lifetime`)."""

    def spawn(port: int) -> list[SpawnedProcess]:
        command = [
            sys.executable,
            "-m",
            "harness.cli",
            "load",
            "--worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            str(port),
            *argv,
        ]
        # each worker dies with this process, even when it is killed by SIGKILL
        env = child_env({**os.environ, "PYTHONUNBUFFERED": "1", KEY_ENV: key})
        return [SpawnedProcess(command, env) for _ in range(count)]

    return spawn


def stop_children(children: list[SpawnedProcess]) -> None:
    for child in children:
        child.stop()
