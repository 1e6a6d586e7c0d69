"""Where load may go: loopback by default, hosts marked `allow_load`, and a production target
only when named on the command line. Each refusal happens before any load, with exit 2."""

from __future__ import annotations

import socket
from pathlib import Path

from harness.exitcodes import ExitCode
from tests.integration.conftest import REPO, run_cli

JOURNEYS = str(REPO / "journeys")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _load(cwd: Path, *args: str) -> tuple[int, str]:
    result = run_cli(
        "load",
        *args,
        "--journeys",
        JOURNEYS,
        "-k",
        "api_catalog",
        "--duration",
        "2s",
        "--browser-users",
        "0",
        "--results",
        str(cwd / "results"),
        cwd=cwd,
        timeout=60,
    )
    return result.code, result.out + result.err


def test_load_outside_loopback_is_refused_before_any_request(tmp_path: Path) -> None:
    code, text = _load(tmp_path, "--target", "http://203.0.113.7:8080")
    assert code == ExitCode.USAGE
    assert "refusing to send load to 203.0.113.7" in text and "allow_load = true" in text
    assert not (tmp_path / "results").exists()


def test_production_target_needs_to_be_named(tmp_path: Path) -> None:
    port = _closed_port()
    (tmp_path / "harness.toml").write_text(
        f'[targets.live]\nurl = "http://127.0.0.1:{port}"\nproduction = true\nallow_load = true\n'
    )
    code, text = _load(tmp_path, "--target", "live")
    assert code == ExitCode.USAGE
    assert "marked production" in text and "--allow-production live" in text
    code, text = _load(tmp_path, "--target", "live", "--allow-production", "other")
    assert code == ExitCode.USAGE
    # Named: the guard lets it through, and the next check finds nothing listening (exit 3).
    code, text = _load(tmp_path, "--target", "live", "--allow-production", "live")
    assert code == ExitCode.HARNESS_ERROR, text
    assert "marked production" not in text and "Traceback" not in text
