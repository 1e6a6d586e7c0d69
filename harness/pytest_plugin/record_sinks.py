"""Where the records of a `pytest --harness` session go: `Ledger` keeps every record in the
process that owns the run folder; `Outbox` holds an xdist worker's records until its test report
carries them to the controller."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.records import IterationRecord, StepRecord


def _record_json(record: StepRecord | IterationRecord) -> str:
    from harness.records import record_json

    return record_json(record)


class Ledger:
    """Every record of the session, in the process that owns the run folder (a `RunSink`)."""

    def __init__(self) -> None:
        self.steps: list[StepRecord] = []
        self.iterations: list[IterationRecord] = []

    def step_finished(self, record: StepRecord) -> None:
        """Keep a step record."""
        self.steps.append(record)

    def iteration_finished(self, record: IterationRecord) -> None:
        """Keep an iteration record."""
        self.iterations.append(record)


class Outbox:
    """A worker's `RunSink`: holds the records of the running test until its report leaves."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def step_finished(self, record: StepRecord) -> None:
        """Queue a step record."""
        self.lines.append(_record_json(record))

    def iteration_finished(self, record: IterationRecord) -> None:
        """Queue an iteration record."""
        self.lines.append(_record_json(record))

    def take(self) -> list[str]:
        """The queued lines, emptying the queue."""
        lines, self.lines = self.lines, []
        return lines
