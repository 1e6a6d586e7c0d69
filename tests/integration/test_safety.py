"""Where load may go: loopback by default, hosts marked `allow_load`, and a production target
only when named on the command line. Each refusal happens before any load, with exit 2."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from harness.exitcodes import ExitCode
from harness.sandbox.process import SandboxUrls
from tests.integration.conftest import REPO, only_run_dir, run_cli

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


def _drill(cwd: Path, *args: str) -> tuple[int, str]:
    result = run_cli(
        "drill", *args, "--fault", "latency:api=+1ms", "--journeys", JOURNEYS, "-k", "api_catalog",
        "--duration", "2s", "--browser-users", "0", "--results", str(cwd / "results"),
        cwd=cwd, timeout=60,
    )  # fmt: skip
    return result.code, result.out + result.err


def test_drill_outside_loopback_is_refused_before_any_request(tmp_path: Path) -> None:
    """The drill puts local proxies in front of the target; the guard checks the real upstream
    (it once checked the proxies and sent 5,564 requests to 127.0.0.2)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.2", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        code, text = _drill(tmp_path, "--target", f"http://127.0.0.2:{port}")
        assert code == ExitCode.USAGE, text
        assert "refusing to send load to 127.0.0.2" in text
        try:
            listener.accept()
            raise AssertionError("the drill connected to 127.0.0.2")
        except BlockingIOError:
            pass
    assert not (tmp_path / "results").exists()


def test_drill_checks_each_production_upstream_under_its_own_name(tmp_path: Path) -> None:
    port = _closed_port()
    (tmp_path / "harness.toml").write_text(
        f'[targets.live]\nurl = "http://127.0.0.1:{port}"\nproduction = true\nallow_load = true\n'
        f'[targets.twin]\nurl = "http://127.0.0.1:{port}"\nproduction = true\n'
    )
    code, text = _drill(tmp_path, "--target", "live", "--baseline", "twin")
    assert code == ExitCode.USAGE and "--allow-production live" in text, text
    code, text = _drill(
        tmp_path, "--target", "live", "--baseline", "twin", "--allow-production", "live"
    )
    assert code == ExitCode.USAGE and "--allow-production twin" in text, text


def test_drill_against_a_dead_target_exits_3_before_any_load(tmp_path: Path) -> None:
    code, text = _drill(tmp_path, "--target", f"http://127.0.0.1:{_closed_port()}")
    assert code == ExitCode.HARNESS_ERROR, text
    assert "did not answer" in text and "PASS" not in text
    assert not (tmp_path / "results").exists()


def test_credentials_on_the_command_line_are_never_stored_or_printed(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    # A dead target given with a password: the error names it without the password.
    code, text = _load(tmp_path, "--target", f"http://bob:hunter2@127.0.0.1:{_closed_port()}")
    assert code == ExitCode.HARNESS_ERROR and "hunter2" not in text and "bob" not in text
    # A run with an OTLP endpoint holding a password and a token: run.json, the reports and
    # the output keep neither.
    endpoint = "http://otel:s3cr3t@127.0.0.1:1/?token=t0k3n"
    code, text = _load(
        tmp_path, "--target", sandbox.base, "--otlp-endpoint", endpoint,
    )  # fmt: skip
    assert code == ExitCode.PASSED, text
    run_dir = only_run_dir(tmp_path / "results")
    stored = "".join(p.read_text(errors="replace") for p in run_dir.iterdir() if p.is_file()) + text
    for secret in ("s3cr3t", "t0k3n"):
        assert secret not in stored, secret
    run = json.loads((run_dir / "run.json").read_text())
    assert "http://127.0.0.1:1/?token=[redacted]" in run["command"]
