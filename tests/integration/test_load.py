"""`harness load` end to end on Locust: local with Chromium, distributed master/workers, and the
open model under a stalled target."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from harness.engine.network import free_port
from harness.sandbox.process import SandboxProcess, SandboxUrls
from harness.telemetry.hdr import HdrStore, SeriesKey
from harness.touchpoints.chromium_sandbox import decide, user_namespaces
from tests.integration.conftest import REPO, only_run_dir, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.alone]


def lines(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]


def step_counts(records: list[dict]) -> Counter[SeriesKey]:
    return Counter(
        SeriesKey(r["target"], r["journey"], r["step"], r["touchpoint"])
        for r in records
        if r["kind"] == "step"
    )


def test_local_load_with_browser_users_summarises_every_journey_and_step(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    """Four users and one browser slot run all four sample journeys: each API/mobile journey has
    its own user, and the slot runs both browser journeys in turn. 25 s: on a busy machine one
    browser iteration, Chromium's start included, took 12 s, and a slot that has not reached
    its second journey's turn rightly fails the run ("never ran")."""
    result = run_cli(
        "load",
        "--target",
        sandbox.base,
        "--users",
        "4",
        "--spawn-rate",
        "4",
        "--duration",
        "25s",
        "--browser-users",
        "1",
        "--results",
        str(tmp_path),
    )

    assert result.code == 0, result.out + result.err
    run_dir = only_run_dir(tmp_path)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "passed" and run["mode"] == "load" and run["iterations"] > 0
    counts = json.loads((run_dir / "counts.json").read_text())
    ran = {j["journey"]: j["iterations"] for j in counts["journeys"]}
    assert set(ran) == set(run["selected_journeys"]) and len(ran) == 4
    assert all(n > 0 for n in ran.values()), ran
    summary = (run_dir / "summary.md").read_text()
    for name in (
        "api_catalog_and_orders",
        "mobile_reorder",
        "browse_and_buy",
        "web_mobile_api_order",
        "› pay",
        "› checkout",
    ):
        assert name in summary
    head = "| journey / step | touchpoint | count | failed | cut off | p50 | p95 | p99 | max |"
    assert head in summary
    assert "it/s" in result.out  # the live progress line
    assert "generator: CPU median" in result.out
    # Every step line in steps.jsonl is in the merged histograms, and nothing else is.
    store = HdrStore.read(run_dir / "histograms")
    counted = step_counts(lines(run_dir))
    assert counted and all(store.count(k) == n for k, n in counted.items())
    health = json.loads((run_dir / "health.json").read_text())
    assert health["samples"] and {"cpu", "lag_ms", "browser_cpu"} <= set(health["samples"][0])
    # whether Chromium kept its sandbox (off as root, with the reason), told by its process
    assert run["browser"] == decide(os.geteuid(), user_namespaces()).as_dict()


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
    counted = step_counts(lines(run_dir))
    assert all(merged.count(k) == n for k, n in counted.items())
    # Both workers generated synthetic people, and no two iterations shared one.
    people = [r["person"] for r in lines(run_dir) if r["kind"] == "iteration"]
    assert len(people) == len(set(people)) == run["iterations"]
    assert {r["worker"] for r in lines(run_dir)} == {0, 1}


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
            "--duration",
            "5s",
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
    # No worker (nor a stray forked copy of the master) outlives the run.
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)


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


