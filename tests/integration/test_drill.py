"""`harness drill` on the sandbox, through real drill proxies, with real Locust: the default gates
catch each fault of the issue and report when; a fault no gate catches exits 1; A/A runs raise no
false alarm; a bad spec is a usage error. API-only journeys and short runs keep each under a
minute."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.report.offline import open_offline
from harness.touchpoints.web import CHROMIUM_FLAGS, find_chromium
from tests.integration.conftest import run_cli

# `alone` test by test: a test whose verdict cannot depend on the CPU it gets (a limit of
# 1 ms, a million samples, a 3 s run, a gate blind by design) shares the parallel pass.
pytestmark = [pytest.mark.integration]

PROTOCOL = ["-k", "not browse and not cross", "--browser-users", "0", "--users", "6"]


def coverage_offline(report: Path) -> tuple[str, list[str]]:
    """The coverage table's text in the drill's report.html, opened offline in Chromium, and
    what went wrong on the page."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_chromium(), args=list(CHROMIUM_FLAGS)
        )
        try:
            page, problems = open_offline(browser, report)
            return page.locator("#coverage table").inner_text(), problems
        finally:
            browser.close()


def drill(tmp_path: Path, *args: str, html: bool = False) -> tuple[int, dict, str]:
    result = run_cli("drill", "--sandbox", *PROTOCOL, *args, "--results", str(tmp_path), html=html)
    output = result.out + result.err
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 1, output[-3000:]
    record = json.loads((folders[0] / "drill.json").read_text())
    assert (folders[0] / "report.html").is_file() and (folders[0] / "summary.md").is_file()
    return result.code, record, output


def hit(finding: dict, kind: str) -> dict:
    return next(g for g in finding["gates"] if g["kind"] == kind)


@pytest.mark.alone
def test_uniform_latency_of_a_half_on_one_step_is_caught(tmp_path: Path) -> None:
    # The sandbox's pay step takes ~5 ms, all of it noise on a shared 2-core machine; give its
    # route a realistic 30 ms of service time on both sides, then slow the candidate's by half.
    # Each side's own drift does not cancel in the pairing, and on this machine it is large
    # (every candidate step ±10% over a minute): the paired judge, which learns it across the
    # steps (issue 22), could catch about +30% in 40 s, so +20% in 24 s was below its reach.
    # --min-samples 20 keeps the other gates' minimums low enough for a short run.
    code, record, output = drill(
        tmp_path,
        "--duration",
        "40s",
        "--min-samples",
        "20",
        "--regression",
        "latency:api.orders.create=+30ms",
        "--fault",
        "latency:api.orders.create=+50%",
    )
    assert code == 0, output[-3000:]
    (finding,) = record["faults"]
    typical = hit(finding, "paired")
    assert typical["decision"] == "fail" and "`pay`" in typical["summary"]
    assert typical["detected_after_s"] is not None
    assert finding["proxy_applied"] > 100
    assert "PASS: every fault was caught" in output


@pytest.mark.alone
def test_tail_latency_on_a_tenth_of_one_route_is_caught_by_tail_shift(tmp_path: Path) -> None:
    code, record, output = drill(
        tmp_path,
        "--duration",
        "15s",
        "--fault",
        "latency:api.orders.create=+300ms@10%",
        "--expect",
        "tail_shift",
    )
    assert code == 0, output[-3000:]
    (finding,) = record["faults"]
    assert finding["caught_by"] == ["tail latency per step (p95, p99)"]
    assert 0 < hit(finding, "tail_shift")["detected_after_s"] <= 15
    assert "coverage:" in output and "tail_shift" in output


@pytest.mark.alone
def test_errors_on_one_route_are_caught(tmp_path: Path) -> None:
    # 10%, not 2%: beside a CPU hog the candidate placed about 100 orders in 14 s, and 2% of
    # them (2 errors) is evidence for no gate; "not caught, inconclusive" was then right.
    code, record, output = drill(
        tmp_path, "--duration", "14s", "--fault", "errors:mobile.orders.create=10%"
    )
    assert code == 0, output[-3000:]
    (finding,) = record["faults"]
    caught = {g["kind"]: g["detected_after_s"] for g in finding["gates"] if g["decision"] == "fail"}
    assert {"relative", "sequential"} & set(caught), finding
    assert all(seconds is not None for seconds in caught.values())


