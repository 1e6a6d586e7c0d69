"""Create synthetic accounts on a target ahead of a rehearsal, and remove them afterwards.

    result = seed_target(target, 1000, manifest=Path("results/seed.jsonl"), seed=7)
    outcome = cleanup_manifest(Path("results/seed.jsonl"))

Seeding signs people of `SynthSource(seed, worker, profile, locale).scope(i, 0)` up through the
target's JSON API (`POST /users`) and records every account in a manifest (JSON Lines: a
header, then one line per account, flushed as it is written). Cleanup logs each account in
(`POST /tokens`) and deletes it (`DELETE /users/{id}`). Both are idempotent: an email that is
already taken by the same person counts as `existing`, an account that no longer logs in or
is no longer found counts as already gone.

Seeding uses worker `SEED_WORKER` (1,000,000) by default: tokens encode the worker index
without limit, so seeded people never share an email with the people of a load run, whose
workers count from 0.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Protocol, TextIO
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import TargetUnavailable, UsageError
from harness.targets import Target
from synth.factory import SynthSource

__all__ = [
    "SEED_WORKER",
    "ApiReply",
    "ApiTransport",
    "CleanupResult",
    "HttpApiTransport",
    "Manifest",
    "ManifestAccount",
    "ManifestError",
    "ManifestHeader",
    "ManifestWriter",
    "Progress",
    "SeedResult",
    "cleanup_manifest",
    "default_manifest_path",
    "describe_failures",
    "read_manifest",
    "seed_target",
]

SEED_WORKER: Final = 1_000_000
_USER_AGENT: Final = "journey-harness-synth"


class ManifestError(UsageError):
    """A seed manifest cannot be written, or read back (missing, not a manifest, corrupt)."""


# -- the seam to the target ----------------------------------------------------------------


@dataclass(frozen=True)
class ApiReply:
    """One answer of the target's JSON API: the status and the decoded body (None if not JSON)."""

    status: int
    body: Any

    @property
    def error(self) -> str:
        """The `error` code of an error body, else an empty string."""
        code = self.body.get("error") if isinstance(self.body, dict) else None
        return f" {code}" if isinstance(code, str) else ""


class ApiTransport(Protocol):
    """Sends one JSON request to the API; raises `TargetUnavailable` when it cannot."""

    def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None, *, token: str = ""
    ) -> ApiReply: ...


