"""The run folder, `results/<run-id>/`: its schema (`schema.py`), its one writer
(`writer.py`: `RunDirectory`) and its one reader (`reader.py`: `read_folder`, and `steps.py`:
`read_records`).

The names below stay importable from `harness.results` as before the package was split; the
reader is imported from `harness.results.reader` (it loads the HDR codec, which a command that
only writes does not need).
"""

from harness.results.schema import RUN_FILE, SCHEMA_VERSION, STEPS_FILE, config_hash
from harness.results.steps import read_records
from harness.results.writer import (
    RunDirectory,
    check_folder,
    elapsed_since,
    ensure_folder,
    incomplete_marker,
    new_run_id,
    replace_file,
)

__all__ = [
    "RUN_FILE",
    "SCHEMA_VERSION",
    "STEPS_FILE",
    "RunDirectory",
    "check_folder",
    "config_hash",
    "elapsed_since",
    "ensure_folder",
    "incomplete_marker",
    "new_run_id",
    "read_records",
    "replace_file",
]
