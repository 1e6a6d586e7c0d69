"""What a mode adds to the one session (`harness.run.session.Session`): its targets, amendments
to the engine's plan, a live watch, more record sinks, and the judge of the finished run.

Load, rehearse, a flag matrix, rollout and a drill's runs are each a `RunPlan`; the session does
everything else (inputs, run folder, tracing, the engine, measurements, reports) the same way.
A plan keeps what it learns during the run (a rollout's controller) as its own attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from harness.engine.plan import LoadPlan
from harness.run.request import RunRequest
from harness.targets import Target

if TYPE_CHECKING:
    from harness.engine.collector import LoadAggregator
    from harness.engine.outcome import LoadOutcome, Watch
    from harness.engine.summary import Health
    from harness.results import RunDirectory
    from harness.runtime import RunSink


class RunPlan(Protocol):
    """A mode, as the session runs it."""

    #: run.json's `mode` (a drill's runs are rehearsals)
    mode: str
    #: render the reports once judged; a drill renders them itself after its own verdict
    reports: bool

    def targets(self, request: RunRequest, stack: ExitStack, run_path: Path) -> list[Target]:
        """The target, or baseline and candidate; whatever is started stops when `stack`
        closes, and writes its spans under `run_path`."""
        ...

    def amend(self, plan: LoadPlan) -> LoadPlan:
        """The engine's plan with this mode's changes (flags per target, cohort routing)."""
        ...

    def watch(self, targets: list[Target], run: RunDirectory) -> Watch | None:
        """Called about every second during the run; a reason stops it early."""
        ...

    def sinks(self) -> Sequence[RunSink]:
        """More sinks for every record of this process (asked after `watch`)."""
        ...

    def judge(
        self, run: RunDirectory, aggregator: LoadAggregator, outcome: LoadOutcome, health: Health
    ) -> int:
        """The exit code, from the complete run folder (every part flushed and merged)."""
        ...


class BasePlan:
    """Defaults of a `RunPlan`: no amendment but the request's flags, no watch, no sinks."""

    mode = "load"
    reports = True

    def __init__(self, request: RunRequest) -> None:
        self.request = request

    def targets(self, request: RunRequest, stack: ExitStack, run_path: Path) -> list[Target]:
        raise NotImplementedError

    def amend(self, plan: LoadPlan) -> LoadPlan:
        """Every target gets the request's feature flags (`--flags`)."""
        return with_flags(plan, [self.request.sides.flags] * len(plan.targets))

    def watch(self, targets: list[Target], run: RunDirectory) -> Watch | None:
        return None

    def sinks(self) -> Sequence[RunSink]:
        return ()


def with_flags(plan: LoadPlan, per_target: Sequence[dict[str, str]]) -> LoadPlan:
    """`plan` giving each target its feature-flag values; unchanged if all sets are empty."""
    if not any(per_target):
        return plan
    return plan.model_copy(update={"flags": list(per_target[: len(plan.targets)])})
