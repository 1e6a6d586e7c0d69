"""`harness rollout` and `--flag-matrix` on the sandbox, with real Locust and real sandboxes:
a clean candidate is promoted stage by stage; a candidate whose regression appears only under
load is rolled back once a stage has enough evidence, with the rollback hook run exactly once;
a failing hook stops the rollout before any load; a flag matrix finds a regression attached to
the flag in the flagged variant only."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import REPO, only_run_dir, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.alone]

PROTOCOL = ["-k", "not browse and not cross", "--browser-users", "0"]


def rollout(tmp_path: Path, *args: str, html: bool = False) -> tuple[int, dict[str, Any], str]:
    result = run_cli(
        "rollout", "--sandbox", *PROTOCOL, *args, "--results", str(tmp_path / "runs"),
        timeout=150, html=html,
    )  # fmt: skip
    run_dir = only_run_dir(tmp_path / "runs")
    record = json.loads((run_dir / "rollout.json").read_text())
    return result.code, record, result.out + result.err


#: the default rollout gates with an error margin of 5 pp and no p95 gate: gates pass only on
#: evidence, and 0 errors in a few hundred iterations is evidence for 5 pp, not for the default
#: 1 pp (at 25% of 8 users that needs minutes), as ~400 samples of a busy 2-core machine's p95
#: are not within 25% (CI -23% to +69% seen); the stages' mechanics are what this test tests
CLEAN_GATES = """
[[gates]]
kind = "relative"
name = "error rate vs baseline"
metric = "error_rate"
margin = "5pp"
critical = true

[[gates]]
kind = "sequential"
name = "error split (anytime-valid)"
abort = true

[[gates]]
kind = "relative"
name = "journey latency (p50)"
metric = "p50"
margin = "25%"

