"""How a load process's records reach its collector and Locust's own statistics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.engine.collector import LoadCollector
from harness.records import IterationRecord, Outcome, StepRecord
from harness.runtime import RunSink


class LocustStatsSink:
    """Forwards records to the collector and reports each step to Locust's request event, so
    Locust's own statistics and web UI show journeys and steps. `extra` sinks get every record
    too (OTel metrics, a rollout's stage window): given by the run, never a module global."""

    def __init__(
        self, collector: LoadCollector, environment: Any, extra: Sequence[RunSink] = ()
    ) -> None:
        self.collector = collector
        self.request_event = environment.events.request
        self.extra = tuple(extra)

    def step_finished(self, record: StepRecord) -> None:
        """Record the step and fire `events.request` for it."""
        self.collector.step_finished(record)
        for sink in self.extra:
            sink.step_finished(record)
        failed = record.outcome is Outcome.FAILED
        self.request_event.fire(
            request_type=record.touchpoint.value,
            name=f"{record.journey} › {record.step}",
            start_time=record.started_at,
            response_time=record.duration_ms,
            response_length=0,
            response=None,
            context={},
            exception=StepFailure(f"{record.error_kind}: {record.message}") if failed else None,
        )

    def iteration_finished(self, record: IterationRecord) -> None:
        """Record the iteration."""
        self.collector.iteration_finished(record)
        for sink in self.extra:
            sink.iteration_finished(record)


class StepFailure(Exception):
    """How a failed step appears in Locust's failure table."""
