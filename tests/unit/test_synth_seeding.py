"""`synth seed` / `synth cleanup` against an in-memory fake API: manifests, idempotence, errors."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.commands.synth import main as harness_synth
from harness.errors import TargetUnavailable, UsageError
from harness.targets import Target
from synth import SynthSource, seeding
from synth.cli import main
from synth.seed_api import ApiReply
from synth.seed_manifest import (
    ManifestAccount,
    ManifestError,
    ManifestHeader,
    ManifestWriter,
    default_manifest_path,
    read_manifest,
)
from synth.seeding import SEED_WORKER, Progress, cleanup_manifest, seed_target

TARGET = Target.from_base_url("http://shop.test")


@dataclass
class FakeApi:
    """The sandbox's user and token routes, in memory; `down_after` calls, it is unreachable."""

    users: dict[str, tuple[int, str]] = field(default_factory=dict)  # email -> (id, password)
    tokens: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    reject: set[str] = field(default_factory=set)  # emails answered 422
    down_after: int | None = None
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _token_ids: Iterator[int] = field(default_factory=itertools.count)

    def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None, *, token: str = ""
    ) -> ApiReply:
        if self.down_after is not None and len(self.calls) >= self.down_after:
            raise TargetUnavailable(f"{method} http://shop.test/api/v1{path}: Connection refused")
        self.calls.append((method, path))
        body = body or {}
        email = str(body.get("email", "")).lower()
        if (method, path) == ("POST", "/users"):
            if email in self.reject:
                return ApiReply(422, {"error": "invalid", "detail": "name"})
            if email in self.users:
                return ApiReply(409, {"error": "email_taken"})
            user_id = next(self._ids)
            self.users[email] = (user_id, str(body["password"]))
            return ApiReply(201, {"id": user_id, "email": email, "name": body["name"]})
        if (method, path) == ("POST", "/tokens"):
            found = self.users.get(email)
            if found is None or found[1] != body.get("password"):
                return ApiReply(401, {"error": "bad_credentials"})
            issued = f"t{next(self._token_ids)}"
            self.tokens[issued] = found[0]
            return ApiReply(201, {"token": issued, "user_id": found[0]})
        if method == "DELETE" and path.startswith("/users/"):
            user_id = int(path.rsplit("/", 1)[1])
            if self.tokens.get(token) != user_id:
                return ApiReply(404, {"error": "not_found"})
            self.users = {e: u for e, u in self.users.items() if u[0] != user_id}
            self.tokens = {t: u for t, u in self.tokens.items() if u != user_id}
            return ApiReply(204, None)
        return ApiReply(404, {"error": "not_found"})


def _accounts(path: Path) -> list[dict[str, object]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["kind"] == "manifest"
    return [json.loads(line) for line in lines[1:]]


def _header(**changes: object) -> ManifestHeader:
    fields: dict[str, object] = {
        "target": "shop",
        "api": TARGET.api,
        "seed": 1,
        "worker": SEED_WORKER,
        "profile": "default",
        "created_at": "2026-01-01T00:00:00Z",
    }
    return ManifestHeader.model_validate({**fields, **changes})


def _account(n: int) -> ManifestAccount:
    return ManifestAccount(
        person_id=f"per_{n}",
        email=f"p{n}@example.test",
        password="long enough",
        name=f"P {n}",
        user_id=n,
        status="created",
    )


# -- manifest ------------------------------------------------------------------------------


def test_manifest_round_trips_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "m.jsonl"
    with ManifestWriter.create(path, _header()) as writer:
        writer.add(_account(1))
        writer.add(_account(2))
        # flushed line by line: readable before close, as after a crash
        assert read_manifest(path).accounts == (_account(1), _account(2))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds passwords
    manifest = read_manifest(path)
    assert manifest.header == _header() and manifest.warnings == ()
    first = json.loads(path.read_text("utf-8").splitlines()[0])
    assert list(first)[:7] == ["kind", "target", "api", "seed", "worker", "profile", "locale"]


def test_manifest_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text("keep me")
    with pytest.raises(ManifestError, match="already exists"):
        ManifestWriter.create(path, _header())
    assert path.read_text() == "keep me"


def test_torn_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    with ManifestWriter.create(path, _header()) as writer:
        for n in range(3):
            writer.add(_account(n))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 25])  # killed in the middle of the third line
    manifest = read_manifest(path)
    assert [a.person_id for a in manifest.accounts] == ["per_0", "per_1"]
    assert len(manifest.warnings) == 1 and "line 4 is incomplete" in manifest.warnings[0]


