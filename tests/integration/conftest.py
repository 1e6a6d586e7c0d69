"""Fixtures that start real processes on loopback and always stop them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.sandbox.process import SandboxProcess, SandboxUrls

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxUrls]:
    """One baseline sandbox for the whole session, on a free port."""
    with SandboxProcess() as process:
        yield process.urls


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*args: str, cwd: Path = REPO, timeout: float = 180, html: bool = False) -> CliResult:
    """Run the real `harness` command line in a subprocess. Runs skip report.html
    (`HARNESS_HTML_REPORT=0`: its charts cost seconds of CPU a run) unless a test reads it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HARNESS_HTML_REPORT": "1" if html else "0"}
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        check=False,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def only_run_dir(results: Path) -> Path:
    """The single run folder under `results`."""
    runs = [p for p in results.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def step_records(run_dir: Path) -> list[dict]:
    """Every line of a run folder's steps.jsonl, parsed."""
    return [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]


@dataclass(frozen=True)
class LatencyRehearsal:
    """One rehearsal whose candidate's orders are 150 ms slower, shared by the tests that need
    a failed rehearsal (the gate that names the step, the report opened offline)."""

    run_dir: Path
    code: int
    output: str


@pytest.fixture(scope="session")
def latency_rehearsal(tmp_path_factory: pytest.TempPathFactory) -> LatencyRehearsal:
    results = tmp_path_factory.mktemp("latency-rehearsal")
    done = run_cli(
        "rehearse", "--sandbox", "--duration", "45s", "-k", "not browse and not cross",
        "--browser-users", "0", "--users", "6", "--regression", "latency:*.orders.create=+150ms",
        "--results", str(results), timeout=240,
    )  # fmt: skip
    return LatencyRehearsal(only_run_dir(results), done.code, done.out + done.err)
