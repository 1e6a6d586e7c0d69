"""The seed manifest: JSON Lines with a header, then one line per account, flushed as written
(`ManifestWriter`), read back with a torn last line tolerated (`read_manifest`). It holds the
synthetic accounts' passwords, so it is readable by its owner only."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, TextIO

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import UsageError

__all__ = [
    "Manifest",
    "ManifestAccount",
    "ManifestError",
    "ManifestHeader",
    "ManifestWriter",
    "default_manifest_path",
    "read_manifest",
]


class ManifestError(UsageError):
    """A seed manifest cannot be written, or read back (missing, not a manifest, corrupt)."""


class ManifestHeader(BaseModel):
    """The first line of a manifest: where the accounts live and which people they are."""

    # Unknown keys are ignored, not refused: a newer harness's manifest must still clean up.
    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["manifest"] = "manifest"
    target: str
    api: str
    seed: int
    worker: int
    profile: str
    locale: str = "en_US"
    people: int = 0  #: how many people the seed run was asked for
    created_at: str


class ManifestAccount(BaseModel):
    """One account line: the person's credentials, the target's user id and how it got there.

    `status` is `created` (this run signed it up) or `existing` (the email was already taken
    and the person's password logs in, e.g. after an earlier seed with the same arguments).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["account"] = "account"
    person_id: str
    email: str
    password: str
    name: str
    user_id: int | str | None
    status: Literal["created", "existing"]


@dataclass(frozen=True)
class Manifest:
    """A manifest read back: its header, its accounts, and warnings (a torn last line)."""

    path: Path
    header: ManifestHeader
    accounts: tuple[ManifestAccount, ...]
    warnings: tuple[str, ...] = ()


def default_manifest_path(results: Path, now: dt.datetime | None = None) -> Path:
    """`results/seed-<UTC timestamp>.jsonl`, with `-2`, `-3`... when that name is taken."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    path = results / f"seed-{stamp}.jsonl"
    n = 1
    while path.exists():
        n += 1
        path = results / f"seed-{stamp}-{n}.jsonl"
    return path


class ManifestWriter:
    """Writes a manifest line by line, flushing each, so a crash loses at most one line.

    `create` refuses an existing file (it may list live accounts) and makes the file readable
    by its owner only: it holds the passwords of the synthetic accounts.
    """

    def __init__(self, path: Path, file: TextIO) -> None:
        self.path = path
        self.accounts = 0
        self._file = file

    @classmethod
    def create(cls, path: Path, header: ManifestHeader) -> ManifestWriter:
        """Create `path` (and its folders) and write the header; raises `ManifestError`."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ManifestError(
                f"manifest {str(path)!r} already exists and may list live accounts; "
                "give another --manifest path, or run `cleanup --manifest` on it first"
            ) from None
        except OSError as exc:
            raise ManifestError(f"cannot write manifest {str(path)!r}: {exc.strerror}") from None
        file = open(fd, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed in close()
        writer = cls(path, file)
        writer._write(header)
        return writer

    def add(self, account: ManifestAccount) -> None:
        """Append one account line and flush it."""
        self._write(account)
        self.accounts += 1

    def _write(self, line: BaseModel) -> None:
        self._file.write(line.model_dump_json() + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def discard(self) -> None:
        """Close and delete the file (nothing was created on the target)."""
        self.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_manifest(path: Path) -> Manifest:
    """Read a manifest; a bad last line (torn by a crash mid-write) becomes a warning.

    Raises `ManifestError` when the file cannot be read, does not start with a manifest
    header, or has a bad line before its last one.
    """
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {str(path)!r}: {exc.strerror}") from None
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    if not numbered:
        raise ManifestError(f"{path} is empty: not a seed manifest")
    try:
        header = ManifestHeader.model_validate_json(numbered[0][1])
    except ValidationError:
        raise ManifestError(
            f"{path} line {numbered[0][0]} is not a seed manifest header "
            '({"kind":"manifest",...}); give the file `synth seed` wrote'
        ) from None
    accounts: list[ManifestAccount] = []
    warnings: list[str] = []
    for n, line in numbered[1:]:
        try:
            accounts.append(ManifestAccount.model_validate_json(line))
        except ValidationError:
            if n != numbered[-1][0]:
                raise ManifestError(
                    f"{path} line {n} is not an account line; the manifest is corrupt"
                ) from None
            warnings.append(
                f"{path} line {n} is incomplete (seeding was interrupted while writing it); "
                "skipped it"
            )
    return Manifest(path, header, tuple(accounts), tuple(warnings))