def test_arrival_model_shows_a_target_stall_as_latency(tmp_path: Path) -> None:
    with SandboxProcess() as target:
        command = [
            sys.executable,
            "-m",
            "harness.cli",
            "load",
            "--target",
            target.urls.base,
            "--shape",
            "arrival",
            "--rate",
            "20",
            "--max-users",
            "6",
            "--duration",
            "8s",
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
            time.sleep(4.0)
            os.kill(target.pid, signal.SIGSTOP)
            time.sleep(1.5)
            os.kill(target.pid, signal.SIGCONT)
            out, err = load.communicate(timeout=90)
        finally:
            os.kill(target.pid, signal.SIGCONT)
            if load.poll() is None:
                load.kill()
                load.communicate()  # reaps it and closes its pipes

    assert load.returncode in (0, 1), out + err
    records = lines(only_run_dir(tmp_path))
    iterations = [r for r in records if r["kind"] == "iteration"]
    steps = [r for r in records if r["kind"] == "step"]
    slow_iterations = [r for r in iterations if r["duration_ms"] >= 800]
    slow_steps = [r for r in steps if r["duration_ms"] >= 800]
    # Only the 6 users in flight saw the stall inside a step; every arrival scheduled during
    # it waited for a user, and the open model counts that wait as latency.
    assert len(slow_steps) <= 6
    assert len(slow_iterations) >= 12, [r["duration_ms"] for r in iterations]
    assert max(r["duration_ms"] for r in iterations) >= 1400
    assert any((r.get("late_ms") or 0) > 500 for r in iterations)
    assert "late" in out


NEVER_FINISHES = """
import time
from harness import journey


@journey
def quick(j):
    with j.step("look", on="api"):
        j.api.get("/products")


@journey
def stuck(j):
    with j.step("wait", on="api"):
        time.sleep(60)
"""


def test_a_journey_that_never_finishes_is_listed_with_zero_and_fails_the_load(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "two.py").write_text(NEVER_FINISHES)
    result = run_cli(
        "load", "--target", sandbox.base, "--journeys", "j", "--users", "2", "--duration", "3s",
        "--browser-users", "0", "--results", str(tmp_path / "results"), cwd=tmp_path,
    )  # fmt: skip
    assert result.code == 1, result.out + result.err
    # its one iteration was still in its step when the load stopped: cut off, not "never ran"
    assert "journey `stuck` finished no iteration (1 cut off by the end of the load)" in result.out
    run_dir = only_run_dir(tmp_path / "results")
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "failed" and run["never_ran"] == ["stuck"] and run["cut_off"] == 1
    assert "| stuck | — | 0 | 0 | 1 | none finished |" in (run_dir / "summary.md").read_text()
    listed = json.loads((run_dir / "summary.json").read_text())["journeys"]
    assert {j["journey"]: (j["iterations"], j["cut_off"]) for j in listed}["stuck"] == (0, 1)
    assert 'message="none finished: 0 iterations, 1 cut off"' in (run_dir / "junit.xml").read_text()
    assert "none finished: 0 iterations, 1 cut off" in (run_dir / "report.html").read_text()


CUT_OFF_IN_THE_BROWSER = """
import time
from harness import journey


@journey
def api_quick(j):
    with j.step("look", on="api"):
        j.api.get("/products")


@journey
def browse_slowly(j):
    with j.step("open home", on="web"):
        j.web.goto("/")
    with j.step("linger", on="web"):
        time.sleep(60)
"""


def test_steps_of_a_cut_off_browser_iteration_belong_to_their_own_journey(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    """The browser journey's iterations are all cut off by the end of the load, after its first
    step was recorded: that step is listed under `browse_slowly` (which reads "none finished",
    1 cut off), never under `api_quick`, the journey listed before it."""
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "two.py").write_text(CUT_OFF_IN_THE_BROWSER)
    result = run_cli(
        "load", "--target", sandbox.base, "--journeys", "j", "--users", "2", "--duration", "4s",
        "--browser-users", "1", "--results", str(tmp_path / "results"), cwd=tmp_path,
    )  # fmt: skip
    assert result.code == 1, result.out + result.err
    shown = result.out.splitlines()
    table = [line for line in shown if line.startswith(("api_", "browse", "  › "))]
    browse = next(i for i, line in enumerate(table) if line.startswith("browse_slowly"))
    assert "none finished" in table[browse] and table[browse].split()[4] == "1", table
    assert table[browse + 1].split()[1:4] == ["open", "home", "web"], table
    api = table[: table.index(next(line for line in table if line.startswith("api_quick"))) + 2]
    assert not any("open home" in line for line in api), table
    run_dir = only_run_dir(tmp_path / "results")
    summary = (run_dir / "summary.md").read_text()
    assert summary.index("| browse_slowly |") < summary.index("|   › open home | web |")
    counts = json.loads((run_dir / "counts.json").read_text())["journeys"]
    assert {j["journey"]: j["cut_off"] for j in counts}["browse_slowly"] == 1
    recorded = [r for r in lines(run_dir) if r.get("step") == "open home"]
    assert recorded and {r["journey"] for r in recorded} == {"browse_slowly"}


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


# thresholds decide on intervals (issue 22): a 5 s load has too few iterations for a p95's
# distribution-free upper bound (72 needed) or a 5% error rate's, so a median and a loose limit
THRESHOLDS = """
[[gates]]
kind = "threshold"
name = "{name}"
metric = "p50"
op = "{op}"
value = "{value}"
journeys = ["api_catalog_and_orders", "mobile_reorder"]
{extra}

[[gates]]
kind = "threshold"
metric = "error_rate"
value = "50%"

[[gates]]
kind = "tail_shift"
"""


@pytest.mark.parametrize(
    ("name", "op", "value", "extra", "expected"),
    [
        ("journeys within 30 s", "<=", "30s", "", "pass"),
        ("catalog under 1 ms", "<", "1ms", "", "fail"),
        ("a million samples", "<=", "30s", "min_samples = 1000000", "inconclusive"),
    ],
)
def test_load_judges_the_threshold_gates_of_harness_toml(
    sandbox: SandboxUrls, tmp_path: Path, name: str, op: str, value: str, extra: str, expected: str
) -> None:
    """k6-style thresholds: a plain load judges the `threshold` gates (exit 0 when they hold,
    1 naming the gate when one cannot, 4 when one could not be judged), writes verdict.json,
    and says once that the gates which compare against a baseline do not apply."""
    config = tmp_path / "harness.toml"
    config.write_text(THRESHOLDS.format(name=name, op=op, value=value, extra=extra))
    result = run_cli(
        "load", "--target", sandbox.base, "--config", str(config), "--users", "2",
        "--journeys", str(REPO / "journeys"),
        "--duration", "5s", "--browser-users", "0", "-k", "api_catalog or mobile_reorder",
        "--results", str(tmp_path / "results"),
    )  # fmt: skip
    out = result.out + result.err
    assert out.count("not judged in a plain load") == 1, out
    assert "(tail_shift)" in out
    assert "judging 2 threshold gates of harness.toml" in out
    verdict = json.loads((only_run_dir(tmp_path / "results") / "verdict.json").read_text())
    assert [g["kind"] for g in verdict["gates"]] == ["threshold", "threshold"]
    if expected == "pass":
        # a generator saturated by a busy machine cannot vouch for latencies: inconclusive
        saturated = "the load generator was saturated" in out
        assert result.code == 0 or (result.code == 4 and saturated), out
        assert verdict["decision"] == ("pass" if result.code == 0 else "inconclusive")
    elif expected == "inconclusive":
        assert result.code == 4, out
        assert f"INCONCLUSIVE: {name}: " in out and "1,000,000" in out, out
        assert verdict["decision"] == "inconclusive"
    else:
        assert result.code == 1, out
        assert f"FAIL: {name}: " in out and "limit < 1.0 ms" in out, out
        assert verdict["decision"] == "fail" and verdict["reasons"][0].startswith(name)


LEAKY_JOURNEY = """
import time

from harness import journey

KEPT = []


@journey
def leaky(j):
    with j.step("keep a megabyte", on="api"):
        if len(KEPT) < 200:  # bounded: at most 200 MB, whatever the machine's speed
            KEPT.append(bytearray(b"\\x01") * (1 << 20))  # written, so resident
        time.sleep(0.1)
"""


def test_a_journey_leaking_a_megabyte_an_iteration_is_flagged(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    (tmp_path / "leaky.py").write_text(LEAKY_JOURNEY)
    result = run_cli(
        "load", "--target", sandbox.base, "--journeys", str(tmp_path / "leaky.py"),
        "--users", "1", "--spawn-rate", "1", "--duration", "12s", "--browser-users", "0",
        "--results", str(tmp_path / "results"), timeout=120,
    )  # fmt: skip
    assert result.code in (0, 4), result.out + result.err  # a leak warns; it decides nothing
    run_dir = only_run_dir(tmp_path / "results")
    health = json.loads((run_dir / "health.json").read_text())
    assert all("rss_mb" in s for s in health["samples"])
    summary = health["summary"]
    assert summary["memory_growing"], summary
    assert summary["rss_growth_mb"] >= 50 and summary["rss_slope_mb_per_min"] >= 10
    assert "WARNING: generator memory grew" in result.out
    assert "WARNING**: generator memory grew" in (run_dir / "summary.md").read_text()
    assert "Warning: generator memory grew" in (run_dir / "report.html").read_text()
