"""`synth seed` and `synth cleanup` against the real sandbox on a free loopback port."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness.errors import TargetUnavailable
from harness.sandbox.process import SandboxProcess, SandboxUrls
from harness.targets import Target
from synth.seed_api import HttpApiTransport
from synth.seed_manifest import read_manifest
from synth.seeding import seed_target
from tests.integration.conftest import REPO, CliResult, run_cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shop() -> Iterator[SandboxUrls]:
    """A sandbox of this module's own, so account counts are not shared with other tests."""
    with SandboxProcess() as process:
        yield process.urls


def synth(*args: str, cwd: Path) -> CliResult:
    """`python -m synth ARGS` in a subprocess."""
    done = subprocess.run(
        [sys.executable, "-m", "synth", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
        check=False,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def login_status(api: str, email: str, password: str) -> int:
    parts = urlsplit(api)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        body = json.dumps({"email": email, "password": password})
        conn.request("POST", f"{parts.path}/tokens", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = json.loads(response.read())
        if response.status == 201:
            assert isinstance(payload["token"], str) and isinstance(payload["user_id"], int)
        return response.status
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


def test_seed_reseed_cleanup_cleanup(shop: SandboxUrls, tmp_path: Path) -> None:
    seeded = synth("seed", "--target", shop.base, "--people", "20", "--seed", "5", cwd=tmp_path)
    assert seeded.code == 0, seeded.err
    manifest = Path(seeded.out.strip())
    assert manifest.is_file() and manifest.parent == tmp_path / "results"
    assert "created 20, existing 0, failed 0" in seeded.err
    first = read_manifest(manifest)
    assert first.header.api == shop.api and first.header.seed == 5
    assert len(first.accounts) == 20 and {a.status for a in first.accounts} == {"created"}
    assert all(login_status(shop.api, a.email, a.password) == 201 for a in first.accounts)

    again = synth(
        "seed", "--target", shop.base, "--people", "20", "--seed", "5", "--manifest", "b.jsonl",
        cwd=tmp_path,
    )  # fmt: skip
    assert again.code == 0 and again.out.strip() == "b.jsonl", again.err
    second = read_manifest(tmp_path / "b.jsonl")
    assert {a.status for a in second.accounts} == {"existing"}
    assert [a.user_id for a in second.accounts] == [a.user_id for a in first.accounts]

    cleaned = synth("cleanup", "--manifest", str(manifest), cwd=tmp_path)
    assert (cleaned.code, cleaned.out) == (0, "removed 20, already gone 0, failed 0\n")
    assert all(login_status(shop.api, a.email, a.password) == 401 for a in first.accounts)

    twice = synth("cleanup", "--manifest", "b.jsonl", cwd=tmp_path)
    assert (twice.code, twice.out) == (0, "removed 0, already gone 20, failed 0\n")


def test_harness_synth_mounts_seed_and_cleanup(shop: SandboxUrls, tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    seeded = run_cli(
        "synth", "seed", "--target", shop.base, "--people", "3", "--seed", "6",
        "--manifest", str(path),
    )  # fmt: skip
    assert seeded.code == 0 and seeded.out.strip() == str(path), seeded.err
    cleaned = run_cli("synth", "cleanup", "--manifest", str(path))
    assert (cleaned.code, cleaned.out) == (0, "removed 3, already gone 0, failed 0\n")
    bad = run_cli("synth", "seed", "--target", "nowhere", "--people", "1", cwd=tmp_path)
    assert bad.code == 2 and bad.err.startswith("harness synth seed: error: unknown target")


def test_crash_mid_write_then_reseed_and_cleanup(shop: SandboxUrls, tmp_path: Path) -> None:
    target = Target.from_base_url(shop.base)
    path = tmp_path / "torn.jsonl"
    seed_target(target, 5, manifest=path, seed=7)
    path.write_bytes(path.read_bytes()[:-30])  # as if killed while writing the last line
    torn = synth("cleanup", "--manifest", str(path), cwd=tmp_path)
    assert torn.code == 0 and torn.out == "removed 4, already gone 0, failed 0\n"
    assert "warning" in torn.err and "line 6 is incomplete" in torn.err
    # the unlisted fifth account: seeding the same people again finds it, cleanup removes it
    redo = seed_target(target, 5, manifest=tmp_path / "redo.jsonl", seed=7)
    assert (redo.created, redo.existing) == (4, 1)
    final = synth("cleanup", "--manifest", "redo.jsonl", cwd=tmp_path)
    assert final.out == "removed 5, already gone 0, failed 0\n"


def test_target_down_exits_3_without_a_manifest(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    down = synth("seed", "--target", url, "--people", "5", cwd=tmp_path)
    assert down.code == 3 and down.out == ""
    assert down.err.count("\n") == 1 and "target unavailable" in down.err, down.err
    assert "Traceback" not in down.err and not list(tmp_path.glob("results/*"))


def test_cleanup_of_a_target_that_went_away_exits_3(shop: SandboxUrls, tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    seed_target(Target.from_base_url(shop.base), 2, manifest=path, seed=8)
    elsewhere = f"http://127.0.0.1:{free_port()}"
    down = synth("cleanup", "--manifest", str(path), "--target", elsewhere, cwd=tmp_path)
    assert down.code == 3 and "safe to run again" in down.err and "Traceback" not in down.err
    assert synth("cleanup", "--manifest", str(path), cwd=tmp_path).code == 0


def test_transport_reconnects_after_the_server_closes_keep_alive(shop: SandboxUrls) -> None:
    with HttpApiTransport(shop.api, timeout=5) as api:
        assert api.call("GET", "/health").status == 200
        (connection,) = api.http._connections.values()  # type: ignore[attr-defined]
        connection._sock.shutdown(socket.SHUT_RDWR)  # as a server dropping an idle connection
        assert api.call("GET", "/health").body["status"] == "ok"
    with pytest.raises(TargetUnavailable, match="Connection refused"):
        HttpApiTransport(f"http://127.0.0.1:{free_port()}/api/v1").call("GET", "/health")


def test_seeding_rate(
    shop: SandboxUrls, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sequential, keep-alive seeding handles well over 200 people/s against the sandbox."""
    path = tmp_path / "rate.jsonl"
    result = seed_target(Target.from_base_url(shop.base), 1000, manifest=path, seed=9)
    assert result.created == 1000
    with capsys.disabled():
        print(f"\nseeded 1000 people at {result.rate:.0f} people/s")
    assert result.rate >= 200
    assert len(read_manifest(path).accounts) == 1000
