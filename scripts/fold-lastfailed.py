"""Fold the unit tests' last failures into the cache `pytest --lf` reads.

`scripts/run-tests.sh` runs the unit tests beside the `alone` pass, each pytest run with its own
cache: two runs writing one `lastfailed` at once would keep only the later run's failures. Once
both are done this replaces the main cache's entries under the unit tests' folder with the unit
run's own, so that `pytest --lf` reruns whatever failed in either.

Usage: fold-lastfailed.py MAIN_CACHE_DIR UNIT_CACHE_DIR UNIT_TESTS_FOLDER
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ENTRY = Path("v", "cache", "lastfailed")


def read(cache: Path) -> dict[str, bool]:
    try:
        found = json.loads((cache / ENTRY).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def main(main_cache: str, unit_cache: str, unit_folder: str) -> None:
    prefix = unit_folder.rstrip("/") + "/"
    kept = {k: v for k, v in read(Path(main_cache)).items() if not k.startswith(prefix)}
    folded = kept | read(Path(unit_cache))
    path = Path(main_cache) / ENTRY
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(folded, indent=2, sort_keys=True))


if __name__ == "__main__":
    main(*sys.argv[1:4])
