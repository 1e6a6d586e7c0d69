"""The `cpu:` regression: CPU burnt for a request off its path, so that its response time does
not change (until the cores saturate) and only the process's CPU shows it.

Each burn runs in a worker thread hashing a 64 KB buffer until the thread has used its seconds
of CPU; `hashlib` releases the GIL on buffers over 2 KB, so the event loop keeps answering."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor

__all__ = ["burn", "burn_later", "settled", "stop_burning"]

_BUFFER = bytes(64 * 1024)
_EXECUTOR: ThreadPoolExecutor | None = None
_PENDING: set[asyncio.Future[None]] = set()


def burn(seconds: float) -> None:
    """Use `seconds` of this thread's CPU time."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        hashlib.sha256(_BUFFER).digest()


def burn_later(seconds: float) -> None:
    """Burn `seconds` of CPU in a worker thread; returns at once (call within the event loop).
    The pool has one thread per core: past that, burns queue, as saturated work does."""
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="burn")
    future = asyncio.get_running_loop().run_in_executor(_EXECUTOR, burn, seconds)
    _PENDING.add(future)
    future.add_done_callback(_PENDING.discard)


async def settled() -> None:
    """Wait until every burn scheduled so far has used its CPU."""
    await asyncio.gather(*_PENDING)


def stop_burning() -> None:
    """Drop the burns still queued (the server is stopping: nobody will see their CPU)."""
    if _EXECUTOR is not None:
        _EXECUTOR.shutdown(wait=False, cancel_futures=True)
