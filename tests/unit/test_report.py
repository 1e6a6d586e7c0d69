"""Reports of small synthetic run folders: report.html, junit.xml and summary.json, on every
mode and on folders a killed run left half-written."""

from __future__ import annotations

import base64
import html as html_module
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from harness.errors import ErrorKind
from harness.gates.outcome import Decision, Evidence, GateOutcome
from harness.gates.verdict import Verdict
from harness.records import IterationRecord, Outcome, RequestRecord, StepRecord, Touchpoint
from harness.report import write_all, write_junit, write_report, write_summary_json
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey

T0 = 1_795_000_000.0
TRACE = "6efc4fbe449ff710cddf4392ac062d22"


def _step(
    journey: str,
    step: str,
    index: int,
    touchpoint: str,
    *,
    target: str = "sandbox",
    ms: float = 12.0,
    failed: bool = False,
    iteration: int = 0,
    url: str = "http://127.0.0.1:8000/api/v1/orders/42",
) -> StepRecord:
    return StepRecord(
        run_id="r",
        target=target,
        journey=journey,
        step=step,
        index=index,
        touchpoint=Touchpoint(touchpoint),
        worker=0,
        user=0,
        iteration=iteration,
        started_at=T0 + iteration,
        duration_ms=ms,
        outcome=Outcome.FAILED if failed else Outcome.PASSED,
        error_kind=ErrorKind.ASSERTION if failed else None,
        message="element not found" if failed else None,
        requests=(RequestRecord(method="GET", url=url, status=200, duration_ms=ms),),
        trace_id=TRACE if failed else None,
    )


def _iteration(
    journey: str,
    *,
    target: str = "sandbox",
    ms: float = 40.0,
    failed_at: tuple[str, str] | None = None,
    artifacts: tuple[str, ...] = (),
    iteration: int = 0,
) -> IterationRecord:
    return IterationRecord(
        run_id="r",
        target=target,
        journey=journey,
        worker=0,
        user=0,
        iteration=iteration,
        started_at=T0 + iteration,
        duration_ms=ms,
        outcome=Outcome.FAILED if failed_at else Outcome.PASSED,
        steps_passed=1,
        steps_total=2,
        failed_step=failed_at[0] if failed_at else None,
        failed_touchpoint=Touchpoint(failed_at[1]) if failed_at else None,
        error_kind=ErrorKind.ASSERTION if failed_at else None,
        message="element not found" if failed_at else None,
        artifacts=artifacts,
        trace_id=TRACE if failed_at else None,
    )


def _write_lines(path: Path, records: list[Any]) -> None:
    path.write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")


def _run_json(folder: Path, mode: str, status: str, targets: dict[str, Any]) -> None:
    meta = {
        "run_id": folder.name,
        "mode": mode,
        "status": status,
        "started_at": "2026-11-28T16:00:00+00:00",
        "ended_at": "2026-11-28T16:00:10+00:00",
        "seed": 7,
        "targets": targets,
        "config": {"profile": "default"},
        "versions": {"python": "3.11"},
        "git_revision": "abc123",
        "command": ["harness", mode],
    }
    (folder / "run.json").write_text(json.dumps(meta), encoding="utf-8")


def _span(span_id: str, name: str, parent: str | None, start: int, end: int) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": TRACE,
        "spanId": span_id,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        "attributes": [{"key": "harness.journey", "value": {"stringValue": "browse_and_buy"}}],
        "status": {"code": 2 if parent is None else 0},
    }
    if parent:
        span["parentSpanId"] = parent
    return span


@pytest.fixture
def smoke_run(tmp_path: Path) -> Path:
    """A smoke run: two journeys, one failed at a web step with a screenshot and a trace."""
    folder = tmp_path / "20261128-160000-smoke-ab12"
    (folder / "artifacts").mkdir(parents=True)
    shot = folder / "artifacts" / "browse_and_buy-u0-i0-checkout.png"
    Image.new("RGB", (1600, 900), (200, 30, 30)).save(shot)
    _run_json(folder, "smoke", "failed", {"target": {"name": "sandbox", "web": "http://x/"}})
    _write_lines(
        folder / "steps.jsonl",
        [
            _step("api_orders", "list", 0, "api", url="http://x/api/v1/products?limit=2"),
            _step("api_orders", "pay", 1, "api"),
            _iteration("api_orders"),
            _step("browse_and_buy", "open", 0, "web", url="http://x/products/123"),
            _step("browse_and_buy", "checkout", 1, "web", failed=True, url="http://x/checkout"),
            # recorded where the run wrote it; the folder has moved since
            _iteration(
                "browse_and_buy",
                failed_at=("checkout", "web"),
                artifacts=(f"/elsewhere/artifacts/{shot.name}", "/elsewhere/x-trace.zip"),
            ),
        ],
    )
    root = _span("1c0148a371d7315c", "journey browse_and_buy", None, 0, 9_000_000)
    step = _span("2c0148a371d7315c", "step checkout", "1c0148a371d7315c", 1_000, 8_000_000)
    message = {"resourceSpans": [{"scopeSpans": [{"scope": {"name": "journey-harness"}}]}]}
    message["resourceSpans"][0]["scopeSpans"][0]["spans"] = [root, step]
    (folder / "traces.jsonl").write_text(json.dumps(message) + "\n", encoding="utf-8")
    return folder


