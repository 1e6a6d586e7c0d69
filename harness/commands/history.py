"""`harness history`: the table of indexed runs (`--target`, `--journey`, `--step`, `--since`),
the trend report (`--html FILE`), and `harness history index DIR`, which rebuilds the index
from the run folders."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from harness import durations
from harness.config import load_config
from harness.errors import UsageError
from harness.exitcodes import ExitCode
from harness.text import plural

if TYPE_CHECKING:
    from harness.history.store import HistoryStore


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`harness history` in the CLI."""
    parser = commands.add_parser(
        "history", help="the run history: a table of runs, a trend report, or `index DIR`"
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`harness history` and its options."""
    parser.add_argument(
        "action",
        nargs="?",
        choices=["index"],
        help="`index DIR`: rebuild the history from the run folders under DIR",
    )
    parser.add_argument("folder", nargs="?", type=Path, metavar="DIR", help="with index")
    parser.add_argument("--target", metavar="T", help="only runs against this target")
    parser.add_argument("--journey", metavar="J", help="only this journey (one line per series)")
    parser.add_argument("--step", metavar="S", help="only this step (one line per series)")
    parser.add_argument("--mode", metavar="MODE", help="only runs of this mode (smoke, monitor…)")
    parser.add_argument("--since", metavar="AGE", help="only runs started within AGE (30d, 12h)")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write the trend report here")
    parser.add_argument("--results", type=Path, metavar="DIR", help="the results root")
    parser.add_argument("--config", type=Path, metavar="FILE", help="harness.toml to use")


def run(options: argparse.Namespace) -> int:
    """Print the history's table, write its trend report, or rebuild it; the exit code."""
    from harness.history.store import HistoryStore, history_url

    loaded = load_config(options.config)
    root = Path(options.results or (loaded.root / loaded.config.results))
    if options.action == "index":
        from harness.history.index import rebuild

        folder = options.folder or root
        if not folder.is_dir():
            raise UsageError(f"{folder} is not a folder of runs: give one such as results/")
        store = HistoryStore.open(history_url(loaded.config.history, folder))
        try:
            done = rebuild(store, folder)
        finally:
            store.close()
        for skipped in done.skipped:
            print(f"  skipped {skipped}", file=sys.stderr)
        print(
            f"{folder}: indexed {plural(done.indexed, 'run')} in {done.elapsed_s:.1f} s"
            + (f", skipped {len(done.skipped)}" if done.skipped else "")
            + (
                f", forgot {plural(done.forgotten, 'run')} whose folders are gone"
                if done.forgotten
                else ""
            )
        )
        return ExitCode.PASSED
    if options.folder is not None:
        raise UsageError(f"unexpected {options.folder}: only `harness history index DIR` takes one")
    return show(options, HistoryStore.open(history_url(loaded.config.history, root)))


def since_of(text: str | None, now: datetime | None = None) -> datetime | None:
    """`--since 30d`: the earliest start time shown (naive UTC, as the store keeps it)."""
    if text is None:
        return None
    age = durations.seconds(text)
    if age is None or age <= 0 or text.strip().replace(".", "", 1).isdigit():
        raise UsageError(f"--since {text!r}: give an age such as 30d, 12h, 2w or 1d12h")
    return ((now or datetime.now(UTC)) - timedelta(seconds=age)).replace(tzinfo=None)


def show(options: argparse.Namespace, store: HistoryStore) -> int:
    """The table (runs, or series with --journey/--step) and the --html trend report."""
    from harness.history.query import Filters, runs_of, series_of
    from harness.history.trends import runs_table, series_table, write_html

    since = since_of(options.since)
    filters = Filters(options.target, options.journey, options.step, since, options.mode)
    try:
        runs = runs_of(store, filters)
        by_series = options.journey is not None or options.step is not None
        points = series_of(store, filters) if by_series or options.html else []
    finally:
        store.close()
    lines = series_table(points) if by_series else runs_table(runs)
    for line in lines:
        print(line)
    print(f"{plural(len(runs), 'run')}" + (f" · {len(points)} series" if by_series else ""))
    if options.html is not None:
        title = "all runs" if options.target is None else f"target {options.target}"
        print(f"trend report: {write_html(options.html, runs, points, title)}")
    return ExitCode.PASSED
