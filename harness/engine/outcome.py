"""What a load run ends with (`LoadOutcome`), how it is asked to stop (`StopRequest`), and the
callbacks it makes while it runs (`Watch`, `Progress`): plain data, no Locust, so that the run
layer and its plans can be imported (and tested) without it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harness.engine.collector import LoadAggregator


@dataclass
class LoadOutcome:
    """What a finished load run measured, merged over every process."""

    aggregator: LoadAggregator
    elapsed_s: float
    workers: int
    missing_finals: list[str]
    aborted: str | None = None  #: why an abort gate stopped the run early
    aborted_at_s: float | None = None
    interrupted: str | None = None  #: the signal that stopped the run (SIGINT, SIGTERM)
    refused: list[dict[str, str]] = field(default_factory=list)  #: workers turned away


@dataclass
class StopRequest:
    """Set from a signal handler: the run stops its users and still writes what it measured."""

    reason: str | None = None

    def request(self, reason: str) -> None:
        """Ask the run to stop (idempotent)."""
        self.reason = self.reason or reason


Progress = Callable[[LoadAggregator, float, int], None]
#: Called about every second during a run; a returned reason stops the run early.
Watch = Callable[[LoadAggregator, float], str | None]
