"""`harness load` end to end on Locust: local with Chromium, distributed master/workers, and the
open model under a stalled target."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from harness.history.query import runs_of
from harness.history.store import HistoryStore, history_url
from harness.sandbox.process import SandboxProcess, SandboxUrls
from harness.telemetry.hdr import HdrStore, SeriesKey
from harness.touchpoints.chromium_sandbox import decide, user_namespaces
from tests.integration.conftest import REPO, only_run_dir, run_cli, step_records

# `alone` test by test: a test whose verdict cannot depend on the CPU it gets (a limit of
# 1 ms, a million samples, a 3 s run, a gate blind by design) shares the parallel pass.
pytestmark = [pytest.mark.integration]


def step_counts(records: list[dict]) -> Counter[SeriesKey]:
    return Counter(
        SeriesKey(r["target"], r["journey"], r["step"], r["touchpoint"])
        for r in records
        if r["kind"] == "step"
    )


@pytest.mark.alone
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
    counted = step_counts(step_records(run_dir))
    assert counted and all(store.count(k) == n for k, n in counted.items())
    health = json.loads((run_dir / "health.json").read_text())
    assert health["samples"] and {"cpu", "lag_ms", "browser_cpu"} <= set(health["samples"][0])
    # whether Chromium kept its sandbox (off as root, with the reason), told by its process
    assert run["browser"] == decide(os.geteuid(), user_namespaces()).as_dict()
    # indexed in the run history when it ended, with the run's own counts
    store = HistoryStore.open(history_url(None, tmp_path))
    (indexed,) = runs_of(store)
    store.close()
    assert (indexed.run_id, indexed.mode, indexed.decision) == (run_dir.name, "load", "pass")
    assert indexed.iterations == sum(ran.values())


@pytest.mark.alone
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
    records = step_records(only_run_dir(tmp_path))
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
    recorded = [r for r in step_records(run_dir) if r.get("step") == "open home"]
    assert recorded and {r["journey"] for r in recorded} == {"browse_slowly"}


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


@pytest.mark.alone
def test_a_journey_leaking_a_megabyte_an_iteration_is_flagged(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    (tmp_path / "leaky.py").write_text(LEAKY_JOURNEY)
    result = run_cli(
        "load", "--target", sandbox.base, "--journeys", str(tmp_path / "leaky.py"),
        "--users", "1", "--spawn-rate", "1", "--duration", "12s", "--browser-users", "0",
        "--results", str(tmp_path / "results"), timeout=120, html=True,
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


def test_a_run_ends_once_its_max_iterations_are_done(sandbox: SandboxUrls, tmp_path: Path) -> None:
    """k6's `iterations` and Locust's `--iterations`: a run whose budget is spent ends then, with
    every iteration finished, instead of idling to the end of --duration (a 60 s run of 40
    iterations lasted 60 s). Across processes: test_load_workers.py."""
    result = run_cli(
        "load", "--target", sandbox.base, "--journeys", str(REPO / "journeys"),
        "-k", "api_catalog", "--browser-users", "0", "--users", "4",
        "--max-iterations", "40", "--duration", "60s", "--results", str(tmp_path),
    )  # fmt: skip
    out = result.out + result.err
    assert result.code == 0, out
    run = json.loads((only_run_dir(tmp_path) / "run.json").read_text())
    assert (run["iterations"], run["cut_off"]) == (40, 0), out
    assert run["elapsed_s"] < 40, out  # a few seconds' work, even on a busy machine
    assert "--max-iterations 40 spent after" in out
