"""`harness load` across processes: a master and its workers merge exactly, local workers start,
run and end (and die with a killed harness), a lost worker is reported, and Locust's web UI
answers. None reads a verdict, so they run in make test's parallel pass."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.engine.network import free_port
from harness.sandbox.process import SandboxUrls
from harness.telemetry.hdr import HdrStore
from tests.integration.conftest import REPO, only_run_dir, step_records
from tests.integration.test_load import step_counts

pytestmark = pytest.mark.integration


def _workers_of(parent: int) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-P", str(parent), "-f", "harness.cli load --worker"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    return [int(pid) for pid in found]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    # a zombie no longer runs anything: it waits for its reaper (init, once the parent is gone)
    return not (stat.exists() and stat.read_text().split(") ")[1].startswith("Z"))


def test_master_and_two_workers_merge_histograms_exactly(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    port = free_port()
    # Master and workers prove a shared key to each other (given in the environment, which `ps`
    # does not show); the master listens on 127.0.0.1 by default.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HARNESS_CLUSTER_KEY": "k" * 32}
    harness = [sys.executable, "-m", "harness.cli", "load"]
    master = subprocess.Popen(
        [
            *harness,
            "--master",
            "--expect-workers",
            "2",
            "--master-port",
            str(port),
            "--target",
            sandbox.base,
            "--users",
            "6",
            "--spawn-rate",
            "6",
            "--duration",
            "6s",
            "--browser-users",
            "0",
            "-k",
            "not browse and not web",
            "--results",
            str(tmp_path),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    workers = [
        subprocess.Popen(
            [*harness, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        out, err = master.communicate(timeout=120)
        worker_errors = [w.communicate(timeout=30)[1] for w in workers]
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
            process.communicate()  # reaps it and closes its pipes

    assert master.returncode == 0, out + err
    assert all(w.returncode == 0 for w in workers), worker_errors
    run_dir = only_run_dir(tmp_path)
    run = json.loads((run_dir / "run.json").read_text())
    assert len(run["workers"]) == 2 and all(n > 0 for n in run["workers"].values())
    assert run["missing_workers"] == []
    merged = HdrStore.read(run_dir / "histograms")
    parts = [HdrStore.read(p) for p in sorted((run_dir / "histograms" / "by-source").iterdir())]
    assert len(parts) == 2
    assert len(merged) > 0
    for key in merged:
        assert merged.count(key) == sum(p.count(key) for p in parts), key
    counted = step_counts(step_records(run_dir))
    assert all(merged.count(k) == n for k, n in counted.items())
    # Both workers generated synthetic people, and no two iterations shared one.
    people = [r["person"] for r in step_records(run_dir) if r["kind"] == "iteration"]
    assert len(people) == len(set(people)) == run["iterations"]
    assert {r["worker"] for r in step_records(run_dir)} == {0, 1}


def test_processes_two_starts_local_workers_that_run_and_end(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    # Workers are spawned from Locust's monkey-patched master after its listener greenlet is
    # running; a Python-level fork ran that greenlet in the child, which then never exec'd.
    harness = [sys.executable, "-m", "harness.cli", "load", "--target", sandbox.base]
    process = subprocess.Popen(
        [
            *harness,
            "--processes",
            "2",
            "--users",
            "4",
            "--spawn-rate",
            "4",
            # the workers' shares of 60 iterations (30 each) end the run, not --duration
            "--max-iterations",
            "60",
            "--duration",
            "60s",
            "--browser-users",
            "0",
            "-k",
            "not browse and not cross",
            "--results",
            str(tmp_path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, out + err
    run = json.loads((only_run_dir(tmp_path) / "run.json").read_text())
    assert len(run["workers"]) == 2 and all(n > 0 for n in run["workers"].values())
    assert run["missing_workers"] == []
    # k6's `iterations`: the run ended once each worker had made its share, none cut off
    assert (run["iterations"], run["cut_off"]) == (60, 0), out
    assert run["elapsed_s"] < 45 and "--max-iterations 60 spent after" in out, out
    # No worker (nor a stray forked copy of the master) outlives the run.
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)


def test_local_workers_die_with_a_harness_killed_by_sigkill(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    command = [
        sys.executable, "-m", "harness.cli", "load", "--target", sandbox.base, "--processes", "2",
        "--users", "2", "--spawn-rate", "2", "--duration", "60s", "--browser-users", "0",
        "-k", "not browse and not cross", "--results", str(tmp_path),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
            workers = _workers_of(process.pid)
        assert len(workers) == 2, "the two local workers did not start"
        time.sleep(1.0)  # past their start-up, into the run
        process.kill()  # SIGKILL: the harness cannot stop its workers itself
        process.wait()
        deadline = time.monotonic() + 10  # a worker left alone would wait 60 s for its master
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "a local worker outlived its harness"
    finally:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_lost_worker_is_reported_and_the_master_goes_on(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    command = [
        sys.executable, "-m", "harness.cli", "load", "--target", sandbox.base, "--processes", "2",
        "--users", "4", "--spawn-rate", "4", "--duration", "14s", "--browser-users", "0",
        "-k", "not browse and not cross", "--results", str(tmp_path),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline:
            time.sleep(0.5)
            steps = list(tmp_path.glob("*/steps.jsonl"))
            if steps and steps[0].stat().st_size > 5_000:  # both workers are running journeys
                workers = subprocess.run(
                    ["pgrep", "-s", str(process.pid), "-f", "harness.cli load --worker"],
                    capture_output=True, text=True, check=False,
                ).stdout.split()  # fmt: skip
                victim = int(workers[0]) if workers else None
        assert victim is not None, "no worker to stop"
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        out, err = process.communicate(timeout=120)
        ended_after = time.monotonic() - killed_at
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert "WORKER LOST at" in out and "Traceback" not in out + err
    assert process.returncode == 1, out + err
    assert ended_after < 45, "the master should not wait long for a worker it knows is lost"
    run_dir = only_run_dir(tmp_path)
    run = json.loads((run_dir / "run.json").read_text())
    assert len(run["missing_workers"]) == 1
    assert run["iterations"] > 0 and (run_dir / "report.html").exists()


def test_the_locust_web_ui_answers_during_a_run_on_loopback(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    """--web-ui serves Locust's UI on 127.0.0.1 while the run goes on (its index page once
    parsed the harness's command line and ended every run with exit 2)."""
    import urllib.request

    port = free_port()
    command = [
        sys.executable, "-m", "harness.cli", "load", "--target", sandbox.base, "--users", "2",
        "--duration", "8s", "--browser-users", "0", "-k", "not browse and not cross",
        "--web-ui", "--web-port", str(port), "--results", str(tmp_path),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        status, deadline = None, time.monotonic() + 60
        while status is None and time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
                    status = reply.status
            except OSError:
                time.sleep(0.3)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()  # reaps it and closes its pipes
    assert status == 200, out + err
    assert process.returncode == 0, out + err