class HttpApiTransport:
    """A keep-alive `http.client` connection to one API base URL (`http://host:port/api/v1`).

    A connection the server closed while idle is reopened once; a refused, unreachable or
    silent target raises `TargetUnavailable`.
    """

    def __init__(self, api_url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(api_url)
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None

    def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None, *, token: str = ""
    ) -> ApiReply:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        what = f"{method} {self.api_url}{path}"
        for attempt in range(2):
            reused = self._conn is not None
            conn = self._connection()
            try:
                conn.request(method, self._prefix + path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if reused and attempt == 0:
                    continue  # the server closed an idle keep-alive connection: reconnect
                raise TargetUnavailable(f"{what}: the connection was closed ({exc})") from None
            except TimeoutError:
                self.close()
                raise TargetUnavailable(f"{what}: no answer within {self.timeout:g}s") from None
            except OSError as exc:  # refused, unreachable, unknown host
                self.close()
                raise TargetUnavailable(f"{what}: {exc.strerror or exc}") from None
            except http.client.HTTPException as exc:
                self.close()
                raise TargetUnavailable(f"{what}: not an HTTP answer ({exc!r})") from None
            if response.will_close:
                self.close()
            return ApiReply(response.status, _json_or_none(raw))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> HttpApiTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


# -- the manifest --------------------------------------------------------------------------


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


# -- progress ------------------------------------------------------------------------------


@dataclass
class Progress:
    """Prints `VERB done/total` to `stream` at every 10% (from 100 items) and every 2 s."""

    verb: str
    total: int
    stream: TextIO | None
    interval: float = 2.0
    clock: Callable[[], float] = time.monotonic
    _last_time: float = field(init=False)
    _last_tenth: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._last_time = self.clock()

    def update(self, done: int) -> None:
        """Record that `done` items are finished; print a line when one is due."""
        if self.stream is None or self.total <= 0:
            return
        now = self.clock()
        tenth = done * 10 // self.total
        milestone = self.total >= 100 and tenth > self._last_tenth and done < self.total
        if milestone or now - self._last_time >= self.interval:
            self._last_tenth, self._last_time = tenth, now
            print(f"{self.verb} {done}/{self.total}", file=self.stream, flush=True)


# -- seeding and cleanup -------------------------------------------------------------------


@dataclass
class SeedResult:
    """What a seed run did; `failures` maps a reason to the emails it hit."""

    manifest: Path
    created: int = 0
    existing: int = 0
    failures: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        """How many people could not be signed up."""
        return sum(len(emails) for emails in self.failures.values())

    @property
    def rate(self) -> float:
        """People handled per second."""
        done = self.created + self.existing + self.failed
        return done / self.seconds if self.seconds > 0 else 0.0


@dataclass
class CleanupResult:
    """What a cleanup did: accounts removed, already gone, and failures by reason."""

    removed: int = 0
    gone: int = 0
    failures: dict[str, list[str]] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        """How many accounts could not be removed."""
        return sum(len(emails) for emails in self.failures.values())

    def summary(self) -> str:
        """`removed N, already gone M, failed K`."""
        return f"removed {self.removed}, already gone {self.gone}, failed {self.failed}"


def seed_target(
    target: Target,
    people: int,
    *,
    manifest: Path,
    seed: int = 0,
    worker: int = SEED_WORKER,
    profile: str = "default",
    locale: str = "en_US",
    transport: ApiTransport | None = None,
    timeout: float = 10.0,
    progress: TextIO | None = None,
) -> SeedResult:
    """Sign up `people` synthetic people on `target` and list them in a new `manifest`.

    Person `i` is `SynthSource(seed, worker, profile, locale).scope(i, 0).person`. Raises
    `SynthUsageError` or `ManifestError` before contacting the target, and `TargetUnavailable`
    when it cannot be reached; the manifest then keeps the accounts created so far (and is
    deleted when there are none).
    """
    if people < 0:
        raise UsageError(f"--people must be >= 0, got {people}")
    source = SynthSource(seed, worker, profile, locale)
    header = ManifestHeader(
        target=target.name,
        api=target.api,
        seed=seed,
        worker=worker,
        profile=profile,
        locale=locale,
        people=people,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    result = SeedResult(manifest)
    ticker = Progress("seeded", people, progress)
    started = time.perf_counter()
    with _transport(transport, target.api, timeout) as api:
        writer = ManifestWriter.create(manifest, header)
        try:
            for i in range(people):
                person = source.scope(i, 0).person
                account, reason = _sign_up(
                    api, person.id, person.email, person.password, person.name
                )
                if account is None:
                    result.failures.setdefault(reason, []).append(person.email)
                else:
                    writer.add(account)
                    if account.status == "created":
                        result.created += 1
                    else:
                        result.existing += 1
                ticker.update(i + 1)
        except BaseException:
            if writer.accounts == 0:
                writer.discard()
            raise
        finally:
            writer.close()
    result.seconds = time.perf_counter() - started
    return result


def _sign_up(
    api: ApiTransport, person_id: str, email: str, password: str, name: str
) -> tuple[ManifestAccount | None, str]:
    """The account of one person, signed up now or found existing; else None and a reason."""
    reply = api.call("POST", "/users", {"email": email, "password": password, "name": name})
    if reply.status == 201 and isinstance(reply.body, dict):
        status: Literal["created", "existing"] = "created"
        user_id = reply.body.get("id")
    elif reply.status == 409:
        login = api.call("POST", "/tokens", {"email": email, "password": password})
        if login.status == 401:
            return None, "email taken by an account with another password (not this person)"
        if login.status != 201 or not isinstance(login.body, dict):
            return None, f"POST /tokens answered {login.status}{login.error}"
        status, user_id = "existing", login.body.get("user_id")
    else:
        return None, f"POST /users answered {reply.status}{reply.error}"
    uid = user_id if isinstance(user_id, int | str) and not isinstance(user_id, bool) else None
    account = ManifestAccount(
        person_id=person_id, email=email, password=password, name=name, user_id=uid, status=status
    )
    return account, ""


def cleanup_manifest(
    manifest: Manifest,
    *,
    api_url: str | None = None,
    transport: ApiTransport | None = None,
    timeout: float = 10.0,
    progress: TextIO | None = None,
) -> CleanupResult:
    """Delete every account of `manifest` (see `read_manifest`) from its target, or `api_url`.

    Each account logs in (`POST /tokens`) and deletes the user the token belongs to; a 401 at
    login or a 404 at delete means it is already gone. Raises `TargetUnavailable` when the
    target cannot be reached (running it again is safe).
    """
    result = CleanupResult()
    ticker = Progress("cleaned", len(manifest.accounts), progress)
    with _transport(transport, api_url or manifest.header.api, timeout) as api:
        for n, account in enumerate(manifest.accounts, 1):
            outcome = _remove(api, account)
            if outcome == "removed":
                result.removed += 1
            elif outcome == "gone":
                result.gone += 1
            else:
                result.failures.setdefault(outcome, []).append(account.email)
            ticker.update(n)
    return result


def _remove(api: ApiTransport, account: ManifestAccount) -> str:
    """`removed`, `gone`, or the reason the account could not be removed."""
    login = api.call("POST", "/tokens", {"email": account.email, "password": account.password})
    if login.status == 401:
        return "gone"
    body = login.body if isinstance(login.body, dict) else {}
    token, user_id = body.get("token"), body.get("user_id", account.user_id)
    if login.status != 201 or not isinstance(token, str) or user_id is None:
        return f"POST /tokens answered {login.status}{login.error}"
    # The token's user id, not the manifest's: the account may have been re-created since.
    path = f"/users/{quote(str(user_id), safe='')}"
    reply = api.call("DELETE", path, token=token)
    if reply.status in (200, 202, 204):
        return "removed"
    if reply.status == 404:
        return "gone"
    return f"DELETE /users/{{id}} answered {reply.status}{reply.error}"


class _Borrowed:
    """A transport given by the caller: used, not closed."""

    def __init__(self, transport: ApiTransport) -> None:
        self.transport = transport

    def __enter__(self) -> ApiTransport:
        return self.transport

    def __exit__(self, *exc: object) -> None:
        return None


def _transport(
    given: ApiTransport | None, api_url: str, timeout: float
) -> _Borrowed | HttpApiTransport:
    return _Borrowed(given) if given is not None else HttpApiTransport(api_url, timeout=timeout)


def describe_failures(failures: Mapping[str, list[str]], limit: int = 3) -> Iterator[str]:
    """One line per failure reason: how many, and the first few emails it hit."""
    for reason, emails in Counter({r: len(e) for r, e in failures.items()}).most_common():
        shown = ", ".join(failures[reason][:limit])
        more = f" and {len(failures[reason]) - limit} more" if len(failures[reason]) > limit else ""
        yield f"  {emails} × {reason}: {shown}{more}"
