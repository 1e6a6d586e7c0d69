"""One stored run folder, read once and forgivingly, for the reports.

Every file is optional: a run killed half-way may hold only `run.json` and part of
`steps.jsonl`. What could not be read is listed in `missing` (and shown as "not recorded"),
never raised.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.folder_io import json_object
from harness.gates.verdict import Verdict
from harness.records import IterationRecord, Outcome, StepRecord
from harness.results.liveness import KILLED, gone_words, process_alive
from harness.results.reader import NOT_RECORDED, read_folder
from harness.results.schema import VERDICT_FILE, config_hash
from harness.rollout.stages import ROLLOUT_FILE, RolloutRecord
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey
from harness.telemetry.latency import SHOWN, Distribution
from harness.workload import RUN_FILE as WORKLOAD_FILE

__all__ = [
    "PERCENTILES",
    "Distribution",
    "JourneyTally",
    "RunFolder",
    "hdr_distribution",
    "read_run",
    "unfinished_text",
]

#: a rehearsal's comparison with the runs before it (`harness.history.compared` writes it)
COMPARED_FILE = "history.json"
PERCENTILES = SHOWN  #: the percentiles the reports show


@dataclass(frozen=True)
class JourneyTally:
    """Iterations and failed iterations of one journey on one target, and its iterations cut
    off by the end of a load (they finished no record)."""

    iterations: int
    failures: int
    cut_off: int = 0


PASSED_KEPT = 20_000  #: passed steps (and iterations) a load run's report reads


@dataclass
class RunFolder:
    """What the reports read from `results/<run-id>/`."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    iterations: list[IterationRecord] = field(default_factory=list)
    hdr: HdrStore | None = None
    vitals: HdrStore | None = None  #: Web Vitals of web steps (`vitals/`), if recorded
    counts: dict[str, Any] | None = None
    timeline: list[dict[str, Any]] | None = None
    health: dict[str, Any] | None = None
    rollout: dict[str, Any] | None = None  #: rollout.json, checked against its model
    workload: dict[str, Any] | None = None  #: workload.json of a `load --workload` run
    verdict: Verdict | None = None
    compared: dict[str, Any] | None = None  #: history.json, written by the run history
    missing: dict[str, str] = field(default_factory=dict)  #: file → why it was not read
    warnings: list[str] = field(default_factory=list)  #: what was damaged, for stderr
    _durations_cache: dict[SeriesKey, list[float]] | None = field(default=None, repr=False)
    _distributions: dict[SeriesKey, Distribution] = field(default_factory=dict, repr=False)

    @property
    def run_id(self) -> str:
        """The run's id (the folder name when run.json is missing)."""
        return str(self.meta.get("run_id") or self.path.name)

    @property
    def mode(self) -> str:
        """smoke, load or rehearse: from run.json, else guessed from the files present."""
        mode = self.meta.get("mode")
        if isinstance(mode, str) and mode:
            return mode
        if self.verdict is not None:
            return "rehearse"
        return "load" if self.hdr is not None or self.counts is not None else "smoke"

    @property
    def status(self) -> str:
        """passed, failed, aborted, error, running, `killed` (run.json says running, and its
        process on this host is gone), or `not recorded`."""
        status = str(self.meta.get("status") or "not recorded")
        if status == "running" and not process_alive(self.meta):
            return KILLED
        return status

    @property
    def reason(self) -> str | None:
        """Why the run did not finish, as run.json gives it (or, for a killed run, the reader)."""
        if self.status == KILLED:
            return gone_words(self.meta)
        reason = self.meta.get("reason")
        return str(reason) if reason else None

    @property
    def targets(self) -> list[str]:
        """Target names: baseline first, then candidate (or the one target)."""
        names: list[str] = []
        declared = self.meta.get("targets") or {}
        for role in ("baseline", "candidate", "target"):
            entry = declared.get(role)
            if isinstance(entry, dict) and entry.get("name"):
                names.append(str(entry["name"]))
        seen = {r.target for r in self.iterations} | {r.target for r in self.steps}
        if self.hdr is not None:
            seen |= {k.target for k in self.hdr}
        return names + sorted(seen - set(names))

    @property
    def config_hash(self) -> str:
        """The verdict's config hash, or the same hash computed from run.json's config."""
        if self.verdict is not None:
            return self.verdict.config_hash
        return config_hash(self.meta)

    def journeys(self) -> list[str]:
        """Every journey seen, in first-seen order."""
        found = dict.fromkeys(r.journey for r in self.steps)
        found.update(dict.fromkeys(r.journey for r in self.iterations))
        if self.hdr is not None:
            found.update(dict.fromkeys(k.journey for k in self.hdr))
        if self.counts is not None:
            found.update(dict.fromkeys(j["journey"] for j in self.counts.get("journeys", [])))
        return list(found)

    def step_order(self, journey: str) -> list[tuple[str, str]]:
        """(step, touchpoint) of a journey, in the order the journey runs them."""
        order: dict[tuple[str, str], int] = {}
        for r in self.steps:
            if r.journey == journey:
                order.setdefault((r.step, r.touchpoint.value), r.index)
        if self.hdr is not None:
            for k in self.hdr:
                if k.journey == journey and not k.is_iteration:
                    order.setdefault((k.step, k.touchpoint), len(order) + 1000)
        return sorted(order, key=lambda s: order[s])

    def tally(self, target: str, journey: str) -> JourneyTally:
        """Exact counts from counts.json when recorded, else from the iteration records."""
        if self.counts is not None:
            for j in self.counts.get("journeys", []):
                if j["target"] == target and j["journey"] == journey:
                    return JourneyTally(
                        int(j["iterations"]), int(j["failures"]), int(j.get("cut_off", 0))
                    )
        done = [r for r in self.iterations if r.target == target and r.journey == journey]
        return JourneyTally(len(done), sum(r.outcome is Outcome.FAILED for r in done))

    def distribution(self, key: SeriesKey) -> Distribution:
        """A series' latencies: from its HDR histogram in load runs, else from the records."""
        found = self._distributions.get(key)
        if found is None:
            if self.hdr is not None and self.hdr.count(key):
                found = hdr_distribution(self.hdr.histogram(key))
            else:
                found = Distribution.of(self._durations().get(key, []))
            self._distributions[key] = found
        return found

    def count(self, key: SeriesKey) -> int:
        """How many values a series holds (exact from HDR in load runs)."""
        if self.hdr is not None and self.hdr.count(key):
            return self.hdr.count(key)
        return len(self._durations().get(key, []))

    def series(self) -> list[SeriesKey]:
        """Every latency series: iterations and steps, per target."""
        keys = set(self._durations())
        if self.hdr is not None:
            keys |= {k for k in self.hdr if self.hdr.count(k)}
        return sorted(keys)

    def _durations(self) -> dict[SeriesKey, list[float]]:
        if self._durations_cache is None:
            found: dict[SeriesKey, list[float]] = defaultdict(list)
            for s in self.steps:
                key = SeriesKey(s.target, s.journey, s.step, s.touchpoint.value)
                found[key].append(s.duration_ms)
            for i in self.iterations:
                found[SeriesKey(i.target, i.journey, ITERATION, "")].append(i.duration_ms)
            self._durations_cache = dict(found)
        return self._durations_cache

    def failed_iterations(self) -> list[IterationRecord]:
        """Failed iterations in the order they happened."""
        failed = [r for r in self.iterations if r.outcome is Outcome.FAILED]
        return sorted(failed, key=lambda r: r.started_at)

    def artifact(self, recorded: str) -> Path | None:
        """Where an artifact recorded as `recorded` is now: under this folder's artifacts/
        (the run folder may have moved), else at the recorded path."""
        moved = self.path / "artifacts" / Path(recorded).name
        if moved.is_file():
            return moved
        original = Path(recorded)
        return original if original.is_file() else None


