"""The drill's coverage matrix (faults × gates) and A/A table, as plain lines for the terminal,
Markdown for `summary.md`, and one self-contained `report.html` in the drill's folder."""

from __future__ import annotations

import time
from pathlib import Path

from harness.drill.findings import DrillRecord, FaultFinding, GateHit
from harness.markdown import md_block, md_code, md_text
from harness.results import replace_file

REPORT_FILE = "report.html"


def _cell(hit: GateHit | None) -> str:
    """One matrix cell in words: `✗ 3.0 s` (caught, after 3 s), `✓` (passed), `?`, `!`."""
    if hit is None:
        return "·"
    if hit.decision == "fail":
        detected = "" if hit.detected_after_s is None else f" {hit.detected_after_s:g} s"
        return f"✗{detected}"
    return {"pass": "✓", "inconclusive": "?", "error": "!"}.get(hit.decision, hit.decision)


def _hits(finding: FaultFinding) -> dict[str, GateHit]:
    return {g.name: g for g in finding.gates}


def fault_lines(finding: FaultFinding) -> list[str]:
    """One fault's result: caught or blind, by which gates, how fast, recovery."""
    head = "caught" if finding.caught else "NOT CAUGHT"
    lines = [f"{finding.fault}: {head} (verdict {finding.decision}, run {finding.run_id})"]
    applied = (
        f"applied to {finding.proxy_applied:,} of {finding.proxy_requests:,} requests through "
        f"the candidate's proxy; "
        if finding.proxy_requests
        else ""
    )
    window = f", lasting {finding.window_s:g} s" if finding.window_s is not None else ""
    lines.append(f"  {applied}onset {finding.onset_s:.1f} s into the run{window}")
    for hit in finding.gates:
        if hit.decision != "fail":
            continue
        detected = "?" if hit.detected_after_s is None else f"{hit.detected_after_s:g} s"
        recovered = ""
        if finding.window_s is not None:
            recovered = (
                f", passed again {hit.recovered_after_s:g} s after the window"
                if hit.recovered_after_s is not None
                else ", did not pass again before the run ended"
            )
        lines.append(f"  ✗ {hit.name}: detected after {detected}{recovered} — {hit.summary}")
    if not finding.caught:
        expected = " or ".join(finding.expected) if finding.expected else "any gate"
        lines.append(f"  the gates are blind to {finding.fault} (expected: {expected})")
    return lines


def matrix_lines(record: DrillRecord) -> list[str]:
    """The coverage matrix as a plain-text table (one row per fault, one column per gate,
    headed by the gate's kind when no two gates share one)."""
    if not record.faults:
        return []
    names = record.gates
    kinds = {h.name: h.kind for f in record.faults for h in f.gates}
    labels = [kinds.get(n, n) for n in names]
    if len(set(labels)) < len(labels):
        labels = [n if len(n) <= 14 else n[:13] + "…" for n in names]
    width = max(len(f.fault) for f in record.faults)
    widths = [max(len(label), 7) for label in labels]
    lines = [
        "coverage: ✗ N s = caught N s after the onset · ✓ passed · ? inconclusive · ! error",
        f"{'fault':<{width}}  "
        + "  ".join(f"{lb:>{w}}" for lb, w in zip(labels, widths, strict=True)),
    ]
    for finding in record.faults:
        hits = _hits(finding)
        cells = "  ".join(f"{_cell(hits.get(n)):>{w}}" for n, w in zip(names, widths, strict=True))
        lines.append(f"{finding.fault:<{width}}  {cells}")
    return lines


def aa_lines(record: DrillRecord) -> list[str]:
    """A/A calibration: false alarms per gate and overall."""
    if not record.aa:
        return []
    runs = len(record.aa)
    fails = sum(r.decision == "fail" for r in record.aa)
    lines = [
        f"A/A: {runs} runs of the baseline against itself: {fails} FAIL "
        f"(false-alarm rate {record.false_alarm_rate():.0%}), "
        + ", ".join(
            f"{sum(r.decision == d for r in record.aa)} {d}"
            for d in ("pass", "inconclusive", "error")
        )
    ]
    for name in record.gates:
        alarms = sum(name in r.failed for r in record.aa)
        unsure = sum(name in r.inconclusive for r in record.aa)
        lines.append(
            f"  {name}: {alarms}/{runs} false alarms ({alarms / runs:.0%})"
            + (f", {unsure} inconclusive" if unsure else "")
        )
    return lines


def summary_markdown(record: DrillRecord) -> str:
    """summary.md of the drill folder."""
    parts = [f"# Failure drill {md_text(record.drill_id)} against {md_text(record.target)}\n"]
    if record.faults:
        names = record.gates
        parts.append("## Coverage: faults × gates\n")
        parts.append("| fault | " + " | ".join(md_text(n) for n in names) + " |")
        parts.append("|---|" + "---|" * len(names))
        for finding in record.faults:
            hits = _hits(finding)
            parts.append(
                f"| {md_code(finding.fault)} | "
                + " | ".join(md_text(_cell(hits.get(n))) for n in names)
                + " |"
            )
        parts.append("\n✗ N s: the gate failed, N seconds after the fault's onset.\n")
        parts.append(md_block("\n".join(line for f in record.faults for line in fault_lines(f))))
        parts.append("")
    if record.aa:
        parts.append("## A/A calibration\n")
        parts.append(md_block("\n".join(aa_lines(record))))
        parts.append("")
    return "\n".join(parts)


def write_report(folder: Path, record: DrillRecord) -> Path:
    """Write the drill's report.html (coverage matrix, each fault, A/A) and return its path."""
    from harness.report.render import render

    started = time.perf_counter()
    blind = record.blind
    alarms = sum(r.decision == "fail" for r in record.aa)
    ok = not blind and not alarms
    words = (
        "every fault was caught"
        if record.faults and not blind
        else f"the gates are blind to {', '.join(f.fault for f in blind)}"
        if blind
        else f"{alarms} false alarm(s) in {len(record.aa)} A/A runs"
        if alarms
        else f"no false alarm in {len(record.aa)} A/A runs"
    )
    faults = []
    for finding in record.faults:
        hits = _hits(finding)
        cells = [
            None
            if (hit := hits.get(n)) is None
            else {"summary": hit.summary, "decision": hit.decision, "text": _cell(hit)}
            for n in record.gates
        ]
        faults.append(
            {
                "fault": finding.fault,
                "link": f"{finding.run_id}/report.html",
                "caught": finding.caught,
                "cells": cells,
            }
        )
    html = render(
        "drill.html",
        drill_id=record.drill_id,
        decision="pass" if ok else "fail",
        head="COVERED" if ok else "GAPS",
        words=words,
        target=record.target,
        gates=record.gates,
        faults=faults,
        findings="\n".join(line for f in record.faults for line in fault_lines(f)),
        aa=record.aa,
        aa_text="\n".join(aa_lines(record)),
        elapsed=time.perf_counter() - started,
    )
    path = folder / REPORT_FILE
    replace_file(path, html + "\n")
    return path
