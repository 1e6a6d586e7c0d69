"""`junit.xml`: the run as JUnit test cases, for CI systems that show test results.

Smoke runs: one case per journey. Rehearsals: one case per gate (fail → failure,
inconclusive → skipped, error → error). Load runs: one case per journey and target, failed
when any of its iterations failed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from harness.gates.outcome import Decision
from harness.markdown import plain
from harness.records import IterationRecord, Outcome
from harness.report.folder import RunFolder, unfinished_text
from harness.results import replace_file
from harness.text import plural

JUNIT_FILE = "junit.xml"


def junit_xml(run: RunFolder) -> ET.ElementTree[ET.Element]:
    """The run's JUnit document."""
    suites = ET.Element("testsuites", name=f"journey-harness {run.run_id}")
    suite = ET.SubElement(suites, "testsuite", name=f"journey-harness {run.mode}")
    suite.set("timestamp", str(run.meta.get("started_at") or ""))
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", run.run_id),
        ("mode", run.mode),
        ("status", run.status),
        ("seed", run.meta.get("seed")),
        ("targets", ", ".join(run.targets)),
        ("git_revision", run.meta.get("git_revision")),
    ):
        ET.SubElement(properties, "property", name=name, value=str(value or ""))
    if run.mode == "rehearse":
        _gate_cases(run, suite)
    elif run.mode == "load":
        _load_cases(run, suite)
    else:
        _smoke_cases(run, suite)
    if run.status in ("aborted", "error", "running", "killed"):
        # A run that did not finish is never green, whatever its finished cases say.
        case = _case(suite, "run", "run completed", 0.0)
        reason = run.reason or f"run.json says {run.status!r}"
        ET.SubElement(case, "error", message=f"the run did not complete: {reason}", type=run.status)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for tag, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attribute, str(sum(c.find(tag) is not None for c in cases)))
    total = sum(float(c.get("time", "0")) for c in cases)
    suite.set("time", f"{total:.3f}")
    for attribute in ("tests", "failures", "errors", "skipped", "time"):
        suites.set(attribute, suite.get(attribute, "0"))
    _clean(suites)
    ET.indent(suites)
    return ET.ElementTree(suites)


def _clean(root: ET.Element) -> None:
    """Drop terminal escapes and control characters (invalid in XML 1.0) from every value a
    run folder may have put in the document: names, messages, properties."""
    for element in root.iter():
        for name, value in element.attrib.items():
            element.set(name, plain(value, lines=True))
        if element.text:
            element.text = plain(element.text, lines=True)


def write_junit_file(run: RunFolder) -> Path:
    """Write `junit.xml` into the run folder and return its path."""
    path = run.path / JUNIT_FILE
    document = junit_xml(run).getroot()
    replace_file(path, ET.tostring(document, encoding="utf-8", xml_declaration=True))
    return path


def _case(suite: ET.Element, classname: str, name: str, seconds: float) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{seconds:.3f}")


def failure_line(record: IterationRecord) -> str:
    """`journey › step [touchpoint] error kind: message`."""
    where = record.journey
    if record.failed_step:
        touchpoint = record.failed_touchpoint.value if record.failed_touchpoint else "?"
        where += f" › {record.failed_step} [{touchpoint}]"
    kind = record.error_kind.value if record.error_kind else "failed"
    return f"{where} {kind}: {record.message or 'no message recorded'}"


