"""Who may join a distributed run: the master listens on loopback unless told otherwise, workers
and master prove a shared key to each other, and a worker without a master gives up in time.
Real processes on loopback, stopped by PID."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import pytest
import zmq

from harness.engine.network import free_port
from harness.sandbox.process import SandboxUrls
from tests.integration.conftest import REPO, only_run_dir

pytestmark = pytest.mark.integration

KEY = "test-cluster-key-0123456789abcdef"
HARNESS = [sys.executable, "-m", "harness.cli", "load"]


def environment(key: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_CLUSTER_KEY"}
    env["PYTHONUNBUFFERED"] = "1"
    if key is not None:
        env["HARNESS_CLUSTER_KEY"] = key
    return env


def listeners(port: int) -> list[str]:
    """The local addresses listening on `port`, from /proc/net/tcp and tcp6."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                if len(address) == 8:
                    found.append(".".join(str(b) for b in reversed(bytes.fromhex(address))))
                else:
                    found.append(f"ipv6:{address}")
    return found


def worker(port: int, key: str | None, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*HARNESS, "--worker", "--master-port", str(port), "--master-wait", "20s", *extra],
        cwd=REPO,
        env=environment(key),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def forge_steps(port: int) -> None:
    """What a hostile process on the network did: connect as a worker and report fabricated
    measurements, without the handshake."""
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, b"forger_1")
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://127.0.0.1:{port}")
    for kind, data in (
        ("client_ready", "2.47.0"),
        ("stats", {"harness": {"iterations": 10_028}, "user_classes_count": {}}),
        ("harness_final", {"iterations": 10_028}),
    ):
        sock.send(msgpack.dumps((kind, data, "forger_1")))
    sock.send(b"\x01garbage")  # malformed: must not take the master down
    time.sleep(0.5)
    sock.close()
    context.term()


