"""The report's "compared with the last 10 runs against this target": from the folder's
`history.json`, which the run history writes when it indexes a rehearsal."""

from __future__ import annotations

from harness.report.folder import RunFolder
from harness.report.render import Markup, render
from harness.report.sections import not_recorded
from harness.telemetry.latency import format_ms


def compared_section(run: RunFolder) -> Markup:
    """This run's p95 per step beside the median of the runs before it on its target."""
    found = run.compared
    if found is None:
        why = "only indexed rehearsals are compared" if run.mode != "rehearse" else "no history"
        return not_recorded(why)
    steps = [
        {
            "journey": s.get("journey", ""),
            "step": s.get("step") or "(iteration)",
            "p95": _ms(s.get("p95_ms")),
            "median": _ms(s.get("median_p95_ms")),
            "runs": s.get("runs", 0),
            "ratio": f"×{s['ratio']:.2f}" if isinstance(s.get("ratio"), int | float) else "—",
        }
        for s in found.get("steps", [])
        if isinstance(s, dict)
    ]
    runs = [r for r in found.get("runs", []) if isinstance(r, dict)]
    return render("compared.html", target=str(found.get("target", "")), runs=runs, steps=steps)


def _ms(value: object) -> str:
    return format_ms(float(value)) if isinstance(value, int | float) else "—"
