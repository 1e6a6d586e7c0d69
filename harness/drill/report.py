"""The drill's coverage matrix (faults × gates) and A/A table, as plain lines for the terminal,
Markdown for `summary.md`, and one self-contained `report.html` in the drill's folder."""

from __future__ import annotations

import time
from html import escape
from pathlib import Path

from harness.drill.findings import DrillRecord, FaultFinding, GateHit

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
    parts = [f"# Failure drill {record.drill_id} against {record.target}\n"]
    if record.faults:
        names = record.gates
        parts.append("## Coverage: faults × gates\n")
        parts.append("| fault | " + " | ".join(names) + " |")
        parts.append("|---|" + "---|" * len(names))
        for finding in record.faults:
            hits = _hits(finding)
            parts.append(
                f"| `{finding.fault}` | " + " | ".join(_cell(hits.get(n)) for n in names) + " |"
            )
        parts.append("\n✗ N s: the gate failed, N seconds after the fault's onset.\n")
        parts.append("```")
        for finding in record.faults:
            parts.extend(fault_lines(finding))
        parts.append("```\n")
    if record.aa:
        parts.append("## A/A calibration\n\n```")
        parts.extend(aa_lines(record))
        parts.append("```\n")
    return "\n".join(parts)


def write_report(folder: Path, record: DrillRecord) -> Path:
    """Write the drill's report.html (coverage matrix, each fault, A/A) and return its path."""
    from harness.report.page import CSS

    started = time.perf_counter()
    body: list[str] = []
    blind = record.blind
    alarms = sum(r.decision == "fail" for r in record.aa)
    ok = not blind and not alarms
    decision = "pass" if ok else "fail"
    words = (
        "every fault was caught"
        if record.faults and not blind
        else f"the gates are blind to {', '.join(f.fault for f in blind)}"
        if blind
        else f"{alarms} false alarm(s) in {len(record.aa)} A/A runs"
        if alarms
        else f"no false alarm in {len(record.aa)} A/A runs"
    )
    body.append(
        f"<section id=verdict class='banner {decision}'><div class=decision>"
        f"{'COVERED' if ok else 'GAPS'}</div><div><p>{escape(words)}</p>"
        f"<p class=what>target {escape(record.target)} · {len(record.faults)} faults · "
        f"{len(record.aa)} A/A runs</p></div></section>"
    )
    if record.faults:
        head = "".join(f"<th>{escape(n)}</th>" for n in record.gates)
        rows = []
        for finding in record.faults:
            hits = _hits(finding)
            cells = "".join(_html_cell(hits.get(n)) for n in record.gates)
            link = f"{finding.run_id}/report.html"
            status = "caught" if finding.caught else "<span class=bad>blind</span>"
            rows.append(
                f"<tr><td><code>{escape(finding.fault)}</code><br><a href='{escape(link)}'>"
                f"run report</a> · {status}</td>{cells}</tr>"
            )
        body.append(
            "<section id=coverage><h2>Coverage: faults × gates</h2>"
            f"<table class=gates><tr><th>fault</th>{head}</tr>{''.join(rows)}</table>"
            "<p class=muted>A red cell is a gate that failed; the number is the time from the "
            "fault's onset until the gate, judged on the run so far, first failed.</p>"
            "<h3>Findings</h3><pre>"
            + escape("\n".join(line for f in record.faults for line in fault_lines(f)))
            + "</pre></section>"
        )
    if record.aa:
        aa_rows = "".join(
            f"<tr><td><a href='{escape(r.run_id)}/report.html'>{escape(r.run_id)}</a></td>"
            f"<td><span class='badge {escape(r.decision)}'>{escape(r.decision)}</span></td>"
            f"<td>{escape(', '.join(r.failed) or '—')}</td>"
            f"<td>{escape(', '.join(r.inconclusive) or '—')}</td><td class=num>{r.wall_s:.0f} s"
            "</td></tr>"
            for r in record.aa
        )
        body.append(
            "<section id=aa><h2>A/A calibration: false alarms</h2><pre>"
            + escape("\n".join(aa_lines(record)))
            + "</pre><table><tr><th>run</th><th>verdict</th><th>failed gates</th>"
            f"<th>inconclusive</th><th>wall</th></tr>{aa_rows}</table></section>"
        )
    elapsed = time.perf_counter() - started
    html = (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>journey-harness · drill {escape(record.drill_id)}</title><style>{CSS}</style>"
        f"</head><body><main><header><h1>journey-harness failure drill · "
        f"{escape(record.drill_id)}</h1></header>"
        + "\n".join(body)
        + f"<p class=muted>Drawn in {elapsed:.2f} s.</p></main></body></html>\n"
    )
    path = folder / REPORT_FILE
    path.write_text(html, encoding="utf-8")
    return path


def _html_cell(hit: GateHit | None) -> str:
    if hit is None:
        return "<td class=muted>·</td>"
    title = escape(hit.summary, quote=True)
    return (
        f"<td title='{title}'><span class='badge {escape(hit.decision)}'>"
        f"{escape(_cell(hit))}</span></td>"
    )