def stop(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_the_master_binds_loopback_and_takes_only_workers_with_the_key(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    port = free_port()
    master = subprocess.Popen(
        [
            *HARNESS, "--master", "--expect-workers", "1", "--master-port", str(port),
            "--target", sandbox.base, "--users", "3", "--spawn-rate", "3", "--duration", "5s",
            "--browser-users", "0", "-k", "not browse and not web", "--results", str(tmp_path),
        ],
        cwd=REPO, env=environment(KEY), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    rogues: list[subprocess.Popen[str]] = []
    good: subprocess.Popen[str] | None = None
    try:
        deadline = time.monotonic() + 60
        while not listeners(port) and time.monotonic() < deadline and master.poll() is None:
            time.sleep(0.2)
        bound = listeners(port)
        ss = subprocess.run(["ss", "-ltn", f"sport = :{port}"], capture_output=True, text=True)
        print(ss.stdout)
        assert bound == ["127.0.0.1"], bound
        # Turned away first: no key, a wrong key, and a forger speaking the protocol by hand.
        rogues = [worker(port, None), worker(port, "another-key-0123456789abcdef")]
        for rogue in rogues:
            rogue.wait(timeout=60)
        forge_steps(port)
        good = worker(port, KEY)
        out, err = master.communicate(timeout=120)
        good_out, good_err = good.communicate(timeout=30)
    finally:
        stop(master, *rogues, *([good] if good else []))

    print(out)
    assert master.returncode == 0, out + err
    assert good.returncode == 0, good_out + good_err
    refusals = re.findall(r"WORKER REFUSED from (\S+) .*: (.+)", out)
    assert {reason for _, reason in refusals} >= {"no cluster key", "wrong cluster key"}
    assert any("before proving the cluster key" in r or r == "no cluster key" for _, r in refusals)
    assert all(address == "127.0.0.1" for address, _ in refusals), refusals
    assert "forger_1" in out
    no_key, wrong_key = (r.communicate()[1] if r.stderr else "" for r in rogues)
    assert rogues[0].returncode == 2 and "refused this worker: no cluster key" in no_key, no_key
    assert rogues[1].returncode == 2 and "did not prove" in wrong_key, wrong_key
    assert "Traceback" not in out + err + no_key + wrong_key
    run_dir = only_run_dir(tmp_path)
    run = json.loads((run_dir / "run.json").read_text())
    assert len(run["workers"]) == 1, run["workers"]  # the forger's 10,028 iterations are not
    assert run["iterations"] == sum(run["workers"].values()) < 10_028
    assert len(run["refused_workers"]) >= 3
    steps = [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]
    assert {r["worker"] for r in steps} == {0}
    assert sum(1 for r in steps if r["kind"] == "iteration") == run["iterations"]


@pytest.mark.parametrize(
    "command",
    [
        ["load", "--target", "http://127.0.0.1:1"],
        ["rehearse", "--baseline", "http://127.0.0.1:1", "--candidate", "http://127.0.0.1:2"],
    ],
)
def test_a_non_loopback_bind_without_a_key_exits_2_before_listening(
    command: list[str], tmp_path: Path
) -> None:
    port = free_port()
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable, "-m", "harness.cli", *command, "--master", "--master-bind", "0.0.0.0",
            "--master-port", str(port), "--duration", "5s", "--results", str(tmp_path),
        ],
        cwd=REPO, env=environment(None), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--master-bind 0.0.0.0 lets other machines connect" in done.stderr
    assert "HARNESS_CLUSTER_KEY" in done.stderr and "Traceback" not in done.stderr
    # Refused before the (dead) targets were even tried, and before anything listened.
    assert "did not answer" not in done.stdout + done.stderr
    assert not any(tmp_path.iterdir())
    assert time.monotonic() - started < 30


def test_a_worker_with_a_key_refuses_a_master_without_one(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    port = free_port()
    master = subprocess.Popen(
        [
            *HARNESS, "--master", "--expect-workers", "1", "--master-port", str(port),
            "--target", sandbox.base, "--duration", "5s", "--browser-users", "0",
            "-k", "not browse and not web", "--results", str(tmp_path),
        ],
        cwd=REPO, env=environment(None), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    follower = worker(port, KEY)
    try:
        _, err = follower.communicate(timeout=60)
    finally:
        stop(follower, master)
    assert follower.returncode == 2, err
    assert "without proving the cluster key" in err and "its plan was not run" in err
    assert not list(tmp_path.glob("*/traces/worker-*"))  # it never started a journey


def test_a_worker_without_a_master_gives_up_within_its_bound() -> None:
    port = free_port()
    started = time.monotonic()
    done = subprocess.run(
        [*HARNESS, "--worker", "--master-port", str(port), "--master-wait", "3s"],
        cwd=REPO, env=environment(KEY), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    took = time.monotonic() - started
    print(f"worker without a master gave up after {took:.1f} s: {done.stderr.strip()}")
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"no master answered at 127.0.0.1:{port} within 3 s" in done.stderr
    assert "Traceback" not in done.stderr
    assert took < 3 + 20  # start-up (imports) plus the bound, on a busy machine


def test_a_worker_whose_master_goes_away_ends_within_its_bound(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    port = free_port()
    master = subprocess.Popen(
        [
            *HARNESS, "--master", "--expect-workers", "1", "--master-port", str(port),
            "--target", sandbox.base, "--users", "2", "--spawn-rate", "2", "--duration", "60s",
            "--browser-users", "0", "-k", "not browse and not web", "--results", str(tmp_path),
        ],
        cwd=REPO, env=environment(KEY), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    follower = worker(port, KEY, "--master-wait", "4s")  # the later --master-wait wins
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not list(tmp_path.glob("*/steps.jsonl")):
            time.sleep(0.5)
        assert list(tmp_path.glob("*/steps.jsonl")), "the run never started"
        time.sleep(2)  # the worker is running journeys from the master's plan
        master.kill()
        master.wait()
        gone = time.monotonic()
        _, err = follower.communicate(timeout=60)
        took = time.monotonic() - gone
    finally:
        stop(master, follower)
    print(f"worker gave up {took:.1f} s after its master was killed: {err.strip()}")
    assert follower.returncode == 3, err
    assert f"the master at 127.0.0.1:{port} stopped answering" in err
    assert took < 4 + 30  # its bound, plus stopping its users on a busy machine


def test_a_master_waiting_for_workers_ends_on_sigterm(sandbox: SandboxUrls, tmp_path: Path) -> None:
    port = free_port()
    master = subprocess.Popen(
        [
            *HARNESS, "--master", "--expect-workers", "1", "--master-port", str(port),
            "--target", sandbox.base, "--duration", "5s", "--browser-users", "0",
            "-k", "not browse and not web", "--results", str(tmp_path),
        ],
        cwd=REPO, env=environment(KEY), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not listeners(port) and time.monotonic() < deadline and master.poll() is None:
            time.sleep(0.2)
        assert listeners(port) == ["127.0.0.1"]
        master.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        out, err = master.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        stop(master)
    assert master.returncode == 3, out + err
    assert "stopped by SIGTERM while waiting for workers (0 of 1 connected)" in err
    assert took < 15  # it used to wait out its 60 s for workers