def test_smoke_report_shows_the_failure_with_its_screenshot_and_trace(smoke_run: Path) -> None:
    html = write_report(smoke_run).read_text(encoding="utf-8")
    assert "FAILED" in html and "could not be drawn" not in html
    assert "browse_and_buy › checkout [web] assertion: element not found" in html
    shot = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert shot is not None and len(shot[1]) > 100
    assert "journey browse_and_buy · 9.0 ms · FAILED" in html  # the rendered trace tree
    assert "<svg" in html and "GET /products/{id}" in html  # impact map, ids folded
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched


def test_smoke_junit_has_one_case_per_journey(smoke_run: Path) -> None:
    suite = ET.parse(write_junit(smoke_run)).getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"api_orders", "browse_and_buy"}
    assert {c.get("classname") for c in cases.values()} == {"journeys"}
    assert cases["api_orders"].find("failure") is None
    failure = cases["browse_and_buy"].find("failure")
    assert failure is not None
    assert failure.get("message") == "browse_and_buy › checkout [web] assertion: element not found"
    out = cases["browse_and_buy"].findtext("system-out") or ""
    assert str(smoke_run / "artifacts" / "browse_and_buy-u0-i0-checkout.png") in out
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")


def test_smoke_summary_json(smoke_run: Path) -> None:
    data = json.loads(write_summary_json(smoke_run).read_text(encoding="utf-8"))
    assert (data["mode"], data["status"], data["decision"]) == ("smoke", "failed", "fail")
    assert data["counts"]["iterations"] == 2 and data["counts"]["failures"] == 1
    journeys = {j["journey"]: j for j in data["journeys"]}
    assert journeys["api_orders"]["p95_ms"] == 40.0
    assert journeys["browse_and_buy"]["failures"] == 1
    assert data["gates"] is None and "verdict.json" in data["not_recorded"]


def test_large_screenshots_are_scaled_down(smoke_run: Path) -> None:
    html = write_report(smoke_run).read_text(encoding="utf-8")
    encoded = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert encoded is not None
    with Image.open(io.BytesIO(base64.b64decode(encoded[1]))) as image:
        assert image.width == 960 and image.height == 540


def _evidence(decision: Decision) -> Evidence:
    return Evidence(
        series="step `pay` of `api_orders` on api",
        decision=decision,
        test="bootstrap quantile ratio",
        n_baseline=600,
        n_candidate=600,
        estimate=2.9,
        interval=(2.0, 11.0),
        level=0.9987,
        unit="×",
        words="p95 of step `pay` rose 190%",
        trace_ids=["a" * 32],
    )


