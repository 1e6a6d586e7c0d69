"""steps.jsonl read back: the records of a stored run, streamed in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from harness.folder_io import LineTally, lines, loads_line
from harness.records import IterationRecord, StepRecord
from harness.results.schema import STEPS_FILE

Record = StepRecord | IterationRecord


def read_records(
    run_dir: Path, *, passed_limit: int | None = None, tally: LineTally | None = None
) -> Iterator[Record]:
    """The records of a stored run, streamed in bounded memory (see `harness.folder_io`): a
    torn last line is skipped, a damaged line (too long, not JSON, not a record) is skipped and
    counted in `tally`. With `passed_limit`, passed steps and passed iterations beyond that many
    each are skipped unread (every failure is kept): what a report needs of a long load run.
    Raises `FileNotFoundError` when there is no steps.jsonl, `DamagedRunFolder` when it is not a
    regular file."""
    tally = tally if tally is not None else LineTally(run_dir / STEPS_FILE)
    passed = {True: 0, False: 0}  # iteration? → passed records kept
    for line in lines(run_dir / STEPS_FILE, tally):
        if passed_limit is not None and b'"outcome":"passed"' in line:
            kind = b'"kind":"iteration"' in line
            if passed[kind] >= passed_limit:
                continue
            passed[kind] += 1
        record = _record(line)
        if record is None:
            tally.lines -= 1
            tally.damaged += 1
            continue
        yield record


def _record(line: bytes) -> Record | None:
    data = loads_line(line)
    if data is None:
        return None
    try:
        if data.get("kind") == "iteration":
            return IterationRecord.model_validate(data)
        return StepRecord.model_validate(data)
    except ValueError:  # pydantic's ValidationError: a record of the wrong shape
        return None
