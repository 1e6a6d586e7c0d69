"""SIGTERM during a load run stops the users and still writes what was measured."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.gates.data import RunData
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
            load.communicate()  # reaps it and closes its pipes

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


def test_after_sigkill_every_flushed_line_is_readable_and_the_spans_are_kept(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    command = [
        sys.executable, "-m", "harness.cli", "load", "--target", sandbox.base, "--users", "3",
        "--duration", "60s", "--browser-users", "0", "-k", "api_catalog",
        "--results", str(tmp_path),
    ]  # fmt: skip
    load = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            # Killed once a histogram checkpoint (every 10 s) has been written.
            if list(tmp_path.glob("*/histograms/index.json")):
                break
            time.sleep(0.5)
        load.send_signal(signal.SIGKILL)
        load.wait(timeout=10)
    finally:
        if load.poll() is None:
            load.kill()
            load.communicate()  # reaps it and closes its pipes
    run_dir = only_run_dir(tmp_path)
    steps_file = run_dir / "steps.jsonl"
    with open(steps_file, "a", encoding="utf-8") as handle:
        handle.write('{"kind": "step", "journey": "torn by the ki')  # as a kill mid-write would
    complete = steps_file.read_text().splitlines()[:-1]
    assert len(complete) > 10
    assert all(json.loads(line)["run_id"] == run_dir.name for line in complete)
    # The readers skip the torn line: the report is re-rendered from the folder, and the run's
    # data (records and the last histogram checkpoint) loads as the gates would read it.
    report = subprocess.run(
        [sys.executable, "-m", "harness.cli", "report", str(run_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert report.returncode == 0, report.stdout + report.stderr
    assert (run_dir / "report.html").stat().st_size > 10_000
    data = RunData.load(run_dir)
    assert sum(data.hdr.count(key) for key in data.hdr) > 0
    # The orphaned span sidecar exported what was spooled before the kill, then exited.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and list(run_dir.glob("*.spool")):
        size = (
            (run_dir / "traces.jsonl").stat().st_size if (run_dir / "traces.jsonl").exists() else 0
        )
        time.sleep(1.5)
        if size and size == (run_dir / "traces.jsonl").stat().st_size:
            break
    spans = [line for line in (run_dir / "traces.jsonl").read_text().splitlines() if line]
    assert spans and all(json.loads(line)["resourceSpans"] for line in spans)
