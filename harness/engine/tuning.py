"""How a load process tunes itself: its garbage collector, and the cores it leaves to Chromium."""

from __future__ import annotations

import gc

from harness.engine.plan import parse_cpus

#: The collector's first threshold in a load process (CPython's default is 700 allocations).
GC_THRESHOLDS = (20_000, 10, 10)


#: the collector's thresholds before a load run tuned them, while one is running
_before: tuple[int, int, int] | None = None


def tune_garbage_collector() -> None:
    """Collect less often in a load process: every iteration allocates a few hundred short-lived
    containers (records, contexts, spans), so with CPython's default threshold a young-generation
    collection ran every few iterations and scanned every span waiting for its batch. Measured
    here, a one-request journey at load with tracing: 134 µs of CPU an iteration instead of 150.
    Objects alive at start-up (modules, Locust, gevent) are frozen out of every collection until
    the run is over (`restore_garbage_collector`)."""
    global _before
    if _before is None:
        _before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def restore_garbage_collector() -> None:
    """Undo `tune_garbage_collector` once this process's load run is over: what it froze goes
    back to the collector, and the thresholds are what they were. A process that runs several
    loads (a drill's runs, each in this process) otherwise froze whatever the previous run still
    held at the next one's start, and a frozen cycle is never collected: a drill's RSS grew
    ~70 MB a run, the runs' HDR histograms (a histogram and its encoder refer to each other)
    among it."""
    global _before
    gc.unfreeze()
    if _before is not None:
        gc.set_threshold(*_before)
        _before = None


def browser_cpus(spec: str = "auto") -> set[int] | None:
    """Cores for Chromium (`--browser-cpus`): by default the last core when there are at least
    two, so that browser CPU does not starve the load generator (measured: it otherwise cuts
    API throughput by 70%); None for no pinning. Listed cores this process may not use are
    left out."""
    import os

    try:
        available = set(os.sched_getaffinity(0))
    except AttributeError:
        return None
    wanted = parse_cpus(spec)
    if wanted is None:
        return {max(available)} if len(available) >= 2 else None
    return (wanted & available) or None


def keep_off(cpus: set[int] | None) -> None:
    """Keep this (generator) process off Chromium's cores, when it has others: the scheduler
    otherwise moves it onto them whenever its own core is busy with something else."""
    import os

    if not cpus or not hasattr(os, "sched_setaffinity"):
        return
    rest = set(os.sched_getaffinity(0)) - cpus
    if rest:
        os.sched_setaffinity(0, rest)