@pytest.mark.alone
@pytest.mark.browser
def test_a_blocked_funnel_step_is_caught_by_the_funnel_gate(tmp_path: Path) -> None:
    code, record, output = drill(
        tmp_path, "--duration", "12s", "--fault", "funnel:checkout=20%", "--expect", "funnel"
    )
    assert code == 0, output[-3000:]
    (finding,) = record["faults"]
    funnel = hit(finding, "funnel")
    assert funnel["decision"] == "fail" and funnel["detected_after_s"] is not None
    # the run's verdict names the conversion that dropped (test_rehearse.py's own funnel
    # rehearsal was this one without the proxy: the drill's rehearsal judges the same gate)
    assert "conversion of `api_catalog_and_orders` end to end" in output, output[-3000:]
    # the coverage matrix in the drill's report.html, opened offline in real Chromium
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    table, problems = coverage_offline(folder / "report.html")
    assert "funnel:checkout=20%" in table and f"✗ {funnel['detected_after_s']:g} s" in table
    assert problems == []


@pytest.mark.alone
def test_a_dropped_traceparent_is_caught_by_trace_completeness(tmp_path: Path) -> None:
    code, record, output = drill(
        tmp_path,
        "--duration",
        "10s",
        "--fault",
        "traceparent:*=drop",
        "--expect",
        "trace_completeness",
        html=True,
    )
    assert code == 0, output[-3000:]
    (finding,) = record["faults"]
    traces = hit(finding, "trace_completeness")
    assert traces["decision"] == "fail" and "→ 0.0%" in traces["summary"]
    assert traces["detected_after_s"] is not None
    # the fault touched tracing only: no latency, error or conversion gate tripped
    assert finding["caught_by"] == ["trace completeness vs baseline"]
    # the run is an ordinary rehearsal folder whose report names the drill and the fault
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    page = (folder / finding["run_id"] / "report.html").read_text()
    assert "failure drill" in page and "traceparent:*=drop" in page


@pytest.mark.alone
def test_a_fault_in_a_window_is_detected_and_the_gates_recover(tmp_path: Path) -> None:
    # 60% of checkouts blocked for 5 s: over the 15 s run a drop of about a fifth, clear of the
    # funnel's 5 pp margin even on a busy machine (30% failed 1 run in 2 beside stress-ng, the
    # whole run's funnel inconclusive once the replay spent its alpha over its looks).
    code, record, output = drill(
        tmp_path, "--duration", "15s", "--fault", "funnel:checkout=60%,after=3s,for=5s"
    )
    assert code == 0, output[-3000:]
    (finding,) = record["faults"]
    assert finding["window_s"] == 5.0
    funnel = hit(finding, "funnel")
    assert funnel["decision"] == "fail"
    assert funnel["detected_after_s"] is not None and funnel["recovered_after_s"] is not None
    assert "passed again" in output


def test_a_fault_the_expected_gate_misses_exits_1_naming_it(tmp_path: Path) -> None:
    code, record, output = drill(
        tmp_path,
        "--duration",
        "5s",
        "--fault",
        "jitter:api.products.get=1ms",
        "--expect",
        "trace_completeness",
    )
    assert code == 1, output[-3000:]
    assert record["faults"][0]["caught"] is False
    assert "the gates are blind to jitter:api.products.get=1ms" in output


@pytest.mark.alone
def test_aa_runs_raise_no_false_alarm(tmp_path: Path) -> None:
    code, record, output = drill(tmp_path, "--aa", "--runs", "2", "--duration", "8s")
    assert code == 0, output[-3000:]
    assert [run["decision"] for run in record["aa"]].count("fail") == 0
    assert len(record["aa"]) == 2
    assert "A/A: 2 runs" in output
