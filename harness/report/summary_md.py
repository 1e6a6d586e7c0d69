"""summary.md of a load run, rendered from its folder through the one reader (`read_folder`):
the closing table from histograms/ and counts.json (the same rows the terminal prints, with the
same statistics), the generator's health from health.json, failures from counts.json.

Every value from the run reaches the Markdown through `harness.markdown` (escaped).
"""

from __future__ import annotations

from typing import Any

from harness.engine.collector import Tally
from harness.engine.summary import latency_rows, markdown_table
from harness.markdown import md_code, md_text
from harness.report.vitals import vitals_rows
from harness.results.reader import StoredFolder
from harness.telemetry.hdr import HdrStore
from harness.telemetry.latency import failure_rate
from harness.text import plural

FAILURES_SHOWN = 20


def load_summary(folder: StoredFolder, *, target: str, plan_text: str, elapsed_s: float) -> str:
    """summary.md of a load run (or of a rehearsal's load, before its verdict is put on top)."""
    counts = folder.counts or {"journeys": [], "errors": []}
    journeys = {
        (j["target"], j["journey"]): Tally(
            iterations=j["iterations"], failures=j["failures"], cut_off=j.get("cut_off", 0)
        )
        for j in counts["journeys"]
    }
    iterations = sum(t.iterations for t in journeys.values())
    failed = sum(t.failures for t in journeys.values())
    cut_off = sum(t.cut_off for t in journeys.values())
    rate = iterations / elapsed_s if elapsed_s else 0.0
    lines = [
        f"# Load run {md_code(folder.path.name)} against {md_code(target)}",
        "",
        f"{plan_text}. {plural(iterations, 'iteration')} in {elapsed_s:.1f} s "
        f"({rate:.1f}/s), {failed:,} failed ({failure_rate(failed, iterations):.2%})"
        + (f"; {plural(cut_off, 'iteration')} cut off by the end of the load." if cut_off else "."),
        "",
        "## Latency (HDR, exact to 3 significant digits)",
        "",
        *markdown_table(latency_rows(folder.hdr or HdrStore(), journeys)),
        "",
        *_vitals_lines(folder.vitals),
        *_health_lines((folder.health or {}).get("summary") or {}),
        *_failure_lines(counts["errors"]),
    ]
    return "\n".join(lines) + "\n"


def _vitals_lines(store: HdrStore | None) -> list[str]:
    rows = vitals_rows(store) if store is not None else []
    if not rows:
        return []
    return ["## Web Vitals (per web step; CLS unitless)", "", *markdown_table(rows), ""]


def _health_lines(health: dict[str, Any]) -> list[str]:
    def number(key: str) -> float:
        value = health.get(key, 0)
        return float(value) if isinstance(value, int | float) else 0.0

    reasons = [str(r) for r in health.get("reasons") or []]
    return [
        "## Load generator health",
        "",
        f"- CPU of the generator: median {number('cpu_median'):.0f}%, "
        f"max {number('cpu_max'):.0f}% of a core; Chromium max {number('browser_cpu_max'):.0f}%",
        f"- event-loop lag: p95 {number('lag_p95_ms'):.1f} ms, max {number('lag_max_ms'):.1f} ms",
        f"- late iteration starts: {number('late'):,.0f}; dropped arrivals: "
        f"{number('dropped'):,.0f}",
        f"- memory (RSS) of a load process: max {number('rss_max_mb'):.0f} MB, growth "
        f"{number('rss_growth_mb'):.0f} MB over the run",
        "- verdict: "
        + (
            "**SATURATED** — " + md_text("; ".join(reasons))
            if health.get("saturated")
            else "kept up"
        ),
        *(f"- **WARNING**: {md_text(warning)}" for warning in health.get("warnings") or []),
    ]


def _failure_lines(errors: list[dict[str, Any]]) -> list[str]:
    if not errors:
        return []
    lines = [
        "",
        "## Failures",
        "",
        "| journey | step | touchpoint | kind | count |",
        "|---|---|---|---|---|",
    ]
    for e in sorted(errors, key=lambda e: -int(e["count"]))[:FAILURES_SHOWN]:
        kind, target = md_text(e.get("kind", "unknown")), md_text(e["target"])
        lines.append(
            f"| {md_code(e['journey'])} | {md_code(e['step'])} | {md_text(e['touchpoint'])} "
            f"| {kind} | {int(e['count']):,} ({target}) |"
        )
    return lines
