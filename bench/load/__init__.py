"""Benchmark: what the harness costs over raw Locust, and whether its numbers are honest.

    .venv/bin/python bench/load_overhead.py [--quick] [--json] [--parts ab,procs,c,d,e]
    .venv/bin/python -m bench.load [...]        (the same, from the repository's root)

One module per part (see bench/README.md for how to read them):

  ab     (ab.py) raw Locust FastHttpUser vs a harness API journey doing the same one GET per
         step, same target, users and time, one process each, alternated (goal: harness >=
         0.85x raw).
  procs  (procs.py) `harness load --processes 2` vs one process (goal >= 1.7x; bounded by 2
         cores here).
  c      (latency.py) latency accuracy against a fixed +50 ms route: harness HDR p50/p99 vs raw
         Locust's and wrk's (goal: within 3 ms).
  d      (stall.py) a 1 s SIGSTOP of the target during an arrival-rate harness run vs raw
         Locust's closed model: the harness's p99 must show the stall.
  e      (browser.py) browser: journeys/s with 2 browser users; PSS per open Chromium context;
         API throughput with 2 browser users in the run vs without (goal >= 0.9x).

Targets: nginx (Debian package `nginx`, started here on a loopback port with its own temporary
config, pid and log files) serving a tiny static JSON file; without nginx, the sandbox's
`/api/v1/health`. wrk (Debian package `wrk`) is optional. Nothing is installed by this bench;
every process it starts is stopped by PID (also on failure); load goes only to 127.0.0.1.
"""

from __future__ import annotations

from dataclasses import dataclass

PARTS = ("ab", "procs", "c", "d", "e")


@dataclass(frozen=True)
class Settings:
    """How long and how often each part runs: full, or `--quick` (one pair each)."""

    quick: bool
    users: int  # users of the throughput runs
    ab_duration: float
    pairs: int
    proc_pairs: int
    mix_pairs: int
    c_duration: float
    e_duration: float
    contexts: tuple[int, ...]
    d_durations: tuple[float, ...]

    @classmethod
    def of(cls, *, quick: bool, users: int) -> Settings:
        return cls(
            quick=quick,
            users=users,
            ab_duration=5.0 if quick else 15.0,
            pairs=1 if quick else 3,
            proc_pairs=1 if quick else 2,
            mix_pairs=1 if quick else 2,
            c_duration=5.0 if quick else 15.0,
            e_duration=6.0 if quick else 20.0,
            contexts=(1, 3) if quick else (1, 5, 10),
            d_durations=(10.0,) if quick else (10.0, 60.0),
        )
