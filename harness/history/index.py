"""Indexing runs: one run when it ends (`remember`, which never fails a run) and every run
folder of a results root (`rebuild`, `harness history index`)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.history.entry import RunEntry, entry_of
from harness.history.store import HistoryStore, history_url
from harness.redact import redact
from harness.results.schema import RUN_FILE

_BATCH = 200  #: entries written per transaction when rebuilding


def write_entries(store: HistoryStore, entries: Sequence[RunEntry]) -> None:
    """Insert or replace `entries` (by run id), with their series and gates, in one
    transaction."""
    from sqlalchemy import delete, insert

    from harness.history.tables import gates, runs, series

    if not entries:
        return
    ids = [e.run_id for e in entries]
    with store.connect() as connection:
        connection.execute(delete(series).where(series.c.run_id.in_(ids)))
        connection.execute(delete(gates).where(gates.c.run_id.in_(ids)))
        connection.execute(delete(runs).where(runs.c.run_id.in_(ids)))
        connection.execute(insert(runs), [e.row() for e in entries])
        rows = [{"run_id": e.run_id, **vars(s)} for e in entries for s in e.series]
        if rows:
            connection.execute(insert(series), rows)
        outcomes = [{"run_id": e.run_id, **vars(g)} for e in entries for g in e.gates]
        if outcomes:
            connection.execute(insert(gates), outcomes)


def forget(store: HistoryStore, run_ids: Sequence[str]) -> int:
    """Remove the runs `run_ids` (with their series and gates) from the store, in one
    transaction; returns how many runs it held."""
    from sqlalchemy import delete

    from harness.history.tables import gates, runs, series

    if not run_ids:
        return 0
    with store.connect() as connection:
        connection.execute(delete(series).where(series.c.run_id.in_(run_ids)))
        connection.execute(delete(gates).where(gates.c.run_id.in_(run_ids)))
        return int(connection.execute(delete(runs).where(runs.c.run_id.in_(run_ids))).rowcount)


def gone(store: HistoryStore, root: Path) -> list[str]:
    """The runs the store indexed from folders under `root` that are no longer there."""
    from sqlalchemy import select

    from harness.history.tables import runs

    base = root.resolve()
    with store.connect() as connection:
        rows = connection.execute(select(runs.c.run_id, runs.c.path)).all()
    return [
        run_id
        for run_id, path in rows
        if Path(path).is_relative_to(base) and not (Path(path) / RUN_FILE).is_file()
    ]


def remember(run_path: Path, configured: str | None, results_root: Path) -> RunEntry | None:
    """Index one finished run. Never raises: the run folder is the truth and the history only
    an index, so a failure here is a warning on stderr (and `harness history index` catches
    up later). Returns the entry written, or None."""
    try:
        entry = entry_of(run_path)
        store = HistoryStore.open(history_url(configured, results_root))
        try:
            write_entries(store, [entry])
            if entry.mode == "rehearse":
                from harness.history.compared import write_comparison

                write_comparison(store, entry, run_path)
        finally:
            store.close()
    except Exception as exc:
        print(
            f"warning: the run was not added to the history ({redact(str(exc)).splitlines()[0]}); "
            f"its folder {run_path} is complete. Rebuild the history with "
            "`harness history index`",
            file=sys.stderr,
            flush=True,
        )
        return None
    return entry


@dataclass(frozen=True)
class Rebuilt:
    """What `rebuild` did."""

    indexed: int
    skipped: list[str]
    elapsed_s: float
    forgotten: int = 0  #: runs indexed from folders under the root that are gone


def run_folders(root: Path) -> Iterable[Path]:
    """The run folders under `root` (those holding a run.json), in name order: directly under
    it, and one level down in a folder that is not a run's (a drill's runs)."""
    for path in sorted(root.iterdir()):
        if (path / RUN_FILE).is_file():
            yield path
        elif path.is_dir() and not path.is_symlink():
            yield from (p for p in sorted(path.iterdir()) if (p / RUN_FILE).is_file())


def rebuild(store: HistoryStore, root: Path) -> Rebuilt:
    """Index every run folder under `root` (replacing what the store held of them) and forget
    the runs indexed from under `root` whose folders are gone (pruned, moved, deleted); a folder
    that cannot be read is skipped and named."""
    started = time.perf_counter()
    skipped: list[str] = []
    batch: list[RunEntry] = []
    indexed = 0
    for folder in run_folders(root):
        try:
            batch.append(entry_of(folder))
        except (HarnessError, OSError, ValueError) as exc:
            skipped.append(f"{folder.name}: {redact(str(exc)).splitlines()[0]}")
            continue
        if len(batch) >= _BATCH:
            write_entries(store, batch)
            indexed += len(batch)
            batch = []
    write_entries(store, batch)
    indexed += len(batch)
    forgotten = forget(store, gone(store, root))
    return Rebuilt(indexed, skipped, time.perf_counter() - started, forgotten)
