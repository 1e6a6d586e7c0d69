"""The run history on a real PostgreSQL (Debian's `postgresql`): a cluster made by initdb in
a temporary folder, started on a free loopback port (as the `postgres` user when the tests run
as root: PostgreSQL refuses root), stopped by its PID and removed. The same run folders give
the same `harness history` output, trend report and rehearsal comparison as on SQLite."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.engine.network import free_port
from harness.gates.outcome import Decision
from harness.history.index import remember
from tests.history_runs import read_json, rehearsal_folder, sample_history

pytestmark = pytest.mark.integration


def _bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL is not installed: run scripts/ensure-servers.sh")
    return found[-1].parent


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A PostgreSQL server of its own for the session; its URL (trust auth on loopback)."""
    bindir = _bin()
    root = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    user = "postgres" if os.geteuid() == 0 else None
    if user is not None:
        shutil.chown(root, user)
    data, log = root / "data", root / "server.log"
    subprocess.run(
        [bindir / "initdb", "-D", data, "-A", "trust", "-U", "harness", "-E", "UTF8", "--no-sync"],
        user=user, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port = free_port()
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [bindir / "postgres", "-D", data, "-p", str(port), "-h", "127.0.0.1", "-k", root,
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            user=user, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            ready = subprocess.run(
                [bindir / "pg_isready", "-h", "127.0.0.1", "-p", str(port), "-U", "harness"],
                capture_output=True, check=False, timeout=10,
            )  # fmt: skip
            if ready.returncode == 0:
                break
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"PostgreSQL did not start: {log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield f"postgresql://harness@127.0.0.1:{port}/postgres"
    finally:
        server.send_signal(signal.SIGINT)  # fast shutdown: disconnect clients, then stop
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _unsalted(page: str) -> str:
    """The page with its chart's SVG left out (its ids are salted per chart drawn)."""
    return re.sub(r"<svg.*?</svg>", "<svg/>", page, flags=re.S)


def _history(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["history", *args]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_the_same_runs_give_the_same_history_on_sqlite_and_postgresql(
    postgres: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    sample_history(runs)
    config = tmp_path / "harness.toml"
    config.write_text(f'history = "{postgres}"\n')
    lite = ["--results", str(runs)]  # the default: runs/history.sqlite
    pg = ["--config", str(config), "--results", str(runs)]
    assert "indexed 5 runs" in _history(capsys, "index", str(runs))
    assert "indexed 5 runs" in _history(capsys, "index", str(runs), "--config", str(config))
    assert (runs / "history.sqlite").is_file()
    for query in (
        [],
        ["--target", "shop"],
        ["--journey", "checkout", "--step", "pay"],
        ["--step", "list products", "--since", "3650d"],
        ["--mode", "rehearse"],
    ):
        on_sqlite = _history(capsys, *lite, *query)
        assert on_sqlite == _history(capsys, *pg, *query), query
        assert len(on_sqlite.splitlines()) > 2, query
    lite_html, pg_html = tmp_path / "lite.html", tmp_path / "pg.html"
    _history(capsys, *lite, "--html", str(lite_html))
    _history(capsys, *pg, "--html", str(pg_html))
    # the same page, but for the chart's ids, which matplotlib salts per chart drawn
    assert _unsalted(lite_html.read_text()) == _unsalted(pg_html.read_text())
    assert "<svg" in lite_html.read_text()

    # a rehearsal ending now is indexed on PostgreSQL and compared with the one before it
    later = rehearsal_folder(
        runs, "20261206-000000-rehearse-0006", started_at="2026-12-06T00:00:00+00:00",
        decision=Decision.PASS,
    )  # fmt: skip
    assert remember(later, postgres, runs) is not None
    compared = read_json(later / "history.json")
    assert isinstance(compared, dict)
    assert [r["run_id"] for r in compared["runs"]] == ["20261205-000000-rehearse-0005"]
    assert "20261206-000000-rehearse-0006" in _history(capsys, *pg, "--mode", "rehearse")
