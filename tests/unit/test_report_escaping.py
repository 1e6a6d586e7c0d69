"""A crafted run folder cannot put markup or terminal escapes into report.html or summary.md,
and no report module builds HTML by hand (issue 20: 4 alerts fired in Chromium)."""

from __future__ import annotations

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from harness.drill.findings import DrillRecord, FaultFinding, GateHit
from harness.drill.report import summary_markdown as drill_markdown
from harness.drill.report import write_report as write_drill_report
from harness.errors import ErrorKind
from harness.gates.outcome import Decision, Evidence, GateOutcome
from harness.gates.verdict import Verdict
from harness.gates.verdict import summary_markdown as verdict_markdown
from harness.markdown import md_block, md_code, md_text, plain
from harness.records import IterationRecord, Outcome, Touchpoint
from harness.report import charts, write_report
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey
from tests.unit.test_report import T0, TRACE, _run_json, _span, _step, _write_lines

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
QUOTED = "'><svg onload=alert(3)>"
CONTROL = "\x1b[31mred\x1b[0m\x07\x00\x9b"
CRAFTED = f"{SCRIPT}{ATTRIBUTE}{QUOTED}{CONTROL}"
JOURNEY = f"shop{SCRIPT}"
STEP = f"pay{ATTRIBUTE}{QUOTED}"
REPORT = Path(__file__).parents[2] / "harness" / "report"


