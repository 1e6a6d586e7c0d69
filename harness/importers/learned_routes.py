"""Routes journeys did not declare, learned from the requests they sent in a run (a smoke run's
`steps.jsonl`), for `harness import access-log --learn-from RUN_DIR`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from harness.errors import UsageError
from harness.importers.har_steps import is_static_path, route_of
from harness.records import StepRecord
from harness.results.reader import read_folder
from harness.results.schema import RUN_FILE


def learned_routes(run_dirs: Iterable[Path]) -> dict[str, list[str]]:
    """journey -> `METHOD /route/{id}` of each request its steps sent, in first-seen order
    (static files left out); `UsageError` for a folder that is not a run's."""
    learned: dict[str, list[str]] = {}
    for folder in run_dirs:
        if not (folder / RUN_FILE).is_file():
            raise UsageError(f"--learn-from {folder}: not a run folder (no {RUN_FILE})")
        stored = read_folder(folder)
        for record in stored.records():
            if not isinstance(record, StepRecord):
                continue
            routes = learned.setdefault(record.journey, [])
            for request in record.requests:
                path = urlsplit(request.url).path
                route = f"{request.method.upper()} {route_of(path)}"
                if not is_static_path(path) and route not in routes:
                    routes.append(route)
    return learned
