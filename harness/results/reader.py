"""The one reader of a stored run folder: gates (`RunData.load`), the reports (`read_run`),
`harness gates`, `harness compare` and drill replay all read a folder through `read_folder`.

It reads run.json first and refuses a folder of a newer schema (`harness.results.schema`), then
histograms/, counts.json, timeline.json and health.json; steps.jsonl is streamed on demand
(`StoredFolder.records`). Every file goes through `harness.folder_io` (size caps, one line at a
time, non-regular files refused). Two ways of reading, one code path:

- judging (`judging=True`, what gates read): run.json and histograms/ must be there (else exit
  2 saying so); a damaged file raises `DamagedRunFolder` (exit 2), an unreadable one
  `UnreadableRunFolder` (exit 3); damaged lines of steps.jsonl are skipped and said in
  `warnings`, and a steps.jsonl with no readable line at all raises.
- forgiving (the reports): every file is optional; what could not be read is named in `missing`
  (file → why) and never raised, so a run killed half-way still gets its report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from harness.errors import DamagedRunFolder, HarnessError, UsageError
from harness.folder_io import (
    LineTally,
    counts_document,
    health_document,
    parsed,
    present,
    run_meta,
    timeline_document,
)
from harness.records import StepRecord
from harness.results.schema import (
    COUNTS_FILE,
    FILES,
    HEALTH_FILE,
    HISTOGRAMS,
    RUN_FILE,
    STEPS_FILE,
    TIMELINE_FILE,
    UNVERSIONED,
    VITALS,
    config_hash,
    schema_of,
)
from harness.results.steps import Record, read_records
from harness.telemetry.hdr import INDEX_FILE, HdrStore

T = TypeVar("T")

NOT_RECORDED = "not recorded"


@dataclass
class StoredFolder:
    """What one run folder holds, as read by `read_folder`."""

    path: Path
    judging: bool
    meta: dict[str, Any] = field(default_factory=dict)
    schema: int = UNVERSIONED
    hdr: HdrStore | None = None
    vitals: HdrStore | None = None  #: Web Vitals of web steps (None: none recorded)
    counts: dict[str, Any] | None = None
    timeline: list[dict[str, Any]] | None = None
    health: dict[str, Any] | None = None
    #: forgiving: file → why it was not read (`not recorded` when it is not there)
    missing: dict[str, str] = field(default_factory=dict)
    #: judging: what of steps.jsonl was damaged (and skipped), one line each
    warnings: list[str] = field(default_factory=list)
    #: a load run's folder: counts and latencies come from counts.json and histograms/
    summarised: bool = False

    @property
    def config_hash(self) -> str:
        """The run's config hash (see `harness.results.schema.config_hash`)."""
        return config_hash(self.meta)

    def document(self, name: str, check: Callable[[Any], T]) -> T | None:
        """One JSON document of the folder, checked by `check`; None when it is not there (and,
        forgiving, when it cannot be read: then named in `missing`)."""
        try:
            return parsed(self.path / name, check)
        except FileNotFoundError:
            if not self.judging:
                self.missing[name] = NOT_RECORDED
        except HarnessError as exc:
            if self.judging:
                raise
            self.missing[name] = f"unreadable: {exc}"
        return None

    def records(self, *, passed_limit: int | None = None) -> Iterator[Record]:
        """The records of steps.jsonl, streamed (see `read_records`; `passed_limit` keeps every
        failure and at most that many passed steps and iterations each). Nothing when there is
        no steps.jsonl. What was damaged is said once the stream ends, as the class says."""
        tally = LineTally(self.path / STEPS_FILE)
        steps = 0
        try:
            for record in read_records(self.path, passed_limit=passed_limit, tally=tally):
                steps += isinstance(record, StepRecord)
                yield record
        except FileNotFoundError:
            if not self.judging:
                self.missing[STEPS_FILE] = NOT_RECORDED
            return
        except HarnessError as exc:  # not a regular file, or an I/O error: keep what came before
            if self.judging:
                raise
            self.missing[STEPS_FILE] = f"unreadable after {steps} steps: {exc}"
        self._damaged_lines(tally)

    def _damaged_lines(self, tally: LineTally) -> None:
        if self.judging:
            warning = tally.warning()
            if warning is None:
                return
            if tally.lines == 0:
                raise DamagedRunFolder(
                    f"{tally.path} holds no readable record ({warning}): the run folder is "
                    "damaged. Restore the file, or remove it to judge on counts.json and "
                    "histograms/ alone"
                )
            if warning not in self.warnings:
                self.warnings.append(warning)
            return
        warning = tally.warning(named=False)
        if warning is not None:  # shown under "Not recorded": the skipped lines may be failures
            what = "unreadable" if tally.lines == 0 else "partly read"
            self.missing.setdefault(STEPS_FILE, f"{what}: {warning}")

    def problems(self) -> list[str]:
        """Forgiving: `file: why` for each file that is there but could not be read."""
        return [f"{name}: {why}" for name, why in self.missing.items() if why != NOT_RECORDED]

    def order_missing(self) -> None:
        """Put `missing` in the folder's file order (then any other file)."""
        rank = {name: i for i, name in enumerate(FILES)}
        ordered = sorted(self.missing.items(), key=lambda kv: rank.get(kv[0], len(FILES)))
        self.missing.clear()
        self.missing.update(ordered)


def read_folder(path: Path, *, judging: bool = False) -> StoredFolder:
    """Read a run folder's run.json, histograms/, counts.json, timeline.json and health.json
    (steps.jsonl on demand), judging or forgiving as the module says. Raises `UsageError`
    (exit 2) for a folder of a newer schema than this harness reads, and, judging, for one that
    holds no run.json and histograms/."""
    folder = StoredFolder(path=path, judging=judging)
    index = path / HISTOGRAMS / INDEX_FILE
    if judging and (not present(path / RUN_FILE) or not present(index)):
        raise UsageError(
            f"{path} is not the folder of a load or rehearsal run (no run.json and "
            "histograms/): give a folder such as results/<run-id>"
        )
    folder.meta = folder.document(RUN_FILE, run_meta) or {}
    folder.schema = schema_of(folder.meta, path / RUN_FILE)
    folder.summarised = (path / COUNTS_FILE).is_file() and (path / HISTOGRAMS).is_dir()
    if present(index):
        try:
            folder.hdr = HdrStore.read(path / HISTOGRAMS)
        except HarnessError as exc:
            if judging:
                raise
            folder.missing[HISTOGRAMS] = f"unreadable: {exc}"
    else:
        folder.missing[HISTOGRAMS] = NOT_RECORDED
    if present(path / VITALS / INDEX_FILE):
        try:
            folder.vitals = HdrStore.read(path / VITALS)
        except HarnessError as exc:
            if judging:
                raise
            folder.missing[VITALS] = f"unreadable: {exc}"
    folder.counts = folder.document(COUNTS_FILE, counts_document)
    folder.timeline = folder.document(TIMELINE_FILE, timeline_document)
    folder.health = folder.document(HEALTH_FILE, health_document)
    return folder