def test_torn_multibyte_character_is_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    with ManifestWriter.create(path, _header()) as writer:
        writer.add(_account(0).model_copy(update={"name": "李 Müller"}))
    data = path.read_bytes()
    path.write_bytes(data[: data.index("李".encode()) + 1])
    assert read_manifest(path).accounts == () and read_manifest(path).warnings


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b'{"kind":"account"}\n', "not a seed manifest header"),
        (b"person_id,email\n", "not a seed manifest header"),
        (None, "cannot read manifest"),
    ],
)
def test_unreadable_manifests_are_usage_errors(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "m.jsonl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ManifestError, match=message) as caught:
        read_manifest(path)
    assert isinstance(caught.value, UsageError)


def test_a_bad_line_before_the_last_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    lines = [_header().model_dump_json(), "{oops", _account(1).model_dump_json(), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ManifestError, match="line 2 is not an account line"):
        read_manifest(path)


def test_default_manifest_path_never_reuses_a_name(tmp_path: Path) -> None:
    now = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    first = default_manifest_path(tmp_path, now)
    assert first == tmp_path / "seed-20260304T050607Z.jsonl"
    first.touch()
    assert default_manifest_path(tmp_path, now).name == "seed-20260304T050607Z-2.jsonl"


# -- seeding and cleanup -------------------------------------------------------------------


def test_seed_then_reseed_then_cleanup_twice(tmp_path: Path) -> None:
    api = FakeApi()
    first = seed_target(TARGET, 5, manifest=tmp_path / "a.jsonl", seed=3, transport=api)
    assert (first.created, first.existing, first.failed) == (5, 0, 0)
    accounts = _accounts(tmp_path / "a.jsonl")
    source = SynthSource(3, SEED_WORKER)
    assert [a["email"] for a in accounts] == [source.scope(i, 0).person.email for i in range(5)]
    assert {a["status"] for a in accounts} == {"created"} and len(api.users) == 5

    again = seed_target(TARGET, 5, manifest=tmp_path / "b.jsonl", seed=3, transport=api)
    assert (again.created, again.existing) == (0, 5) and len(api.users) == 5
    assert [a["user_id"] for a in _accounts(tmp_path / "b.jsonl")] == [
        a["user_id"] for a in accounts
    ]
    assert {a["status"] for a in _accounts(tmp_path / "b.jsonl")} == {"existing"}

    removed = cleanup_manifest(read_manifest(tmp_path / "a.jsonl"), transport=api)
    assert removed.summary() == "removed 5, already gone 0, failed 0" and api.users == {}
    twice = cleanup_manifest(read_manifest(tmp_path / "b.jsonl"), transport=api)
    assert twice.summary() == "removed 0, already gone 5, failed 0"


def test_seeded_people_never_collide_with_load_workers(tmp_path: Path) -> None:
    seed_target(TARGET, 50, manifest=tmp_path / "m.jsonl", seed=0, transport=FakeApi())
    seeded = {str(a["email"]) for a in _accounts(tmp_path / "m.jsonl")}
    load = {
        SynthSource(0, w).scope(u, i).person.email
        for w in range(4)
        for u in range(50)
        for i in range(2)
    }
    assert not seeded & load


def test_taken_by_someone_else_and_rejected_people_fail_and_are_not_listed(
    tmp_path: Path,
) -> None:
    source = SynthSource(0, SEED_WORKER)
    taken, invalid = (source.scope(i, 0).person.email for i in (1, 2))
    api = FakeApi(users={taken.lower(): (99, "another password")}, reject={invalid.lower()})
    result = seed_target(TARGET, 4, manifest=tmp_path / "m.jsonl", transport=api)
    assert (result.created, result.failed) == (2, 2)
    assert set(result.failures) == {
        "email taken by an account with another password (not this person)",
        "POST /users answered 422 invalid",
    }
    assert len(_accounts(tmp_path / "m.jsonl")) == 2
    lines = list(seeding.describe_failures(result.failures))
    assert len(lines) == 2 and any(invalid in line for line in lines)


def test_target_down_from_the_start_leaves_no_manifest(tmp_path: Path) -> None:
    with pytest.raises(TargetUnavailable):
        seed_target(TARGET, 3, manifest=tmp_path / "m.jsonl", transport=FakeApi(down_after=0))
    assert not (tmp_path / "m.jsonl").exists()


def test_target_lost_midway_keeps_what_was_created(tmp_path: Path) -> None:
    api = FakeApi(down_after=2)
    with pytest.raises(TargetUnavailable):
        seed_target(TARGET, 5, manifest=tmp_path / "m.jsonl", transport=api)
    assert len(_accounts(tmp_path / "m.jsonl")) == 2 == len(api.users)
    api.down_after = None
    result = cleanup_manifest(read_manifest(tmp_path / "m.jsonl"), transport=api)
    assert result.removed == 2 and api.users == {}


def test_bad_arguments_are_refused_before_any_request(tmp_path: Path) -> None:
    api = FakeApi()
    with pytest.raises(UsageError, match="--people must be >= 0"):
        seed_target(TARGET, -1, manifest=tmp_path / "m.jsonl", transport=api)
    with pytest.raises(UsageError, match="worker must be in"):
        seed_target(TARGET, 1, manifest=tmp_path / "m.jsonl", worker=-1, transport=api)
    with pytest.raises(UsageError, match="unknown profile"):
        seed_target(TARGET, 1, manifest=tmp_path / "m.jsonl", profile="edgy", transport=api)
    assert api.calls == [] and not (tmp_path / "m.jsonl").exists()


def test_cleanup_deletes_the_user_the_token_belongs_to(tmp_path: Path) -> None:
    api = FakeApi()
    seed_target(TARGET, 1, manifest=tmp_path / "m.jsonl", transport=api)
    # the account was deleted and re-created since: a new id, the same credentials
    email, (old_id, password) = next(iter(api.users.items()))
    api.users[email] = (old_id + 100, password)
    assert cleanup_manifest(read_manifest(tmp_path / "m.jsonl"), transport=api).removed == 1
    assert ("DELETE", f"/users/{old_id + 100}") in api.calls and api.users == {}


def test_progress_every_tenth_and_every_interval() -> None:
    ticks = iter([0.0, 0.1, 0.2, 5.0, 5.1])
    out = io.StringIO()
    progress = Progress("seeded", 1000, out, clock=lambda: next(ticks))
    for done in (50, 100, 150, 160):
        progress.update(done)
    assert out.getvalue().splitlines() == ["seeded 100/1000", "seeded 150/1000"]
    quiet = io.StringIO()
    small = Progress("seeded", 20, quiet, clock=lambda: 0.0)
    for done in range(1, 21):
        small.update(done)
    assert quiet.getvalue() == ""  # short runs: only the summary


# -- command line --------------------------------------------------------------------------


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    """The CLI talks to one FakeApi instead of opening connections."""
    api = FakeApi()

    class Transport:
        def __init__(self, api_url: str, *, timeout: float, **_: object) -> None:
            assert api_url == "http://shop.test/api/v1" and timeout == 10.0

        def __enter__(self) -> FakeApi:
            return api

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(seeding, "HttpApiTransport", Transport)
    return api


def test_cli_seed_prints_the_manifest_path_and_cleanup_the_summary(
    fake_api: FakeApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        main(["seed", "--target", "http://shop.test", "--people", "3"], prog="harness synth") == 0
    )
    out, err = capsys.readouterr()
    manifest = Path(out.strip())
    assert manifest.parent == tmp_path / "results" and manifest.name.startswith("seed-")
    assert "created 3, existing 0, failed 0" in err
    assert read_manifest(manifest).header.worker == SEED_WORKER
    assert main(["cleanup", "--manifest", str(manifest)]) == 0
    assert capsys.readouterr().out == "removed 3, already gone 0, failed 0\n"


def test_cli_exit_1_when_some_people_fail(
    fake_api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.reject.add(SynthSource(0, SEED_WORKER).scope(0, 0).person.email.lower())
    path = tmp_path / "m.jsonl"
    args = ["seed", "--target", "http://shop.test", "--people", "2", "--manifest", str(path)]
    assert main(args) == 1
    assert "failed 1" in capsys.readouterr().err and len(_accounts(path)) == 1


def test_cli_target_down_is_one_line_exit_3(
    fake_api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_api.down_after = 2
    path = tmp_path / "m.jsonl"
    args = ["seed", "--target", "http://shop.test", "--people", "5", "--manifest", str(path)]
    assert main(args) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "target unavailable" in err and "Traceback" not in err
    assert f"cleanup --manifest {path}" in err  # what to do with the 2 accounts created


def test_cli_target_names_come_from_the_config(
    fake_api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "harness.toml"
    config.write_text(
        'results = "out"\n[targets.staging]\nurl = "http://shop.test"\n'
        '[targets.live]\nurl = "http://live.test"\nproduction = true\n'
    )
    base = ["seed", "--people", "1", "--config", str(config), "--target"]
    assert harness_synth([*base, "staging"]) == 0
    assert Path(capsys.readouterr().out.strip()).parent == tmp_path / "out"
    assert harness_synth([*base, "stagin"]) == 2
    assert "unknown target 'stagin'; did you mean 'staging'?" in capsys.readouterr().err
    assert harness_synth([*base, "live"]) == 2
    assert "production" in capsys.readouterr().err


def test_synth_alone_reads_no_harness_toml(
    fake_api: FakeApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """harness.toml is read by the harness only (`harness synth`, through `load_config`);
    `python -m synth` takes targets as URLs and says where names are known."""
    (tmp_path / "harness.toml").write_text(
        'results = "out"\n[targets.staging]\nurl = "http://shop.test"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["seed", "--people", "1", "--target", "http://shop.test"]) == 0
    assert Path(capsys.readouterr().out.strip()).parent == tmp_path / "results"
    assert main(["seed", "--people", "1", "--target", "staging"]) == 2
    assert "`harness synth seed` also knows harness.toml's names" in capsys.readouterr().err
    assert main(["seed", "--people", "1", "--target", "staging", "--config", "h.toml"]) == 2
    assert "reads no harness.toml" in capsys.readouterr().err
    assert harness_synth(["seed", "--people", "1", "--target", "staging"]) == 0
    assert Path(capsys.readouterr().out.strip()).parent == tmp_path / "out"


def test_synth_imports_no_configuration_reader() -> None:
    import ast

    found = [
        f"{path}:{node.lineno}"
        for path in sorted(Path("synth").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("harness.config")
    ]
    assert not found, f"synth reads harness.toml itself: {found}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["seed", "--people", "1"], "--target"),
        (["seed", "--target", "http://shop.test"], "--people"),
        (["seed", "--target", "http://shop.test", "--people", "x"], "invalid int value"),
        (["seed", "--target", "http://shop.test", "--people", "-1"], "--people must be >= 0"),
        (["seed", "--target", "http://shop.test", "--people", "1", "--worker", "-1"], "worker"),
        (["seed", "--target", "ftp://shop.test", "--people", "1"], "not a URL"),
        (["seed", "--target", "nowhere", "--people", "1"], "unknown target 'nowhere'"),
        (["seed", "--target", "x", "--people", "1", "--config", "/no/such.toml"], "does not"),
        (["cleanup"], "--manifest"),
        (["cleanup", "--manifest", "/no/such/manifest.jsonl"], "cannot read manifest"),
    ],
)
def test_cli_bad_input_exits_2(
    args: list[str],
    message: str,
    fake_api: FakeApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no harness.toml to be found
    assert harness_synth(args) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.startswith("harness synth ")
    assert "Traceback" not in captured.err and captured.out == ""
    assert fake_api.calls == [] and not (tmp_path / "results").exists()


def test_cli_cleanup_warns_about_a_torn_line(
    fake_api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.jsonl"
    seed_target(TARGET, 3, manifest=path, transport=fake_api)
    path.write_bytes(path.read_bytes()[:-10])
    assert main(["cleanup", "--manifest", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == "removed 2, already gone 0, failed 0\n" and "warning" in err
    assert len(fake_api.users) == 1  # the torn account is not listed: re-seed, then clean up


def test_seed_and_cleanup_help_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed", "--help"]) == 0
    assert "--people" in capsys.readouterr().out
    assert main(["cleanup", "-h"]) == 0
    assert "--manifest" in capsys.readouterr().out
    assert main(["--help"]) == 0
    assert "seed -h" in capsys.readouterr().out