@pytest.fixture
def rehearsal_run(tmp_path: Path) -> Path:
    """A rehearsal with HDR histograms, a timeline, health samples and a failing verdict."""
    folder = tmp_path / "20261128-160000-rehearse-cd34"
    folder.mkdir()
    targets = {"baseline": {"name": "baseline"}, "candidate": {"name": "candidate"}}
    _run_json(folder, "rehearse", "failed", targets)
    store = HdrStore()
    records: list[Any] = []
    for target, slower in (("baseline", 0.0), ("candidate", 120.0)):
        for i in range(300):
            pay = 10.0 + i % 37 + slower
            store.record(SeriesKey(target, "api_orders", "list", "api"), 5.0 + i % 11)
            store.record(SeriesKey(target, "api_orders", "pay", "api"), pay)
            store.record(SeriesKey(target, "api_orders", ITERATION, ""), 20.0 + pay)
            records.append(_step("api_orders", "list", 0, "api", target=target, iteration=i))
            records.append(_step("api_orders", "pay", 1, "api", target=target, iteration=i))
    store.write(folder / "histograms")
    _write_lines(folder / "steps.jsonl", records)
    counts = [
        {"target": t, "journey": "api_orders", "iterations": 300, "failures": 0, "late": 0}
        for t in ("baseline", "candidate")
    ]
    (folder / "counts.json").write_text(json.dumps({"journeys": counts, "errors": []}))
    timeline = [
        {"target": t, "t": T0 + s, "iterations": 30, "failures": 0, "late": 0}
        for s in range(10)
        for t in ("baseline", "candidate")
    ]
    (folder / "timeline.json").write_text(json.dumps(timeline))
    samples = [
        {"t": T0 + s, "cpu": 30.0, "browser_cpu": 0.0, "lag_ms": 2.0, "source": "local"}
        for s in range(10)
    ]
    health = {"summary": {"saturated": False, "reasons": []}, "samples": samples}
    (folder / "health.json").write_text(json.dumps(health))
    gates = [
        GateOutcome(name="tail latency", kind="tail_shift", decision=Decision.FAIL,
                    summary="p95 of step `pay` rose 190%", evidence=[_evidence(Decision.FAIL)]),
        GateOutcome(name="kayenta", kind="mann_whitney", decision=Decision.INCONCLUSIVE,
                    summary="not enough samples on any series"),
        GateOutcome(name="broken", kind="threshold", decision=Decision.ERROR,
                    summary="gate could not be evaluated: KeyError"),
        GateOutcome(name="error rate", kind="relative", decision=Decision.PASS, critical=True,
                    summary="2 series within limits"),
    ]  # fmt: skip
    verdict = Verdict(
        decision=Decision.FAIL,
        reasons=["tail latency: p95 of step `pay` rose 190%"],
        run_id=folder.name,
        baseline={"name": "baseline"},
        candidate={"name": "candidate"},
        seed=7,
        config_hash="5a8756d153615d6a",
        decided_at="2026-11-28T16:00:11+00:00",
        evaluation_s=0.1,
        gates=gates,
    )
    (folder / "verdict.json").write_text(verdict.model_dump_json(), encoding="utf-8")
    return folder


def test_rehearsal_junit_has_one_case_per_gate(rehearsal_run: Path) -> None:
    suite = ET.parse(write_junit(rehearsal_run)).getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    failure = cases["tail latency"].find("failure")
    assert failure is not None and failure.get("message") == "p95 of step `pay` rose 190%"
    assert cases["kayenta"].find("skipped") is not None
    assert cases["broken"].find("error") is not None
    assert [c.tag for c in cases["error rate"]] == ["system-out"]
    counts = [suite.get(a) for a in ("tests", "failures", "errors", "skipped")]
    assert counts == ["4", "1", "1", "1"]


def test_rehearsal_report_and_summary(rehearsal_run: Path) -> None:
    paths = write_all(rehearsal_run)
    assert [p.name for p in paths] == ["report.html", "junit.xml", "summary.json"]
    html = paths[0].read_text(encoding="utf-8")
    assert "<div class=decision>FAIL</div>" in html and "could not be drawn" not in html
    assert html.count("<details>") == 4  # one expandable row per gate
    assert "p95 of step `pay` rose 190%" in html
    assert html.count("<figure>") >= 5  # CDFs, timeline, funnel, impact map, health
    assert "5a8756d153615d6a" in html
    data = json.loads(paths[2].read_text(encoding="utf-8"))
    assert data["decision"] == "fail"
    assert [g["decision"] for g in data["gates"]] == ["fail", "inconclusive", "error", "pass"]
    journeys = {(j["target"], j["journey"]): j for j in data["journeys"]}
    store = HdrStore.read(rehearsal_run / "histograms")
    key = SeriesKey("candidate", "api_orders", ITERATION, "")
    assert journeys[("candidate", "api_orders")]["p99_ms"] == store.summary(key).p(99.0)


def test_load_junit_fails_a_journey_with_failed_iterations(tmp_path: Path) -> None:
    folder = tmp_path / "load"
    folder.mkdir()
    _run_json(folder, "load", "failed", {"target": {"name": "sandbox"}})
    counts = {
        "journeys": [
            {"target": "sandbox", "journey": "ok", "iterations": 50, "failures": 0},
            {"target": "sandbox", "journey": "bad", "iterations": 40, "failures": 4},
        ],
        "errors": [
            {"target": "sandbox", "journey": "bad", "step": "pay", "touchpoint": "api",
             "kind": "http_status", "count": 4},
        ],
    }  # fmt: skip
    (folder / "counts.json").write_text(json.dumps(counts))
    suite = ET.parse(write_junit(folder)).getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    failure = cases["bad"].find("failure")
    assert failure is not None and failure.get("message") == "4 of 40 iterations failed (10.0%)"
    assert "4 × pay [api] http_status" in (failure.text or "")
    assert cases["ok"].find("failure") is None