[[gates]]
kind = "funnel"
name = "conversion vs baseline"
max_drop = "5pp"
"""


def test_a_clean_candidate_is_promoted_to_100_percent(tmp_path: Path) -> None:
    config = tmp_path / "harness.toml"
    config.write_text(f'journeys = "{REPO / "journeys"}"\n{CLEAN_GATES}')
    code, record, output = rollout(
        tmp_path,
        *("--users", "8", "--stages", "50,100", "--stage-duration", "5s"),
        *("--min-samples", "40", "--max-extensions", "4", "--config", str(config)),
        html=True,
    )
    assert (code, record["outcome"]) == (0, "promoted"), output[-3000:]
    assert record["final_share"] == 100
    widened = [s for s in record["stages"] if s["decision"] in ("widen", "promote")]
    assert [s["share"] for s in widened] == [50]
    for stage in record["stages"]:
        assert stage["decision"] in ("widen", "extend", "promote")
        # Each cohort got about its share of the stage's people.
        total = stage["baseline"]["iterations"] + stage["candidate"]["iterations"]
        assert abs(stage["candidate"]["iterations"] / total - stage["share"] / 100) < 0.12
    run_dir = only_run_dir(tmp_path / "runs")
    assert json.loads((run_dir / "verdict.json").read_text())["decision"] == "pass"
    html = (run_dir / "report.html").read_text()
    assert "class=stages" in html and "promote" in html


def test_a_regression_under_load_rolls_back_with_enough_evidence(tmp_path: Path) -> None:
    events = tmp_path / "rollback-events.jsonl"
    code, record, output = rollout(
        tmp_path,
        *("--users", "10", "--stages", "20,60,100", "--stage-duration", "5s"),
        *("--min-samples", "50", "--max-extensions", "4"),
        *("--regression", "contention:*.orders.create=+30ms"),
        *("--on-rollback", f"cat >> {events}; echo >> {events}"),
    )
    assert (code, record["outcome"]) == (1, "rolled_back"), output[-3000:]
    assert record["final_share"] == 0
    last = record["stages"][-1]
    assert last["decision"] == "rollback"
    # Not before its minimum samples: every series that decided had at least 50 per cohort.
    failing = [
        e
        for g in last["evidence"]
        for e in g["evidence"]
        if e["decision"] == "fail" and g["kind"] != "sequential"
    ]
    assert failing and all(e["n_candidate"] >= 50 and e["n_baseline"] >= 50 for e in failing)
    assert any("p95" in e["words"] for e in failing), failing
    assert all(s["decision"] in ("widen", "extend") for s in record["stages"][:-1])
    # The rollback hook ran exactly once, with the stage and the reason.
    lines = [json.loads(x) for x in events.read_text().splitlines() if x.strip()]
    assert len(lines) == 1, lines
    assert lines[0]["decision"] == "rollback" and lines[0]["stage"] == last["stage"]
    assert lines[0]["share"] == 0 and lines[0]["evidence"]["share"] == last["share"]
    assert lines[0]["evidence"]["stage"] == last["stage"]
    assert lines[0]["run_id"] == only_run_dir(tmp_path / "runs").name
    assert "p95" in lines[0]["reason"] or "latency" in lines[0]["reason"]
    assert [h["hook"] for h in record["hooks"]] == ["on_rollback"]
    # Detection is timed from the first request the contention slowed, as the sandbox says.
    assert record["first_effect_source"] == "candidate /health"
    assert 0 <= record["detection_s"] <= last["ended_s"] + 1
    assert "rolled back at" in output


def test_errors_roll_back_early_on_the_anytime_valid_split(tmp_path: Path) -> None:
    """The error split is looked at every second of a stage: a candidate failing one order in
    ten is rolled back long before its 40 s stage would end."""
    code, record, output = rollout(
        tmp_path,
        *("--users", "8", "--stages", "50,100", "--stage-duration", "40s"),
        *("--regression", "errors:*.orders.create=10%"),
    )
    assert (code, record["outcome"]) == (1, "rolled_back"), output[-3000:]
    look = record["stages"][-1]
    assert look["early"] and look["decision"] == "rollback" and look["ended_s"] < 30
    split = next(g for g in look["gates"] if g["name"] == "error split (anytime-valid)")
    assert split["decision"] == "fail"
    assert "early, by a live gate" in output


def test_a_flag_matrix_finds_the_regression_in_the_flagged_variant_only(tmp_path: Path) -> None:
    result = run_cli(
        "rehearse",
        "--sandbox",
        *PROTOCOL,
        # 20 s: beside a CPU hog 15 s gave `place order` 123 values a side, and at the tail
        # gate's 0.4% share of the 2.5% one of the two order steps stayed inconclusive
        *("--users", "6", "--duration", "20s", "--min-samples", "60"),
        *("--flag-matrix", "new_checkout=on,off"),
        *("--regression", "latency:*.orders.create=+150ms;flag=new_checkout"),
        *("--results", str(tmp_path)),
        timeout=120,
    )
    output = result.out + result.err
    assert result.code == 1, output[-3000:]
    verdict = json.loads((only_run_dir(tmp_path) / "verdict.json").read_text())
    assert verdict["baseline"]["name"] == "new_checkout.off"
    assert verdict["candidate"]["name"] == "new_checkout.on"
    tail = next(g for g in verdict["gates"] if g["kind"] == "tail_shift")
    assert tail["decision"] == "fail"
    # The checkout steps (each places an order) of the flagged variant carry the 150 ms; the
    # off variant's are as fast as usual, and steps away from checkout do not move.
    checkout = ("`pay`", "`place order`", "`reorder`")
    p95 = [e for e in tail["evidence"] if e["words"].startswith("p95")]
    paid = [e for e in p95 if any(step in e["series"] for step in checkout)]
    assert len(paid) == 3, paid
    for e in paid:
        assert e["candidate"] - e["baseline"] > 100, e["words"]
    # `reorder` also reorders (a second, slower route), so its interval is wider: the two steps
    # that only place an order must fail.
    assert all(e["decision"] == "fail" for e in paid if "`reorder`" not in e["series"]), paid
    # Steps away from checkout do not carry the regression. (Their p95 is a few ms, and on a
    # busy 2-core machine such a tail can still move by a few ms and trip the 20% margin — that
    # noise is not the flag's 150 ms.)
    others = [e for e in p95 if e not in paid]
    assert others
    moved = [e for e in others if e["candidate"] - e["baseline"] > 50]
    assert not moved, [e["words"] for e in moved]


def test_an_interrupted_rollout_keeps_its_stage_record(tmp_path: Path) -> None:
    """rollout.json is rewritten after every look, so SIGTERM mid-rollout keeps the decisions
    made so far (and the run is marked aborted)."""
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "rollout",
        "--sandbox",
        *PROTOCOL,
        *("--users", "8", "--stages", "50,100", "--stage-duration", "3s"),
        # looks that do not decide: 500 samples are out of reach in one look of 3 s, and in
        # reach of 21 (an unreachable minimum would hold at the first look)
        *("--min-samples", "500", "--max-extensions", "20"),
        *("--results", str(tmp_path)),
    ]
    child = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 40
        record = None
        while time.monotonic() < deadline and record is None:
            time.sleep(0.5)
            found = list(tmp_path.glob("*/rollout.json"))
            if found and json.loads(found[0].read_text())["stages"]:
                record = found[0]
        assert record is not None, "no look recorded within 40 s"
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()  # reaps it and closes its pipes
    assert child.returncode == 3 and "Traceback" not in err, out + err
    kept = json.loads(record.read_text())
    assert kept["stages"] and kept["stages"][0]["decision"] == "extend"
    assert json.loads((record.parent / "run.json").read_text())["status"] == "aborted"
