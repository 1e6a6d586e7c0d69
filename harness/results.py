"""The run folder, `results/<run-id>/`: run.json, steps.jsonl (streamed), summary.md.

`steps.jsonl` holds step and iteration records, one JSON object a line, each flushed as it is
written so that a killed run keeps what it measured. `read_records` tolerates a torn last line.
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
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from harness.errors import UsageError
from harness.records import IterationRecord, StepRecord, record_json
from harness.redact import command_line, stored

STEPS_FILE = "steps.jsonl"
RUN_FILE = "run.json"


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

    def start(
        self, *, mode: str, target: dict[str, Any], seed: int, config: dict[str, Any]
    ) -> None:
        """Write run.json with status `running`."""
        self.meta = {
            "run_id": self.run_id,
            "mode": mode,
            "status": "running",
            "started_at": _now(),
            "ended_at": None,
            "seed": seed,
            # stored without URL credentials, sensitive query parameters or option values
            "targets": stored(target),
            "config": stored(config),
            "versions": _versions(),
            "git_revision": _git_revision(),
            "command": command_line(sys.argv),
            "host": platform.node(),
            "pid": os.getpid(),
        }
        self.write_json(RUN_FILE, self.meta)

    def finish(self, status: str, **extra: Any) -> None:
        """Mark the run `passed`, `failed`, `aborted` or `error` in run.json."""
        self.meta.update(status=status, ended_at=_now(), **extra)
        self.write_json(RUN_FILE, self.meta)

    def write_json(self, name: str, data: Any) -> None:
        """Write a JSON file atomically (write to a temporary name, then rename)."""
        tmp = self.path / f".{name}.tmp"
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, self.path / name)

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
        if not lines:
            return
        with self._lock:
            if self._steps.closed:
                return  # a delta arriving after the run closed: its counts merged, lines lost
            self._steps.write("\n".join(lines) + "\n")
            self._steps.flush()

    def _append(self, line: str) -> None:
        with self._lock:
            self._steps.write(line + "\n")
            self._steps.flush()

    def close(self) -> None:
        """Close steps.jsonl."""
        with self._lock:
            if not self._steps.closed:
                self._steps.close()


def read_records(
    run_dir: Path, *, passed_limit: int | None = None
) -> Iterator[StepRecord | IterationRecord]:
    """The records of a stored run, skipping a torn (partly written) last line. With
    `passed_limit`, passed steps and passed iterations beyond that many each are skipped unread
    (every failure is kept): what a report needs of a long load run, in bounded memory."""
    path = run_dir / STEPS_FILE
    passed = {True: 0, False: 0}  # iteration? → passed records kept
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                return  # torn by a kill mid-write
            if passed_limit is not None and '"outcome":"passed"' in line:
                kind = '"kind":"iteration"' in line
                if passed[kind] >= passed_limit:
                    continue
                passed[kind] += 1
            data = json.loads(line)
            if data.get("kind") == "iteration":
                yield IterationRecord.model_validate(data)
            else:
                yield StepRecord.model_validate(data)


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