def test_an_aborted_run_is_never_green_in_junit(tmp_path: Path) -> None:
    folder = tmp_path / "load"
    folder.mkdir()
    _run_json(folder, "load", "aborted", {"target": {"name": "sandbox"}})
    counts = {"journeys": [{"target": "sandbox", "journey": "ok", "iterations": 5, "failures": 0}]}
    (folder / "counts.json").write_text(json.dumps(counts))
    suite = ET.parse(write_junit(folder)).getroot().find("testsuite")
    assert suite is not None and suite.get("errors") == "1"
    error = suite.find("testcase[@name='run completed']/error")
    assert error is not None and "did not complete" in (error.get("message") or "")


@pytest.mark.parametrize("contents", ["empty", "run.json only", "torn"])
def test_partial_folders_never_raise(tmp_path: Path, contents: str) -> None:
    folder = tmp_path / "partial"
    folder.mkdir()
    if contents != "empty":
        _run_json(folder, "rehearse", "running", {"baseline": {"name": "b"}})
    if contents == "torn":
        line = _step("j", "s", 0, "api", target="b").model_dump_json()
        (folder / "steps.jsonl").write_text(line + "\n" + line[:40], encoding="utf-8")
        (folder / "verdict.json").write_text("{not json", encoding="utf-8")
    html = write_report(folder).read_text(encoding="utf-8")
    assert "Not recorded" in html and "could not be drawn" not in html
    junit = ET.parse(write_junit(folder)).getroot()
    assert junit.get("tests") is not None
    data = json.loads(write_summary_json(folder).read_text(encoding="utf-8"))
    assert "histograms" in data["not_recorded"]
    if contents != "empty":
        assert data["decision"] == "error"  # a rehearsal without a verdict decided nothing
        error = junit.find("testsuite/testcase/error")
        assert error is not None and "verdict.json" in (error.get("message") or "")
    if contents == "torn":
        assert data["counts"]["steps"] == 1


def test_a_load_runs_report_reads_a_bounded_sample_of_passed_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.report import folder

    monkeypatch.setattr(folder, "PASSED_KEPT", 5)
    lines = []
    for i in range(40):
        outcome = Outcome.FAILED if i % 10 == 0 else Outcome.PASSED
        step = StepRecord(
            run_id="r", target="t", journey="j", step="s", index=0, touchpoint=Touchpoint.API,
            worker=0, user=1, iteration=i, started_at=1.0 + i, duration_ms=2.0, outcome=outcome,
            error_kind=ErrorKind.HTTP_STATUS if outcome is Outcome.FAILED else None,
        )  # fmt: skip
        lines.append(step.model_dump_json())
    (tmp_path / "steps.jsonl").write_text("\n".join(lines) + "\n")
    every = folder.read_run(tmp_path)  # a smoke-like folder: every record
    assert len(every.steps) == 40
    (tmp_path / "counts.json").write_text("{}")
    (tmp_path / "histograms").mkdir()
    sampled = folder.read_run(tmp_path)
    assert len(sampled.steps) == 5 + 4  # 5 passed kept, every one of the 4 failures
    assert sum(s.outcome is Outcome.FAILED for s in sampled.steps) == 4


def test_the_latency_table_marks_unjudged_rows_and_reds_only_what_a_gate_failed(
    rehearsal_run: Path,
) -> None:
    from harness.gates.config import parse_gates
    from harness.gates.data import RunData
    from harness.gates.verdict import evaluate

    # a thin web step whose p95 rose 44% (30 samples a side: enough to highlight before, far
    # too few for the tail gate's 200), beside the fixture's `pay`, 120 ms slower on 300
    store = HdrStore.read(rehearsal_run / "histograms")
    extra = []
    for target, ms in (("baseline", 200.0), ("candidate", 300.0)):
        for i in range(30):
            store.record(SeriesKey(target, "api_orders", "filter", "web"), ms + i)
            extra.append(_step("api_orders", "filter", 2, "web", target=target, iteration=i, ms=ms))
    store.write(rehearsal_run / "histograms")
    with (rehearsal_run / "steps.jsonl").open("a", encoding="utf-8") as steps:
        steps.write("".join(r.model_dump_json() + "\n" for r in extra))
    gates = parse_gates([{"kind": "tail_shift", "name": "tail", "quantiles": ["p95"]}])
    verdict = evaluate(RunData.load(rehearsal_run), gates)
    assert verdict.decision is Decision.FAIL  # `pay` failed; `filter` could not be judged
    (rehearsal_run / "verdict.json").write_text(verdict.model_dump_json(), encoding="utf-8")
    html = write_report(rehearsal_run).read_text(encoding="utf-8")
    rows = {
        re.sub(r"<[^>]+>", "", m.group(1)).strip(): m.group(0)
        for m in re.finditer(r"<tr><td>(.*?)</td><td>[a-z—]+</td>.*?</tr>", html)
    }
    assert "class='num worse'" in rows["› pay"] and "failed: tail" in rows["› pay"]
    filter_row = rows["› filter"]
    assert re.search(r"class='num unjudged'>\+4\d%", filter_row) and "worse" not in filter_row
    assert "not judged: 30/200" in filter_row
    assert "worse" not in rows["› list"] and "judged by 1 of 1" in rows["› list"]
    coverage = "Coverage: 2 of 3 rows in the gates' scope judged by every gate"
    assert coverage in html_module.unescape(html)


SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = "'><img src=x onerror=alert(2)>"


def test_a_crafted_run_folder_cannot_put_markup_into_the_report(tmp_path: Path) -> None:
    """rollout.json and health.json values are text, not markup (4 alerts fired in Chromium)."""
    folder = tmp_path / "crafted"
    folder.mkdir()
    _run_json(folder, "rollout", "failed", {"baseline": {"name": "b"}, "candidate": {"name": "c"}})
    stage = {
        "stage": SCRIPT, "share": 5.0, "look": ATTRIBUTE, "started_s": 0.0, "ended_s": 1.0,
        "baseline": {"iterations": 1}, "candidate": {"iterations": 1},
        "decision": SCRIPT, "next_share": 5.0,
        "gates": [{"name": SCRIPT, "decision": ATTRIBUTE, "summary": ATTRIBUTE}],
    }  # fmt: skip
    rollout = {
        "outcome": SCRIPT, "final_share": 5.0, "shares": [5.0], "stage_duration_s": 1.0,
        "max_extensions": SCRIPT, "min_samples": ATTRIBUTE, "reasons": [SCRIPT],
        "stages": [stage], "hooks": [],
    }  # fmt: skip
    (folder / "rollout.json").write_text(json.dumps(rollout))
    summary = {
        "saturated": True, "reasons": [SCRIPT], "cpu_median": SCRIPT, "cpu_max": ATTRIBUTE,
        "browser_cpu_max": SCRIPT, "lag_p95_ms": SCRIPT, "late": SCRIPT, "dropped": SCRIPT,
    }  # fmt: skip
    samples = [{"t": 1.0, "cpu": 50.0, "lag_ms": 1.0, "browser_cpu": 0.0}]
    (folder / "health.json").write_text(json.dumps({"summary": summary, "samples": samples}))
    page = write_report(folder).read_text()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text


def test_the_report_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    _run_json(folder, "load", "passed", {"target": {"name": "sandbox"}})
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (folder / "report.html").symlink_to(victim)
    write_all(folder)
    assert victim.read_text() == "keep me"
    assert (
        not (folder / "report.html").is_symlink()
        and "<html" in (folder / "report.html").read_text()
    )
    assert not list(folder.glob(".*.partial"))


def test_harness_report_on_a_full_disk_exits_3_and_keeps_the_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from harness import cli

    folder = tmp_path / "run"
    folder.mkdir()
    _run_json(folder, "load", "passed", {"target": {"name": "sandbox"}})
    (folder / "report.html").write_text("the old report")

    def full(path: Path, text: str | bytes) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("harness.report.page.replace_file", full)
    assert cli.main(["report", str(folder)]) == 3
    assert (folder / "report.html").read_text() == "the old report"


@pytest.mark.parametrize(
    ("value", "drawn"), [("", True), ("1", True), ("0", False), ("off", False)]
)
def test_html_report_env_skips_only_the_page(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str,
    drawn: bool,
) -> None:
    from harness.run.evidence import publish_reports

    folder = tmp_path / "run"
    folder.mkdir()
    _run_json(folder, "load", "passed", {"target": {"name": "sandbox"}})
    monkeypatch.setenv("HARNESS_HTML_REPORT", value)
    publish_reports(folder)
    said = capsys.readouterr().out
    assert (folder / "report.html").exists() is drawn
    assert (folder / "junit.xml").exists() and (folder / "summary.json").exists()
    assert ("report.html skipped" in said and f"harness report {folder}" in said) is not drawn
