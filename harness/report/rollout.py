"""The report's staged-rollout section: the stage timeline from `rollout.json` (share, window,
samples per cohort, each gate's outcome, the decision of every look), and the hooks called."""

from __future__ import annotations

from typing import Any

from harness.report import time_charts
from harness.report.folder import RunFolder
from harness.report.render import Markup, render, trusted_svg
from harness.report.sections import not_recorded
from harness.rollout.stages import ROLLOUT_FILE

_BADGE = {"widen": "pass", "promote": "pass", "extend": "inconclusive", "hold": "inconclusive"}


def stage_timeline(run: RunFolder) -> Markup:
    """The stage timeline of a staged rollout; a placeholder for any other run."""
    record = run.rollout  # read (bounded) and checked against its model by `read_run`
    if record is None:
        why = "only staged rollouts have stages" if run.mode != "rollout" else "no rollout.json"
        if ROLLOUT_FILE in run.missing:
            why = f"rollout.json {run.missing[ROLLOUT_FILE]}"
        return not_recorded(why)
    stages: list[dict[str, Any]] = record.get("stages", [])
    rows = []
    for s in stages:
        decision = str(s["decision"])
        move = f" → {s['next_share']:g}%" if s["next_share"] != s["share"] else ""
        if s.get("early"):
            move += " (early, by a live gate)"
        rows.append(
            {
                "stage": s["stage"],
                "share": s["share"],
                "look": s["look"],
                "started_s": float(s["started_s"]),
                "ended_s": float(s["ended_s"]),
                "baseline": s["baseline"]["iterations"],
                "candidate": s["candidate"]["iterations"],
                "gates": [
                    {"badge": g["decision"], "summary": g["summary"], "name": g["name"]}
                    for g in s.get("gates", [])
                ],
                "badge": _BADGE.get(decision, "fail"),  # a badge class, never the file's text
                "decision": decision,
                "move": move,
            }
        )
    chart = (
        trusted_svg(time_charts.stage_timeline(stages, float(record.get("final_share", 0))))
        if stages
        else None
    )
    return render(
        "rollout.html",
        outcome=str(record.get("outcome", "?")).replace("_", " "),
        final_share=record.get("final_share", 0),
        shares=record.get("shares", []),
        stage_duration_s=record.get("stage_duration_s", 0),
        max_extensions=record.get("max_extensions", 0),
        min_samples=record.get("min_samples"),
        detection_s=record.get("detection_s"),
        first_effect_source=str(record.get("first_effect_source")),
        reasons=record.get("reasons", [])[:4],
        svg=chart,
        stages=rows,
        hooks=record.get("hooks", []),
    )