def _smoke_cases(run: RunFolder, suite: ET.Element) -> None:
    finished: dict[tuple[str, str], IterationRecord] = {}
    for record in run.iterations:
        seen = finished.get((record.target, record.journey))
        if seen is None or seen.outcome is Outcome.PASSED:
            finished[(record.target, record.journey)] = record  # keep a failure if any
    several = len(run.targets) > 1
    for target in run.targets:
        for journey in run.journeys():
            name = f"{journey} ({target})" if several else journey
            found = finished.get((target, journey))
            if found is None:
                if not any(s.target == target and s.journey == journey for s in run.steps):
                    continue
                case = _case(suite, "journeys", name, 0.0)
                ET.SubElement(
                    case, "error", message="not finished: the run ended before this journey did"
                )
                continue
            record = found
            case = _case(suite, "journeys", name, record.duration_ms / 1000.0)
            if record.outcome is Outcome.FAILED:
                kind = record.error_kind.value if record.error_kind else "failed"
                failure = ET.SubElement(case, "failure", message=failure_line(record), type=kind)
                failure.text = failure_line(record) + (
                    f"\ntrace id: {record.trace_id}" if record.trace_id else ""
                )
                shots = [run.artifact(a) or Path(a) for a in record.artifacts]
                if shots:
                    out = ET.SubElement(case, "system-out")
                    out.text = "\n".join(
                        [f"artifact: {p}" for p in shots] + [f"[[ATTACHMENT|{p}]]" for p in shots]
                    )


def _gate_cases(run: RunFolder, suite: ET.Element) -> None:
    if run.verdict is None:
        case = _case(suite, "gates", "verdict", 0.0)
        why = run.missing.get("verdict.json", "not recorded")
        ET.SubElement(case, "error", message=f"verdict.json {why}: the run ended before its gates")
        return
    for gate in run.verdict.gates:
        case = _case(suite, "gates", gate.name, 0.0)
        words = "\n".join(e.words for e in gate.evidence if e.words)
        if gate.decision is Decision.FAIL:
            element = ET.SubElement(case, "failure", message=gate.summary, type=gate.kind)
            element.text = words
        elif gate.decision is Decision.INCONCLUSIVE:
            ET.SubElement(case, "skipped", message=gate.summary)
        elif gate.decision is Decision.ERROR:
            element = ET.SubElement(case, "error", message=gate.summary, type=gate.kind)
            element.text = words
        else:
            ET.SubElement(case, "system-out").text = gate.summary


def _load_cases(run: RunFolder, suite: ET.Element) -> None:
    several = len(run.targets) > 1
    kinds = _error_kinds(run)
    selected = set(run.meta.get("selected_journeys", []))
    for target in run.targets:
        for journey in run.journeys():
            tally = run.tally(target, journey)
            if tally.iterations == 0 and not kinds.get((target, journey)):
                if journey in selected:  # selected, yet it never ran: a failure, not a gap
                    case = _case(
                        suite, "journeys", f"{journey} ({target})" if several else journey, 0.0
                    )
                    message = unfinished_text(run, journey, target)
                    ET.SubElement(case, "failure", message=message, type="unrun")
                continue
            name = f"{journey} ({target})" if several else journey
            case = _case(suite, "journeys", name, 0.0)
            if tally.failures:
                share = tally.failures / tally.iterations if tally.iterations else 1.0
                message = (
                    f"{tally.failures:,} of {plural(tally.iterations, 'iteration')} failed "
                    f"({share:.1%})"
                )
                failure = ET.SubElement(case, "failure", message=message, type="iterations")
                failure.text = "\n".join(
                    f"{count:,} × {where}"
                    for where, count in kinds.get((target, journey), Counter()).most_common(10)
                )
            else:
                ET.SubElement(
                    case, "system-out"
                ).text = f"{plural(tally.iterations, 'iteration')} passed"


def _error_kinds(run: RunFolder) -> dict[tuple[str, str], Counter[str]]:
    """(target, journey) → `step [touchpoint] kind` → count, from counts.json or the records."""
    found: dict[tuple[str, str], Counter[str]] = {}
    if run.counts is not None:
        for e in run.counts.get("errors", []):
            where = f"{e['step']} [{e['touchpoint']}] {e['kind']}"
            found.setdefault((e["target"], e["journey"]), Counter())[where] += int(e["count"])
        return found
    for r in run.failed_iterations():
        touchpoint = r.failed_touchpoint.value if r.failed_touchpoint else "?"
        kind = r.error_kind.value if r.error_kind else "failed"
        where = f"{r.failed_step} [{touchpoint}] {kind}"
        found.setdefault((r.target, r.journey), Counter())[where] += 1
    return found
