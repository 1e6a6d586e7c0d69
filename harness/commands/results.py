"""`harness results prune`: remove old run folders from the results root."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.config import load_config
from harness.errors import HarnessError
from harness.exitcodes import ExitCode
from harness.prune import parse_age, remove, select, stored_runs
from harness.redact import redact
from harness.text import plural


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`harness results prune` and its options."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    prune = actions.add_parser(
        "prune",
        help="remove old run folders (only folders holding run.json, never through a link)",
    )
    prune.add_argument("--keep", type=int, metavar="N", help="keep the N newest runs")
    prune.add_argument(
        "--older-than", metavar="AGE", help="remove runs started more than AGE ago (7d, 12h, 2w)"
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="list what would be removed, remove nothing"
    )
    prune.add_argument("--results", type=Path, metavar="DIR", help="the results root")
    prune.add_argument("--config", type=Path, metavar="FILE", help="harness.toml to use")


def prune(options: argparse.Namespace) -> int:
    """Remove (or with --dry-run, list) the run folders beyond --keep / older than
    --older-than; returns the exit code."""
    older_than_s = parse_age(options.older_than) if options.older_than is not None else None
    loaded = load_config(options.config)
    root = Path(options.results or (loaded.root / loaded.config.results)).resolve()
    runs = list(stored_runs(root))
    chosen = select(runs, keep=options.keep, older_than_s=older_than_s)
    verb = "would remove" if options.dry_run else "removed"
    freed = 0
    for run in chosen:
        if not options.dry_run:
            remove(root, run)
        freed += run.bytes
        print(f"  {verb} {run.path.name} ({run.status}, {_size(run.bytes)})")
    kept = len(runs) - len(chosen)
    print(
        f"{root}: {verb} {plural(len(chosen), 'run folder')} ({_size(freed)}), "
        f"kept {plural(kept, 'run folder')}"
    )
    if chosen and not options.dry_run:
        _forget(root, loaded.config.history)
    return ExitCode.PASSED


def _forget(root: Path, configured: str | None) -> None:
    """Take the runs whose folders under `root` are gone out of the history, when there is one
    (never creating it): the history indexes run folders, and a pruned folder's row would point
    nowhere. A history that
    cannot be used is a warning: the folders are gone either way, and `harness history index`
    forgets them later."""
    from harness.history.index import forget, gone
    from harness.history.store import DEFAULT_FILE, HistoryStore, history_url

    if not configured and not (root / DEFAULT_FILE).is_file():
        return
    url = history_url(configured, root)
    try:
        store = HistoryStore.open(url)
        try:
            count = forget(store, gone(store, root))
        finally:
            store.close()
    except HarnessError as exc:
        print(
            f"warning: the history still lists the removed runs ({exc}); "
            f"`harness history index {root}` forgets them",
            file=sys.stderr,
        )
        return
    print(f"  forgot {plural(count, 'run')} in the history ({redact(url)})")


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    value = float(count)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:.1f} {unit}"
