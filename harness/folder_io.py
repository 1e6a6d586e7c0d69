"""Bounded reading of the files of a stored run folder: the one place that opens them.

A run folder is input like any other: it may be truncated by a kill, damaged on disk, or crafted.
JSON documents (run.json, verdict.json, counts.json, ...) are read whole only up to
`MAX_JSON_BYTES`; JSON lines files (steps.jsonl, traces.jsonl, ...) are streamed a line at a time,
and a line longer than `MAX_LINE_BYTES` is skipped in chunks and counted as damaged, never held
whole. So a 2 GB sparse file of NUL bytes costs a few megabytes. Anything but a regular file (a
FIFO, a link to /dev/zero, a folder) is refused before a byte is read.

Damage (not JSON, the wrong shape, too large, not a regular file) raises `DamagedRunFolder`
(exit 2); a file that exists but cannot be read (permissions, I/O error) raises
`UnreadableRunFolder` (exit 3). A missing file raises `FileNotFoundError`, which readers of
optional files expect.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from harness.errors import DamagedRunFolder, UnreadableRunFolder

#: the largest JSON document read (trace-joins.json holds about 20 bytes a journey trace)
MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_LINE_BYTES = 1024 * 1024  #: the longest JSON line read; a longer one is skipped as damaged
_CHUNK = 1024 * 1024

T = TypeVar("T")

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def damaged(path: Path, what: str) -> DamagedRunFolder:
    """The error for a damaged file: `what` says what is wrong with it."""
    return DamagedRunFolder(
        f"{path} {what}: the run folder is damaged or was not written by the harness. Restore "
        "the file, remove it (a missing optional file is reported as not recorded), or give "
        "another run folder"
    )


def _unreadable(path: Path, exc: OSError) -> UnreadableRunFolder:
    return UnreadableRunFolder(
        f"cannot read {path}: {exc.strerror or exc}. Check the file's permissions and the disk"
    )


def present(path: Path) -> bool:
    """Whether something is at `path` (a file, a folder, a link even to nothing): what the
    readers refuse when it is not a regular file, rather than treat it as missing."""
    return os.path.lexists(path)


def open_regular(path: Path) -> IO[bytes]:
    """`path` opened for binary reading; raises `FileNotFoundError` when nothing is there,
    `DamagedRunFolder` when it is not a regular file (without blocking on a FIFO) and
    `UnreadableRunFolder` when it cannot be read."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        if os.path.islink(path):
            raise damaged(path, "is a link to nothing") from None
        raise
    except IsADirectoryError:
        raise damaged(path, "is a folder, not a regular file") from None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
            raise damaged(path, f"is {kind}, not a regular file")
        # 1 MB reads: at 4 kB a 2 GB file took 525,222 read calls (6 s in the kernel)
        return os.fdopen(descriptor, "rb", buffering=_CHUNK)
    except BaseException:
        os.close(descriptor)
        raise


def read_bytes(path: Path, *, limit: int = MAX_JSON_BYTES) -> bytes:
    """The whole of a regular file of at most `limit` bytes; raises as `open_regular` does, and
    `DamagedRunFolder` when it is larger."""
    with open_regular(path) as handle:
        if os.fstat(handle.fileno()).st_size > limit:  # refused unread
            raise damaged(path, f"is larger than {limit // (1024 * 1024)} MB")
        try:
            data = handle.read(limit + 1)  # it may have grown since
        except OSError as exc:
            raise _unreadable(path, exc) from None
    if len(data) > limit:
        raise damaged(path, f"is larger than {limit // (1024 * 1024)} MB")
    return data


def read_json(path: Path, *, limit: int = MAX_JSON_BYTES) -> Any:
    """A JSON document of at most `limit` bytes; raises as `read_bytes` does, and
    `DamagedRunFolder` when it is not JSON."""
    data = read_bytes(path, limit=limit)
    try:
        return _loads(data)
    except ValueError as exc:  # also UnicodeDecodeError
        raise damaged(path, f"is not valid JSON ({_first_line(exc)})") from None
    except RecursionError:
        raise damaged(path, "is nested too deeply to be a harness file") from None


