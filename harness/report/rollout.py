"""The report's staged-rollout section: the stage timeline from `rollout.json` (share, window,
samples per cohort, each gate's outcome, the decision of every look), and the hooks called."""

from __future__ import annotations

from html import escape
from typing import Any

from harness.report import charts
from harness.report.folder import RunFolder
from harness.report.sections import figure
from harness.rollout.stages import ROLLOUT_FILE

_BADGE = {"widen": "pass", "promote": "pass", "extend": "inconclusive", "hold": "inconclusive"}


def stage_timeline(run: RunFolder) -> str:
    """The stage timeline of a staged rollout; a placeholder for any other run."""
    record = run.rollout  # read (bounded) and checked against its model by `read_run`
    if record is None:
        why = "only staged rollouts have stages" if run.mode != "rollout" else "no rollout.json"
        if ROLLOUT_FILE in run.missing:
            why = f"rollout.json {run.missing[ROLLOUT_FILE]}"
        return f"<p class=muted>Not recorded for this run ({escape(why)}).</p>"
    stages: list[dict[str, Any]] = record.get("stages", [])
    head = (
        f"<p><b>{escape(str(record.get('outcome', '?')).replace('_', ' '))}</b> · final share "
        f"{record.get('final_share', 0):g}% · plan "
        f"{' → '.join(f'{s:g}%' for s in record.get('shares', []))}, "
        f"{record.get('stage_duration_s', 0):g} s per stage, up to "
        f"{_num(record.get('max_extensions', 0))} extensions, at least "
        f"{_num(record.get('min_samples'))} "
        f"samples per series</p>"
    )
    if record.get("detection_s") is not None:
        head += (
            f"<p>Detected {record['detection_s']:.1f} s after the regression's first effect "
            f"(from {escape(str(record.get('first_effect_source')))}).</p>"
        )
    reasons = "".join(f"<li>{escape(r)}</li>" for r in record.get("reasons", [])[:4])
    chart = (
        figure(
            charts.stage_timeline(stages, float(record.get("final_share", 0))),
            "The candidate's share over time; a marker at the end of each look shows its decision.",
        )
        if stages
        else ""
    )
    rows = []
    for s in stages:
        gates = "".join(
            f"<span class='badge {escape(g['decision'])}' title='{escape(g['summary'])}'>"
            f"{escape(g['name'])}</span> "
            for g in s.get("gates", [])
        )
        decision = str(s["decision"])
        badge = _BADGE.get(decision, "fail")  # one of the badge classes, never the file's text
        move = f" → {s['next_share']:g}%" if s["next_share"] != s["share"] else ""
        if s.get("early"):
            move += " (early, by a live gate)"
        rows.append(
            f"<tr><td class=num>{_num(s['stage'])}</td><td class=num>{s['share']:g}%</td>"
            f"<td class=num>{_num(s['look'])}</td>"
            f"<td class=num>{s['started_s']:.0f}–{s['ended_s']:.0f} s</td>"
            f"<td class=num>{s['baseline']['iterations']:,} / {s['candidate']['iterations']:,}"
            f"</td><td>{gates}</td>"
            f"<td><span class='badge {badge}'>{escape(decision)}</span>{escape(move)}</td></tr>"
        )
    table = (
        "<table class=stages><tr><th>stage</th><th>share</th><th>look</th><th>window</th>"
        "<th>iterations (base / cand)</th><th>gates (hover for the finding)</th>"
        f"<th>decision</th></tr>{''.join(rows)}</table>"
    )
    hooks = "".join(
        f"<li><code>{escape(h['hook'])}</code> {'ok' if h['ok'] else '<b class=bad>failed</b>'}"
        f" · {escape(h['detail'])} · {h['elapsed_s']:.2f} s</li>"
        for h in record.get("hooks", [])
    )
    hooks_html = f"<h3>Hooks</h3><ul>{hooks}</ul>" if hooks else ""
    return f"{head}<ul>{reasons}</ul>{chart}{table}{hooks_html}"


def _num(value: object) -> str:
    """A number from rollout.json as text, escaped: the file may have been crafted."""
    return escape(str(value))
