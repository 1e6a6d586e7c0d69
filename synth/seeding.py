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
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TextIO
from urllib.parse import quote

from harness.errors import UsageError
from harness.http.transport import HttpSettings, settings_for
from harness.target_http import request_headers
from harness.targets import Target
from synth.factory import SynthSource
from synth.seed_api import ApiTransport, HttpApiTransport
from synth.seed_manifest import Manifest, ManifestAccount, ManifestHeader, ManifestWriter

__all__ = [
    "SEED_WORKER",
    "CleanupResult",
    "Progress",
    "SeedResult",
    "cleanup_manifest",
    "describe_failures",
    "seed_target",
]

SEED_WORKER: Final = 1_000_000


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
    settings, headers = (
        settings_for(target, "api"),
        request_headers(target.http, target.name, "api"),
    )
    with _transport(transport, target.api, timeout, settings, headers) as api:
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
    with _transport(transport, api_url or manifest.header.api, timeout, settings_for()) as api:
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
    given: ApiTransport | None,
    api_url: str,
    timeout: float,
    settings: HttpSettings,
    headers: Mapping[str, str] | None = None,
) -> _Borrowed | HttpApiTransport:
    """The caller's transport, or calls over the harness's one HTTP transport."""
    if given is not None:
        return _Borrowed(given)
    return HttpApiTransport(api_url, timeout=timeout, settings=settings, headers=headers)


def describe_failures(failures: Mapping[str, list[str]], limit: int = 3) -> Iterator[str]:
    """One line per failure reason: how many, and the first few emails it hit."""
    for reason, emails in Counter({r: len(e) for r, e in failures.items()}).most_common():
        shown = ", ".join(failures[reason][:limit])
        more = f" and {len(failures[reason]) - limit} more" if len(failures[reason]) > limit else ""
        yield f"  {emails} × {reason}: {shown}{more}"
