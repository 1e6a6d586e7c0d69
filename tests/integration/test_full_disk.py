"""A disk that fills up during a load: the run stops, says why in one line, exits 3, and marks
run.json `error` where it can still be written. A real file system of 2 MB (tmpfs), mounted by
the test and unmounted whatever happens."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.exitcodes import ExitCode
from harness.sandbox.process import SandboxUrls
from tests.integration.conftest import REPO, only_run_dir, run_cli

pytestmark = pytest.mark.integration


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_disk_stops_the_load_with_exit_3_and_run_json_error(
    sandbox: SandboxUrls, small_disk: Path
) -> None:
    started = time.monotonic()
    result = run_cli(
        "load", "--target", sandbox.base, "--journeys", str(REPO / "journeys"),
        "-k", "not browse and not web", "--users", "6", "--browser-users", "0",
        "--duration", "60s", "--results", str(small_disk), timeout=120,
    )  # fmt: skip
    took = time.monotonic() - started
    text = result.out + result.err
    assert result.code == ExitCode.HARNESS_ERROR, text[-3000:]
    assert "Traceback" not in text and "internal error" not in text
    assert text.count("No space left on device") <= 3, text[-3000:]
    assert "ERROR: cannot write" in text and "No space left on device" in text
    assert took < 50, f"the run went on for {took:.0f} s on a full disk"
    run = json.loads((only_run_dir(small_disk) / "run.json").read_text())
    assert run["status"] == "error" and "No space left on device" in run["reason"]