class Elements(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(page)
    parser.close()
    return parser.tags


def _assert_inert(page: str) -> None:
    """No script, no event handler, no image but the page's own screenshots, no control
    characters; the crafted text is on the page as text."""
    tags = _elements(page)
    assert not [t for t, _ in tags if t == "script"]
    handlers = [(t, a) for t, attrs in tags for a in attrs if a.startswith("on")]
    assert not handlers, handlers
    sources = [attrs.get("src") or "" for t, attrs in tags if t == "img"]
    assert all(s.startswith("data:image/png;base64,") for s in sources), sources
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def _crafted_folder(tmp_path: Path) -> Path:
    """A rehearsal whose every file carries markup and control characters where text goes."""
    folder = tmp_path / "crafted"
    (folder / "artifacts").mkdir(parents=True)
    targets = {
        "baseline": {"name": "baseline", "web": f"http://x/{ATTRIBUTE}"},
        "candidate": {"name": CRAFTED, "api": QUOTED},
    }
    _run_json(folder, "rehearse", "failed", targets)
    meta = json.loads((folder / "run.json").read_text())
    meta.update(command=["harness", CRAFTED], host=SCRIPT, versions={SCRIPT: ATTRIBUTE})
    meta["config"]["plan"] = {"shape": CRAFTED, "users": ATTRIBUTE}
    (folder / "run.json").write_text(json.dumps(meta))
    store = HdrStore()
    records: list[object] = []
    for target, slower in (("baseline", 0.0), ("candidate", 50.0)):
        for i in range(40):
            store.record(SeriesKey(target, JOURNEY, STEP, "api"), 10.0 + i + slower)
            store.record(SeriesKey(target, JOURNEY, ITERATION, ""), 20.0 + i + slower)
            failed = i % 10 == 0
            step = _step(JOURNEY, STEP, 0, "api", target=target, iteration=i, failed=failed)
            records.append(step.model_copy(update={"message": CRAFTED} if failed else {}))
            if failed:
                records.append(
                    IterationRecord(
                        run_id="r",
                        target=target,
                        journey=JOURNEY,
                        worker=0,
                        user=0,
                        iteration=i,
                        started_at=T0 + i,
                        duration_ms=30.0,
                        outcome=Outcome.FAILED,
                        steps_passed=0,
                        steps_total=1,
                        failed_step=STEP,
                        failed_touchpoint=Touchpoint.API,
                        error_kind=ErrorKind.ASSERTION,
                        message=CRAFTED,
                        artifacts=(f"/x/{SCRIPT}.png", f"/x/{ATTRIBUTE}.zip"),
                        trace_id=TRACE,
                    )
                )
    store.write(folder / "histograms")
    _write_lines(folder / "steps.jsonl", records)  # type: ignore[arg-type]
    root = _span("1c0148a371d7315c", f"journey {JOURNEY}", None, 0, 9_000_000)
    child = _span("2c0148a371d7315c", f"step {CRAFTED}", "1c0148a371d7315c", 1_000, 8_000_000)
    message = {"resourceSpans": [{"scopeSpans": [{"spans": [root, child]}]}]}
    (folder / "traces.jsonl").write_text(json.dumps(message) + "\n")
    timeline = [
        {"target": t, "t": T0 + s, "iterations": 4, "failures": 1}
        for s in range(10)
        for t in ("baseline", "candidate")
    ]
    (folder / "timeline.json").write_text(json.dumps(timeline))
    summary = {
        "saturated": True, "reasons": [CRAFTED], "cpu_median": SCRIPT, "cpu_max": ATTRIBUTE,
        "browser_cpu_max": QUOTED, "lag_p95_ms": CONTROL, "late": SCRIPT, "dropped": SCRIPT,
    }  # fmt: skip
    samples = [
        {"t": T0 + s, "cpu": 50.0, "lag_ms": 1.0, "browser_cpu": 0.0, "source": CRAFTED}
        for s in range(3)
    ]
    (folder / "health.json").write_text(json.dumps({"summary": summary, "samples": samples}))
    stage = {
        "stage": SCRIPT, "share": 5.0, "look": ATTRIBUTE, "started_s": 0.0, "ended_s": 1.0,
        "baseline": {"iterations": 1}, "candidate": {"iterations": 1},
        "decision": CRAFTED, "next_share": 10.0, "early": True,
        "gates": [{"name": CRAFTED, "decision": QUOTED, "summary": ATTRIBUTE}],
    }  # fmt: skip
    rollout = {
        "outcome": CRAFTED, "final_share": 5.0, "shares": [5.0], "stage_duration_s": 1.0,
        "max_extensions": SCRIPT, "min_samples": ATTRIBUTE, "reasons": [CRAFTED],
        "detection_s": 1.5, "first_effect_source": CRAFTED, "stages": [stage],
        "hooks": [{"hook": CRAFTED, "ok": False, "detail": QUOTED, "elapsed_s": 0.1}],
    }  # fmt: skip
    (folder / "rollout.json").write_text(json.dumps(rollout))
    evidence = Evidence(
        series=CRAFTED, decision=Decision.FAIL, test=SCRIPT, n_baseline=40, n_candidate=40,
        n_needed=400, counts=ATTRIBUTE, estimate=1.5, interval=(1.1, 2.0), level=0.95,
        unit=QUOTED, words=CRAFTED, trace_ids=[SCRIPT],
    )  # fmt: skip
    gates = [
        GateOutcome(name=CRAFTED, kind=ATTRIBUTE, decision=Decision.FAIL, critical=True,
                    summary=CRAFTED, evidence=[evidence]),
    ]  # fmt: skip
    verdict = Verdict(
        decision=Decision.FAIL, reasons=[CRAFTED], run_id=folder.name, baseline={"name": "b"},
        candidate={"name": CRAFTED}, seed=7, config_hash=SCRIPT, decided_at="",
        evaluation_s=0.1, gates=gates,
    )  # fmt: skip
    (folder / "verdict.json").write_text(verdict.model_dump_json())
    return folder


def test_a_crafted_run_folder_reaches_the_report_only_as_text(tmp_path: Path) -> None:
    page = write_report(_crafted_folder(tmp_path)).read_text(encoding="utf-8")
    assert "could not be drawn" not in page  # every section drew, so every one was checked
    _assert_inert(page)
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page  # the attribute payload, as text


def test_every_section_draws_a_crafted_folder(tmp_path: Path) -> None:
    """Every section is drawn, so every one was checked above (none hid behind an error)."""
    page = write_report(_crafted_folder(tmp_path)).read_text(encoding="utf-8")
    broken = re.findall(r"<section id=([a-z-]+)><h2>[^<]*</h2><p class=bad>This section", page)
    assert broken == [], broken


def test_chart_text_is_escaped_by_the_svg_backend() -> None:
    """Charts are the one markup passed through unescaped: names in them must be text."""
    svg = charts.impact_map({(JOURNEY, CRAFTED, "api"): {f"GET /{SCRIPT}"}})
    svg += charts.funnel(CRAFTED, {CRAFTED: [charts.FunnelStep(STEP, "api", 3, 2)]})
    _assert_inert(svg)


def _markdown_inert(markdown: str) -> None:
    assert "<script" not in markdown and "<img" not in markdown and "<svg" not in markdown
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", markdown)


def test_summary_md_of_a_smoke_run_holds_no_raw_markup() -> None:
    from harness.console import summary_markdown

    failed = IterationRecord(
        run_id="r", target="t", journey=JOURNEY, worker=0, user=0, iteration=0, started_at=T0,
        duration_ms=5.0, outcome=Outcome.FAILED, steps_passed=0, steps_total=1,
        failed_step=STEP, failed_touchpoint=Touchpoint.WEB, error_kind=ErrorKind.ASSERTION,
        message=f"{CRAFTED}\n| forged | cell |", artifacts=(f"/x/{SCRIPT}.png",),
    )  # fmt: skip
    passed = failed.model_copy(update={"journey": "ok_flow", "outcome": Outcome.PASSED})
    markdown = summary_markdown("Smoke", [failed, passed], "/results/r")
    _markdown_inert(markdown)
    row = next(line for line in markdown.splitlines() if "alert(1)" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == 5  # four cells: the message made none
    assert "| `ok_flow` | 0/1 |" in markdown  # plain names keep their code spans


def test_summary_md_of_a_load_run_and_a_verdict_hold_no_raw_markup() -> None:
    from harness.engine.summary import markdown_table

    table = "\n".join(markdown_table([["journey / step", "n"], [f"  › {STEP}", "1"]]))
    _markdown_inert(table)
    gate = GateOutcome(name=CRAFTED, kind="k", decision=Decision.FAIL, summary=CRAFTED)
    verdict = Verdict(
        decision=Decision.FAIL, reasons=[f"{CRAFTED}\n```\n{SCRIPT}"], run_id="r",
        baseline=None, candidate={}, seed=1, config_hash="", decided_at="", evaluation_s=0.0,
        gates=[gate],
    )  # fmt: skip
    _markdown_inert(verdict_markdown(verdict))


def test_the_drill_summary_and_page_hold_no_raw_markup(tmp_path: Path) -> None:
    hit = GateHit(name=CRAFTED, kind="k", decision="fail", summary=CRAFTED, detected_after_s=2.0)
    finding = FaultFinding(
        fault=CRAFTED, run_id=SCRIPT, decision="fail", caught=False, caught_by=[],
        gates=[hit], onset_s=1.0, run_s=2.0, wall_s=2.0,
    )  # fmt: skip
    record = DrillRecord(drill_id=SCRIPT, target=CRAFTED, gates=[CRAFTED], faults=[finding])
    _markdown_inert(drill_markdown(record))
    page = write_drill_report(tmp_path, record).read_text(encoding="utf-8")
    _assert_inert(page)


def test_the_drill_report_replaces_a_symlink_instead_of_writing_through_it(
    tmp_path: Path,
) -> None:
    """Like report.html: a link planted in a drill's folder is replaced, never written through."""
    record = DrillRecord(drill_id="d", target="t", gates=["g"], faults=[])
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    folder = tmp_path / "drill"
    folder.mkdir()
    (folder / "report.html").symlink_to(victim)
    write_drill_report(folder, record)
    assert victim.read_text() == "keep me" and not (folder / "report.html").is_symlink()


def test_markdown_helpers() -> None:
    assert plain("a\x1b[1mb\x1b[0m\x07c\r\nd\te") == "ab\ufffdc d e"
    assert plain("a\r\nb\tc", lines=True) == "a\nb c"
    assert md_text("<b>x</b> | [link](u) ![i](u) *a* `c` \\") == (
        "&lt;b&gt;x&lt;/b&gt; \\| \\[link\\](u) \\!\\[i\\](u) \\*a\\* \\`c\\` \\\\"
    )
    assert md_text("browse_and_buy") == "browse_and_buy"
    assert md_code("ok_flow") == "`ok_flow`"
    assert md_code("a<b>|`") == "<code>a&lt;b&gt;\\|\\`</code>"
    assert md_block("x\ny") == "```\nx\ny\n```"
    assert md_block("```\n<i>") == "<pre>\n```\n&lt;i&gt;\n</pre>"


#: modules whose f-strings may hold a tag, and why
TAGS_ALLOWED = {
    "markdown.py": "summary.md's <code>/<pre> around text it escaped itself",
}


def _tagged_f_strings(path: Path) -> list[int]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            if re.search(r"<[A-Za-z/!]", text):
                found.append(node.lineno)
    return found


def test_no_report_module_builds_html_in_an_f_string() -> None:
    """report.html comes from the autoescaping templates only: an f-string holding a tag is
    where an unescaped value once slipped in."""
    modules = [*sorted(REPORT.glob("*.py")), REPORT.parent / "drill" / "report.py"]
    tagged = {
        str(p.relative_to(REPORT.parent)): lines
        for p in modules
        if p.name not in TAGS_ALLOWED and (lines := _tagged_f_strings(p))
    }
    assert tagged == {}, tagged
    assert (REPORT / "templates" / "page.html").is_file()


def test_the_templates_ship_with_the_package() -> None:
    import tomllib

    project = tomllib.loads((REPORT.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    assert "report/templates/*" in project["tool"]["setuptools"]["package-data"]["harness"]
    assert any(d.startswith("jinja2") for d in project["project"]["dependencies"])
    assert {p.suffix for p in (REPORT / "templates").iterdir()} == {".html", ".css"}


def test_junit_of_a_crafted_folder_is_valid_xml_without_control_characters(
    tmp_path: Path,
) -> None:
    """Control characters in a crafted folder's names and messages made junit.xml invalid XML
    (ElementTree writes them as they are); they are dropped, the text is kept."""
    import xml.etree.ElementTree as ET

    from harness.report.folder import read_run
    from harness.report.junit import write_junit_file

    path = write_junit_file(read_run(_crafted_folder(tmp_path)))
    raw = path.read_text(encoding="utf-8")
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", raw)
    document = ET.fromstring(raw.encode("utf-8"))  # valid XML
    assert any("red" in (e.get("message") or "") for e in document.iter())
