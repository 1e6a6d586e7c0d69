"""The one writer of a run folder, `results/<run-id>/`: run.json (with its schema version),
steps.jsonl (streamed), and any other file through `write_json`/`write_text`.

`steps.jsonl` holds step and iteration records, one JSON object a line, each flushed as it is
written so that a killed run keeps what it measured. `harness.results.reader` reads it back.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from harness.errors import UsageError
from harness.records import IterationRecord, StepRecord, record_json
from harness.redact import command_line, stored
from harness.results.schema import RUN_FILE, SCHEMA_VERSION, STEPS_FILE


def new_run_id(mode: str) -> str:
    """A sortable, unique run id such as `20261128-153012-smoke-3fa2`."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{mode}-{secrets.token_hex(2)}"


def replace_file(path: Path, text: str | bytes) -> Path:
    """Write `path` whole or not at all: into a new file beside it (never through a symlink,
    never over a file being read), then renamed over it, which replaces a symlink itself rather
    than what it points to. Raises `OSError` (a full disk, say) leaving the old file as it was."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(partial, flags, 0o644)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return path


def ensure_folder(path: Path) -> Path:
    """Create a results folder (and its parents); raises `UsageError` naming it and why when it
    cannot be created or written (read-only, a file in the way, no permission)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(f"no permission to write in {path}")
    except OSError as exc:
        raise UsageError(
            f"cannot use the results folder {path}: {exc.strerror or exc}. Give a writable one "
            'with --results DIR (or `results = "DIR"` in harness.toml)'
        ) from None
    return path


def incomplete_marker(part: Path) -> Path:
    """The file beside a span file (`traces/*.jsonl`) whose process could not finish writing it,
    saying why."""
    return part.with_name(part.name + ".incomplete")


def check_folder(path: Path) -> Path:
    """Check, without creating anything, that a results folder exists writable or could be made:
    a run refused before its first request leaves no folder behind. Raises `UsageError` as
    `ensure_folder` does."""
    probe = path
    try:
        while not probe.exists():
            if probe.is_symlink():  # a dangling link: mkdir would fail on it
                raise FileExistsError(f"{probe} is a link to nothing")
            probe = probe.parent
        if not probe.is_dir():
            raise NotADirectoryError(f"{probe} is not a folder")
        # os.access says yes to root even where the file system says no (/proc): try it
        os.rmdir(tempfile.mkdtemp(prefix=".harness-probe-", dir=probe))
    except OSError as exc:
        raise UsageError(
            f"cannot use the results folder {path}: {exc.strerror or exc}. Give a writable one "
            'with --results DIR (or `results = "DIR"` in harness.toml)'
        ) from None
    return path


class RunDirectory:
    """Creates and fills one run folder; also the `RunSink` that streams records to disk."""

    def __init__(self, root: Path, run_id: str) -> None:
        self.run_id = run_id
        self.path = root / run_id
        ensure_folder(self.path)  # a sandbox may have made traces/ first
        self.artifacts = self.path / "artifacts"
        self._steps: IO[str] = open(self.path / STEPS_FILE, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()
        self.meta: dict[str, Any] = {}
        #: the first write that failed (a full disk, a quota): the run stops and exits 3
        self.write_error: str | None = None
        #: told of that first failure (the load run's stop request)
        self.on_write_error: Callable[[str], None] | None = None

    def start(
        self,
        *,
        mode: str,
        target: dict[str, Any],
        seed: int,
        config: dict[str, Any],
        request: dict[str, Any] | None = None,
    ) -> None:
        """Write run.json with status `running` (with the run's `request`, as recorded)."""
        self.meta = {
            "schema": SCHEMA_VERSION,
            "run_id": self.run_id,
            "mode": mode,
            "status": "running",
            "started_at": _now(),
            "ended_at": None,
            "seed": seed,
            # stored without URL credentials, sensitive query parameters or option values
            "targets": stored(target),
            "config": stored(config),
            **({"request": stored(request)} if request is not None else {}),
            "versions": _versions(),
            "git_revision": _git_revision(),
            "command": command_line(sys.argv),
            "host": platform.node(),
            "pid": os.getpid(),
        }
        self.write_json(RUN_FILE, self.meta)

    def finish(self, status: str, **extra: Any) -> None:
        """Mark the run `passed`, `failed`, `aborted` or `error` in run.json (where it can still
        be written: a failure is noted in `write_error`, never raised)."""
        self.meta.update(status=status, ended_at=_now(), **extra)
        try:
            self.write_json(RUN_FILE, self.meta)
        except OSError as exc:
            self.failed_to_write(RUN_FILE, exc)

    def write_json(self, name: str, data: Any) -> None:
        """Write a JSON file atomically (write to a temporary name, then rename)."""
        text = json.dumps(data, indent=2, default=str) + "\n"
        tmp = self.path / f".{name}.tmp"
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.path / name)
        except OSError:
            tmp.unlink(missing_ok=True)
            target = self.path / name
            if not target.is_file() or target.is_symlink():
                raise
            # A full disk has no room for a second copy; the file's own blocks still take the
            # new text (run.json's `error` after a disk filled up during the run).
            with open(target, "r+", encoding="utf-8") as out:
                out.write(text)
                out.truncate()

    def write_text(self, name: str, text: str) -> Path:
        """Write a text file into the run folder."""
        path = self.path / name
        path.write_text(text, encoding="utf-8")
        return path

    def step_finished(self, record: StepRecord) -> None:
        """Append a step record and flush it."""
        self._append(record_json(record))

    def iteration_finished(self, record: IterationRecord) -> None:
        """Append an iteration record and flush it."""
        self._append(record_json(record))

    def append_lines(self, lines: list[str]) -> None:
        """Append already-serialised record lines (from a worker) and flush them."""
        if lines:
            self._append("\n".join(lines))

    def _append(self, text: str) -> None:
        with self._lock:
            if self._steps.closed or self.write_error is not None:
                return  # after the run closed (counts merged, lines lost), or a failed write
            try:
                self._steps.write(text + "\n")
                self._steps.flush()
            except OSError as exc:
                self.failed_to_write(STEPS_FILE, exc)

    def failed_to_write(self, name: str, exc: OSError) -> None:
        """Note the first write that failed and tell `on_write_error`; later ones are
        ignored (the run is stopping)."""
        if self.write_error is not None:
            return
        self.write_error = f"cannot write {self.path / name}: {exc.strerror or exc}"
        if self.on_write_error is not None:
            self.on_write_error(self.write_error)

    def close(self) -> None:
        """Close steps.jsonl."""
        with self._lock:
            if not self._steps.closed:
                with contextlib.suppress(OSError):  # its last flush failed: noted already
                    self._steps.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("journey-harness", "playwright", "locust", "pydantic", "faker"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def elapsed_since(t0: float) -> float:
    """Seconds since the monotonic time `t0`."""
    return time.perf_counter() - t0
