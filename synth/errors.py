"""Exceptions raised by `synth`.

Bad input from whoever runs the harness is a `SynthUsageError` (a `harness.errors.UsageError`,
so the CLI maps it to exit code 2). A feeder that ran out of records is a `FeederExhausted`:
not a usage error, but a condition the journey runtime decides about (stop the virtual user,
fail the step, or end the run).
"""

from __future__ import annotations

from harness.errors import UsageError


class SynthUsageError(UsageError):
    """A synthetic-data argument (kind, seed, profile, locale, feeder file or mode) is invalid."""


class FeederExhausted(Exception):
    """A feeder that hands out each record at most once has handed out all of its records.

    Raised by feeders in the `sequential` and `unique` modes; `path` names the data file,
    `count` how many records this worker's shard held.
    """

    def __init__(self, *, path: str, count: int, mode: str, worker_index: int, worker_count: int):
        shard = f" (shard {worker_index + 1} of {worker_count})" if worker_count > 1 else ""
        super().__init__(
            f"feeder {path!r} is exhausted: all {count} records{shard} were used once in "
            f"{mode!r} mode; add records, use fewer iterations, or choose mode 'circular', "
            f"'shuffle' or 'random' to reuse records"
        )
        self.path = path
        self.count = count
        self.mode = mode
        self.worker_index = worker_index
        self.worker_count = worker_count
