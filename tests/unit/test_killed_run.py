"""A run killed outright (SIGKILL, the out-of-memory killer) never marks run.json: its readers
call it `killed` once its process is gone, say so in the report and JUnit, and never `running`."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from harness.report.folder import read_run
from harness.report.junit import junit_xml
from harness.report.summary import decision_of


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _folder(tmp_path: Path, **meta: object) -> Path:
    data = {
        "schema": 1,
        "run_id": "20261207-000000-load-test",
        "mode": "load",
        "status": "running",
        "host": platform.node(),
        **meta,
    }
    (tmp_path / "run.json").write_text(json.dumps(data))
    (tmp_path / "steps.jsonl").write_text("")
    return tmp_path


def test_a_running_run_whose_process_is_gone_reads_as_killed(tmp_path: Path) -> None:
    pid = _dead_pid()
    run = read_run(_folder(tmp_path, pid=pid))
    assert run.status == "killed"
    assert decision_of(run) == "error"
    assert run.reason is not None and f"pid {pid}" in run.reason and "killed" in run.reason
    error = junit_xml(run).getroot().find(".//error")
    assert error is not None and error.get("type") == "killed"
    assert f"pid {pid}" in (error.get("message") or "")


@pytest.mark.parametrize(
    "meta",
    [
        {"pid": os.getpid()},  # this process: still going on
        {"pid": 1, "host": platform.node() + "-elsewhere"},  # another host: cannot be checked
    ],
)
def test_a_run_that_may_still_be_going_on_stays_running(
    tmp_path: Path, meta: dict[str, object]
) -> None:
    assert read_run(_folder(tmp_path, **meta)).status == "running"


def test_a_finished_run_keeps_its_status(tmp_path: Path) -> None:
    run = read_run(_folder(tmp_path, status="aborted", pid=_dead_pid(), reason="SIGTERM"))
    assert run.status == "aborted"
    assert run.reason == "SIGTERM"
