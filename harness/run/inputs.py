"""What a run reads before it starts, from its request: its journeys (discovered and selected)
and the folder its results go to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.config import HarnessConfig
from harness.errors import UsageError
from harness.journey import Journey, discover, select
from harness.results import check_folder
from harness.run.request import RunRequest


@dataclass(frozen=True)
class RunInputs:
    """Journeys, seed and results folder of a run."""

    request: RunRequest
    journeys: list[Journey]
    journey_paths: list[Path]

    @property
    def config(self) -> HarnessConfig:
        """The validated configuration (as the request holds it: read once)."""
        return self.request.config

    @property
    def seed(self) -> int:
        """The run's synthetic-data seed."""
        return self.request.seed

    @property
    def results_root(self) -> Path:
        """Where the run folder goes."""
        return self.request.results_root


def run_inputs(request: RunRequest, *, select_journeys: bool = True) -> RunInputs:
    """The journeys of `request`; raises `UsageError` when none matches, or when the results
    folder cannot be made."""
    sides = request.sides
    if sides.regressions and not sides.sandbox:
        raise UsageError("--regression needs --sandbox (it configures the bundled sandbox)")
    paths = list(request.journey_paths)
    found = discover(paths)
    journeys = select(found, request.keyword) if select_journeys else found
    workload = request.shape.workload
    if workload is not None:  # the journeys the recorded traffic took, and only those
        journeys = [j for j in journeys if j.name in workload.mix]
        if not journeys:
            raise UsageError(
                f"none of the workload's journeys ({', '.join(workload.mix)}) is among the "
                "selected journeys; point --journeys at the journeys it was imported with"
            )
    if not journeys:
        where = ", ".join(str(p) for p in paths)
        matching = f" matching -k {request.keyword!r}" if request.keyword else ""
        raise UsageError(f"no journeys found in {where}{matching}")
    check_folder(request.results_root)  # a folder that cannot be made is the user's to fix: exit 2
    return RunInputs(request, journeys, paths)
