"""`harness results prune`: remove old run folders from a results root.

Only folders that look like run folders are candidates: a real directory (not a symlink) right
under the root, holding a regular `run.json`. Nothing outside the root is touched, no symlink is
followed (a link under the root is neither removed nor entered), and a run still going on
(`running`, its process alive on this host) is kept whatever its age.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from harness import durations
from harness.errors import HarnessError, UsageError
from harness.folder_io import read_json
from harness.results import RUN_FILE
from harness.results.liveness import process_alive


def parse_age(text: str) -> float:
    """Seconds in an age such as `7d`, `12h`, `2w`, `1d12h`; raises `UsageError`."""
    age = durations.seconds(text)
    if age is None or text.strip().replace(".", "", 1).isdigit():  # a bare 7: days? hours?
        raise UsageError(
            f"--older-than {text!r}: give an age such as 7d, 12h, 2w or 1d12h "
            "(w weeks, d days, h hours, m minutes, s seconds)"
        )
    return age


@dataclass(frozen=True)
class StoredRun:
    """One run folder under the results root."""

    path: Path
    started: float  #: epoch seconds: run.json's start, else its modification time
    status: str
    bytes: int


def _regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _size(path: Path) -> int:
    """Bytes under `path`, counting links as themselves, never what they point to."""
    total = 0
    for folder, dirs, files in os.walk(path, followlinks=False):
        for name in dirs + files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def stored_runs(root: Path) -> Iterator[StoredRun]:
    """The run folders directly under `root` (real directories holding a regular run.json)."""
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue  # files, and symlinks whatever they point to
        path = Path(entry.path)
        run_file = path / RUN_FILE
        if not _regular_file(run_file):
            continue
        try:
            meta = read_json(run_file)  # bounded: a damaged run.json is a run of unknown age
        except (OSError, HarnessError):
            meta = {}
        if not isinstance(meta, dict):
            meta = {}
        if process_alive(meta):
            continue
        started = _started(meta.get("started_at"))
        if started is None:
            started = os.lstat(run_file).st_mtime
        yield StoredRun(path, started, str(meta.get("status") or "?"), _size(path))


def _started(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def select(
    runs: list[StoredRun],
    *,
    keep: int | None = None,
    older_than_s: float | None = None,
    now: float | None = None,
) -> list[StoredRun]:
    """The runs to remove: beyond the `keep` newest, and (when given) started more than
    `older_than_s` ago; oldest first."""
    if keep is None and older_than_s is None:
        raise UsageError("harness results prune: give --keep N, --older-than AGE, or both")
    if keep is not None and keep < 0:
        raise UsageError(f"--keep {keep}: give the number of newest runs to keep, 0 or more")
    newest_first = sorted(runs, key=lambda r: (r.started, r.path.name), reverse=True)
    chosen = newest_first[keep:] if keep is not None else newest_first
    if older_than_s is not None:
        cutoff = (time.time() if now is None else now) - older_than_s
        chosen = [r for r in chosen if r.started < cutoff]
    return chosen[::-1]


def remove(root: Path, run: StoredRun) -> None:
    """Remove one run folder, after checking again that it is a real directory right under
    `root` (a folder swapped for a link since it was listed is left alone)."""
    if run.path.parent.resolve() != root.resolve() or run.path.is_symlink():
        raise UsageError(f"refusing to remove {run.path}: not a run folder directly under {root}")
    # rmtree removes links inside the folder, never what they point to
    shutil.rmtree(run.path)