def unfinished_text(run: RunFolder, journey: str, target: str | None = None) -> str:
    """What a journey with no finished iteration did (on `target`, else on any): `none
    finished: 0 iterations, 2 cut off` when the end of the load stopped every one it started,
    `never ran: 0 iterations` when it started none."""
    targets = [target] if target is not None else run.targets
    cut = sum(run.tally(t, journey).cut_off for t in targets)
    started = cut or any(s.journey == journey and s.target in targets for s in run.steps)
    if not started:
        return "never ran: 0 iterations"
    return "none finished: 0 iterations" + (f", {cut:,} cut off" if cut else "")


def hdr_distribution(histogram: Any) -> Distribution:
    """The recorded values of an HDR histogram and their counts (see `recorded_values`)."""
    return Distribution.of_histogram(histogram)


def read_run(path: Path) -> RunFolder:
    """Read whatever a run folder holds through the one reader (`read_folder`, forgiving), in
    bounded memory: missing, damaged or unreadable files are noted in `missing` (and damaged
    lines of steps.jsonl in `warnings`), never raised. Raises `UsageError` only for a folder of
    a newer schema than this harness reads."""
    folder = read_folder(path)
    run = RunFolder(
        path=path,
        meta=folder.meta,
        hdr=folder.hdr,
        vitals=folder.vitals,
        counts=folder.counts,
        timeline=folder.timeline,
        health=folder.health,
        missing=folder.missing,
    )
    # A load run's counts and latencies come from counts.json and histograms/: of its passed
    # records a sample is enough (the impact map, step order), which keeps a long run's report
    # in bounded memory. Smoke runs have neither file and keep every record.
    for record in folder.records(passed_limit=PASSED_KEPT if folder.summarised else None):
        if isinstance(record, IterationRecord):
            run.iterations.append(record)
        else:
            run.steps.append(record)
    run.rollout = folder.document(ROLLOUT_FILE, _rollout)
    if run.mode != "rollout" and run.missing.get(ROLLOUT_FILE) == NOT_RECORDED:
        del run.missing[ROLLOUT_FILE]  # only staged rollouts have one
    run.compared = folder.document(COMPARED_FILE, json_object)
    if run.missing.get(COMPARED_FILE) == NOT_RECORDED:
        del run.missing[COMPARED_FILE]  # only indexed rehearsals have one
    run.workload = folder.document(WORKLOAD_FILE, json_object)
    if run.missing.get(WORKLOAD_FILE) == NOT_RECORDED:
        del run.missing[WORKLOAD_FILE]  # only runs of a workload model have one
    verdict = folder.document(VERDICT_FILE, json_object)
    if verdict is not None:
        try:
            run.verdict = Verdict.model_validate(verdict)
        except ValidationError as exc:
            run.missing[VERDICT_FILE] = f"unreadable: {exc.error_count()} invalid fields"
    folder.order_missing()
    run.warnings.extend(folder.problems())
    return run


def _rollout(data: Any) -> dict[str, Any]:
    """rollout.json, as its model writes it (the values in the types the report formats)."""
    return RolloutRecord.model_validate(data).model_dump(mode="json")
