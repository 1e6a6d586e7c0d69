"""SIGTERM during a load run stops the users and still writes what was measured."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.sandbox.process import SandboxUrls
from harness.telemetry.hdr import HdrStore
from tests.integration.conftest import REPO, only_run_dir

pytestmark = pytest.mark.integration


def test_sigterm_marks_the_run_aborted_and_keeps_its_measurements(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "load",
        "--target",
        sandbox.base,
        "--users",
        "3",
        "--duration",
        "60s",
        "--browser-users",
        "0",
        "-k",
        "api_catalog",
        "--results",
        str(tmp_path),
    ]
    load = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(6.0)
        load.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        out, err = load.communicate(timeout=30)
        stopped_after = time.monotonic() - sent
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()

    assert load.returncode == 3, out + err
    assert "ABORTED by SIGTERM" in out and "Traceback" not in err
    run_dir = only_run_dir(tmp_path)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "aborted" and run["reason"] == "SIGTERM"
    assert run["iterations"] > 0
    lines = (run_dir / "steps.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # every line intact
    store = HdrStore.read(run_dir / "histograms")
    assert sum(store.count(k) for k in store if k.is_iteration) == run["iterations"]
    assert (run_dir / "summary.md").is_file()
    assert stopped_after < 15  # generous: the run itself had 54 s left