def read_json_object(path: Path, *, limit: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """A JSON document that must be an object (as run.json is)."""
    data = read_json(path, limit=limit)
    if not isinstance(data, dict):
        raise damaged(path, f"holds a JSON {type(data).__name__}, not an object")
    return data


@contextmanager
def shape_of(path: Path) -> Iterator[None]:
    """Turn a `KeyError`, `TypeError`, `ValueError`, `IndexError` or `AttributeError` raised
    while reading the parsed contents of `path` into `DamagedRunFolder` naming the file."""
    try:
        yield
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        what = f"missing key {exc}" if isinstance(exc, KeyError) else _first_line(exc)
        raise damaged(path, f"does not have the expected shape ({what})") from None


def parsed(path: Path, read: Callable[[Any], T], *, limit: int = MAX_JSON_BYTES) -> T:
    """`read(document)` of the JSON document at `path`; its shape errors raise
    `DamagedRunFolder` (see `shape_of`)."""
    data = read_json(path, limit=limit)
    with shape_of(path):
        return read(data)


@dataclass
class LineTally:
    """What reading one lines file found: complete lines, lines skipped as damaged (too long, not
    UTF-8 JSON, not an object, not a record) and whether its last line was torn by a kill."""

    path: Path
    lines: int = 0
    damaged: int = 0
    torn: bool = False
    too_long: int = 0

    def warning(self, *, named: bool = True) -> str | None:
        """One line saying what was skipped (starting with the file's name, when `named`); None
        when nothing was."""
        if not self.damaged:
            return None
        long = (
            f", {self.too_long:,} longer than {MAX_LINE_BYTES // 1024} KB" if self.too_long else ""
        )
        return (
            (f"{self.path.name}: " if named else "") + f"skipped {self.damaged:,} damaged "
            f"line{'s' if self.damaged != 1 else ''}{long} (of {self.lines + self.damaged:,})"
        )


def lines(
    path: Path, tally: LineTally | None = None, *, limit: int = MAX_LINE_BYTES
) -> Iterator[bytes]:
    """The complete lines of a lines file (each ending in a newline), one at a time. A line longer
    than `limit` is skipped in chunks and counted damaged in `tally`; a torn last line is
    skipped and noted. Raises as `open_regular` does (and `UnreadableRunFolder` on an I/O error
    while reading)."""
    tally = tally if tally is not None else LineTally(path)
    with open_regular(path) as handle:
        try:
            while True:
                line = handle.readline(limit + 1)
                if not line:
                    return
                if line.endswith(b"\n") and len(line) <= limit:
                    tally.lines += 1
                    yield line
                    continue
                if len(line) <= limit:  # no newline before the end: torn by a kill mid-write
                    tally.torn = True
                    return
                tally.damaged += 1
                tally.too_long += 1
                while not line.endswith(b"\n"):
                    line = handle.readline(_CHUNK)
                    if not line:
                        return
        except OSError as exc:
            raise _unreadable(path, exc) from None


def json_lines(
    path: Path, tally: LineTally | None = None, *, limit: int = MAX_LINE_BYTES
) -> Iterator[dict[str, Any]]:
    """The JSON objects of a lines file; a line that is not one is counted damaged and skipped."""
    tally = tally if tally is not None else LineTally(path)
    for line in lines(path, tally, limit=limit):
        data = loads_line(line)
        if data is None:
            tally.lines -= 1
            tally.damaged += 1
            continue
        yield data


def loads_line(line: bytes) -> dict[str, Any] | None:
    """One JSON lines line as an object; None when it is not one."""
    try:
        data = _loads(line)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


# The documents of a run folder, checked for the types their readers rely on (every field a
# reader uses without a check of its own); each raises `TypeError`/`ValueError`, which `parsed`
# turns into `DamagedRunFolder` naming the file.


def json_object(data: Any) -> dict[str, Any]:
    """Any JSON object."""
    if not isinstance(data, dict):
        raise TypeError(f"a JSON {type(data).__name__}, not an object")
    return data


def run_meta(data: Any) -> dict[str, Any]:
    """run.json."""
    meta = json_object(data)
    for key in ("run_id", "mode", "status", "started_at", "ended_at", "host", "git_revision"):
        _typed(meta, key, str, "a string", null=True)
    _typed(meta, "seed", int, "an integer", null=True)
    _typed(meta, "schema", int, "an integer", null=True)
    if isinstance(meta.get("schema"), int) and meta["schema"] < 1:
        raise ValueError("`schema` is not a version (1 or more)")
    for key in ("targets", "config", "versions"):
        _typed(meta, key, dict, "an object")
    for role, entry in (meta.get("targets") or {}).items():
        if not isinstance(entry, dict):
            raise TypeError(f"`targets.{role}` is not an object")
        _typed(entry, "name", str, "a string", where=f"targets.{role}.", null=True)
    for key in ("incomplete_evidence", "command"):
        _typed(meta, key, list, "a list")
        if not all(isinstance(item, str) for item in meta.get(key) or []):
            raise TypeError(f"`{key}` holds something other than strings")
    return meta


def counts_document(data: Any) -> dict[str, Any]:
    """counts.json: exact iterations and failures per (target, journey), errors per step."""
    counts = json_object(data)
    journeys = counts.setdefault("journeys", [])
    errors = counts.setdefault("errors", [])
    if not isinstance(journeys, list) or not isinstance(errors, list):
        raise TypeError("`journeys` and `errors` must be lists")
    for entry in journeys:
        _row(entry, text=("target", "journey"), counts=("iterations", "failures"))
        _typed(entry, "cut_off", int, "an integer")
    for entry in errors:
        _row(entry, text=("target", "journey", "step", "touchpoint"), counts=("count",))
    return counts


def timeline_document(data: Any) -> list[dict[str, Any]]:
    """timeline.json: one row a second and target."""
    if not isinstance(data, list):
        raise TypeError(f"a JSON {type(data).__name__}, not a list")
    for row in data:
        _row(row, text=("target",), counts=("iterations", "failures"))
        if isinstance(row["t"], bool) or not isinstance(row["t"], int | float):
            raise TypeError("`t` is not a number")
    return data


def health_document(data: Any) -> dict[str, Any]:
    """health.json: the generator's summary and its samples."""
    health = json_object(data)
    _typed(health, "summary", dict, "an object")
    _typed(health, "samples", list, "a list")
    summary = health.get("summary") or {}
    _typed(summary, "reasons", list, "a list", where="summary.")
    _typed(summary, "saturated", bool, "true or false", where="summary.")
    if not all(isinstance(r, str) for r in summary.get("reasons") or []):
        raise TypeError("`summary.reasons` holds something other than strings")
    for sample in health.get("samples") or []:
        if not isinstance(sample, dict):
            raise TypeError("`samples` holds something other than objects")
        _number(sample["t"], "samples.t")
        for key in ("cpu", "browser_cpu", "lag_ms"):
            if key in sample:
                _number(sample[key], f"samples.{key}")
    return health


def _number(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"`{where}` is a JSON {type(value).__name__}, not a number")


def _typed(
    data: dict[str, Any], key: str, kind: type, words: str, *, where: str = "", null: bool = False
) -> None:
    """A key, when present, holds `kind` (or null, when `null`)."""
    if key not in data or (null and data[key] is None):
        return
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise TypeError(f"`{where}{key}` is a JSON {type(value).__name__}, not {words}")


def _row(entry: Any, *, text: tuple[str, ...], counts: tuple[str, ...]) -> None:
    if not isinstance(entry, dict):
        raise TypeError(f"an entry is a JSON {type(entry).__name__}, not an object")
    for key in text:
        if not isinstance(entry[key], str):
            raise TypeError(f"`{key}` is not a string")
    for key in counts:
        if isinstance(entry[key], bool) or not isinstance(entry[key], int) or entry[key] < 0:
            raise TypeError(f"`{key}` is not a count")


def _loads(data: bytes) -> Any:
    """JSON as the harness writes it: NaN, Infinity and numbers too large for a float are
    refused (they would poison every statistic downstream)."""
    return json.loads(data, parse_constant=_no_constant, parse_float=_finite)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
