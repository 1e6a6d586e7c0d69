"""The sandbox process: readiness banner, start-up time, signals, bad specs, failures."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import SpecError, TargetUnavailable
from harness.sandbox.process import SandboxProcess

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def _spawn(*args: str) -> Iterator[subprocess.Popen[str]]:
    """`python -m harness.sandbox ARGS`; killed on the way out if a test left it running."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "-m", "harness.sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as child:
        try:
            yield child
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()


def _health(base: str) -> str:
    with urllib.request.urlopen(f"{base}/api/v1/health", timeout=5) as reply:
        return str(reply.headers["X-Release"])


def test_start_is_fast_and_stop_is_clean() -> None:
    process = SandboxProcess("baseline")
    started = time.perf_counter()
    urls = process.start()
    elapsed = time.perf_counter() - started
    try:
        print(f"sandbox ready in {elapsed:.2f}s")
        assert elapsed < 5.0  # the target is < 2 s; slack for a loaded CI machine
        assert urls.api == f"{urls.base}/api/v1" and urls.web == f"{urls.base}/"
        assert urls.mobile == f"{urls.base}/mobile/v2"
        assert _health(urls.base) == "baseline"
    finally:
        process.stop()
    assert process.returncode == 0  # SIGTERM is a clean stop
    process.stop()  # idempotent
    with pytest.raises(OSError):
        _health(urls.base)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_banner_is_exact_and_signals_exit_zero(sig: signal.Signals) -> None:
    with _spawn("--port", "0", "--release", "candidate") as child:
        assert child.stdout is not None
        lines = [child.stdout.readline().rstrip("\n") for _ in range(4)]
        base = lines[0].removeprefix("sandbox ready at ").removesuffix(" (release candidate)")
        assert lines == [
            f"sandbox ready at {base} (release candidate)",
            f"  web     {base}/",
            f"  api     {base}/api/v1",
            f"  mobile  {base}/mobile/v2",
        ]
        assert base.startswith("http://127.0.0.1:") and int(base.rsplit(":", 1)[1]) > 0
        assert _health(base) == "candidate"
        child.send_signal(sig)
        _, err = child.communicate(timeout=10)
        assert child.returncode == 0
        assert "Traceback" not in err


def test_malformed_spec_exits_2_with_a_message_and_no_traceback() -> None:
    with _spawn("--port", "0", "--regression", "errors:api.nothing=5%") as child:
        out, err = child.communicate(timeout=30)
    assert child.returncode == 2
    assert err.startswith("harness sandbox: regression spec 'errors:api.nothing=5%'")
    assert "matches no route" in err and "Traceback" not in err and out == ""


def test_sandbox_process_validates_specs_before_spawning() -> None:
    process = SandboxProcess("candidate", ["funnel:pay=5%"])
    with pytest.raises(SpecError, match="unknown funnel step"):
        process.start()
    with pytest.raises(RuntimeError):
        _ = process.pid


def test_a_busy_port_is_a_usage_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with _spawn("--port", str(port)) as child:
            _, err = child.communicate(timeout=30)
    assert child.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in err


def test_not_ready_in_time_is_target_unavailable_and_the_child_is_stopped() -> None:
    process = SandboxProcess(ready_timeout=0.001)
    with pytest.raises(TargetUnavailable, match="not ready within"):
        process.start()
    assert process.returncode is not None  # stopped, not left running


def test_context_manager_stops_on_exceptions(tmp_path: Path) -> None:
    log = tmp_path / "sandbox.log"
    with pytest.raises(ZeroDivisionError), SandboxProcess(log_path=log) as process:
        pid = process.pid
        _ = 1 / 0
    assert process.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert log.exists()


def test_db_option_keeps_data_across_restarts(tmp_path: Path) -> None:
    db = tmp_path / "shop.sqlite3"
    for attempt in range(2):
        with _spawn("--port", "0", "--db", str(db)) as child:
            assert child.stdout is not None
            base = child.stdout.readline().split()[3]
            request = urllib.request.Request(
                f"{base}/api/v1/users",
                data=b'{"email": "keep@example.com", "password": "secret123", "name": "K"}',
                method="POST",
            )
            try:
                urllib.request.urlopen(request, timeout=5)
                created = True
            except urllib.error.HTTPError as exc:
                assert exc.code == 409
                created = False
            assert created is (attempt == 0)
            child.terminate()
            child.communicate(timeout=10)
            assert child.returncode == 0
    assert db.exists()


def test_list_routes_prints_every_route_name() -> None:
    with _spawn("--list-routes") as child:
        out, _ = child.communicate(timeout=30)
    assert child.returncode == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert "api.orders.create" in names and "mobile.orders.reorder" in names
    assert len(names) == 29


PARENT = """
import sys, time
from harness.sandbox.process import SandboxProcess
from harness.faults.process import ProxyProcess
from harness.target_http import TargetHttp
sandbox = SandboxProcess("baseline")
urls = sandbox.start()
proxy = ProxyProcess(urls.base, [], http=TargetHttp())
proxy.start()
print(sandbox.pid, proxy.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose: it no longer serves, it waits for its reaper
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
            return False
    return True


def test_the_sandbox_and_a_drill_proxy_die_with_a_harness_killed_by_sigkill(
    tmp_path: Path,
) -> None:
    # ... and leave nothing in the temporary folder: their logs and the proxy's stats and
    # settings were named files there, which only a harness that lived to stop them removed
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "TMPDIR": str(scratch),
    }
    with subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, env=env
    ) as parent:
        children: list[int] = []
        try:
            assert parent.stdout is not None
            children = [int(pid) for pid in parent.stdout.readline().split()]
            assert len(children) == 2 and all(_alive(pid) for pid in children)
            parent.kill()  # SIGKILL: the harness cannot stop anything itself
            parent.wait()
            deadline = time.monotonic() + 15
            while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not any(_alive(pid) for pid in children), "a child outlived its harness"
            assert sorted(p.name for p in scratch.iterdir()) == []
        finally:
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if parent.poll() is None:
                parent.kill()


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
def test_cpus_keep_the_sandbox_on_the_cores_given() -> None:
    one = frozenset({min(os.sched_getaffinity(0))})
    with SandboxProcess(cpus=one) as sandbox:
        assert os.sched_getaffinity(sandbox.pid) == one
    with SandboxProcess() as free:  # by default, where this process may run
        assert os.sched_getaffinity(free.pid) == os.sched_getaffinity(0)
