"""A journey that logs in with a session cookie and then reads its account, against httpbin
(PyPI, under gunicorn) through `harness smoke`, `harness load` and `harness rehearse`: the
cookie is kept within an iteration and gone at the next one's start. `alone`: the rehearsal
reads a verdict."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import only_run_dir, run_cli
from tests.integration.http_servers import httpbin

pytestmark = [pytest.mark.integration, pytest.mark.alone]

JOURNEY = '''\
"""Log in with a session cookie, then read the account it opens (httpbin's cookies)."""

import secrets

from harness import journey


@journey(tags={"cookie"})
def cookie_account(j):
    """A log-in sets a session cookie; the account read afterwards is sent it."""
    session = secrets.token_hex(8)
    with j.step("log in", on="api"):
        assert j.api.get("/cookies").json() == {"cookies": {}}, "a cookie left from before"
        landed = j.api.get("/cookies/set", params={"session": session}).json()
        assert landed["cookies"] == {"session": session}
    with j.step("read account", on="api"):
        account = j.api.get("/cookies").json()
        assert account["cookies"]["session"] == session
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project folder: the journey, and two targets naming the same httpbin (by IP and by
    name, as a rehearsal wants two)."""
    folder = tmp_path_factory.mktemp("cookie-project")
    (folder / "journeys").mkdir()
    (folder / "journeys" / "session_cookie.py").write_text(JOURNEY)
    with httpbin(folder) as url:
        port = url.rsplit(":", 1)[1]
        lines = []
        for name, host in (("bin", "127.0.0.1"), ("bin2", "localhost")):
            lines.append(f"[targets.{name}]")
            lines += [f'{kind} = "http://{host}:{port}/"' for kind in ("web", "api", "mobile")]
        (folder / "harness.toml").write_text("\n".join(lines) + "\n")
        yield folder


def steps(run_dir: Path) -> list[dict]:
    lines = (run_dir / "steps.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "step"]


def cli(project: Path, results: Path, *args: str) -> tuple[int, str, Path]:
    common = ["--config", str(project / "harness.toml"), "--journeys", str(project / "journeys")]
    done = run_cli(*args, *common, "--results", str(results), cwd=project, timeout=240)
    return done.code, done.out + done.err, only_run_dir(results)


def test_smoke_keeps_the_session_cookie_between_steps(project: Path, tmp_path: Path) -> None:
    code, output, run_dir = cli(project, tmp_path, "smoke", "--target", "bin")
    assert code == 0, output
    records = steps(run_dir)
    assert [(r["step"], r["outcome"]) for r in records] == [
        ("log in", "passed"),
        ("read account", "passed"),
    ]
    # the log-in's redirect to /cookies is a request of its step
    assert [q["status"] for q in records[0]["requests"]] == [200, 302, 200]


def test_load_and_rehearse_keep_each_users_cookie_per_iteration(
    project: Path, tmp_path: Path
) -> None:
    load = ["load", "--target", "bin", "--users", "3", "--duration", "4s"]
    code, output, run_dir = cli(project, tmp_path / "load", *load)
    assert code == 0, output
    records = steps(run_dir)
    assert records and all(r["outcome"] == "passed" for r in records), output
    rehearse = ["rehearse", "--baseline", "bin", "--candidate", "bin2", "--users", "3"]
    code, output, run_dir = cli(
        project, tmp_path / "rehearse", *rehearse, "--duration", "5s", "--browser-users", "0"
    )
    assert code in (0, 4), output  # PASS, or INCONCLUSIVE on a busy machine: few samples
    records = steps(run_dir)
    assert {r["target"] for r in records} == {"bin", "bin2"}
    assert all(r["outcome"] == "passed" for r in records), output
