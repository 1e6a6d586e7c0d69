"""The report's section of a `harness load --workload` run: the journey mix, the arrivals and
the think times it used, against those recorded in the access logs (workload.json)."""

from __future__ import annotations

from typing import Any

from harness.report.folder import RunFolder
from harness.report.render import Markup, render
from harness.report.sections import not_recorded
from harness.workload import RUN_FILE


def workload_section(run: RunFolder) -> Markup:
    """Mix, arrivals a minute and per bucket, think p50/p95: recorded against used."""
    compared = run.workload
    if compared is None:
        why = f"{RUN_FILE} {run.missing[RUN_FILE]}" if RUN_FILE in run.missing else ""
        return not_recorded(why or "runs of a workload model only (harness load --workload)")
    mix: dict[str, Any] = compared.get("mix", {})
    think: dict[str, Any] = compared.get("think", {})
    rows = [
        (
            name,
            _percent(shares.get("recorded")),
            _percent(shares.get("used")),
            _pair(think.get(name, {}).get("recorded")),
            _pair(think.get(name, {}).get("used")),
        )
        for name, shares in mix.items()
        if isinstance(shares, dict)
    ]
    rate = compared.get("rate_per_minute", {})
    arrivals = compared.get("arrivals", {})
    return render(
        "workload.html",
        rows=rows,
        rate=(str(rate.get("recorded", "?")), str(rate.get("used", "?"))),
        speed=str(compared.get("speed", 1)),
        bucket=str(compared.get("bucket_s", "?")),
        arrivals=(
            ", ".join(str(n) for n in arrivals.get("recorded", [])),
            ", ".join(str(n) for n in arrivals.get("used", [])),
        ),
    )


def _percent(value: Any) -> str:
    return f"{value:.1f}%" if isinstance(value, int | float) else "—"


def _pair(values: Any) -> str:
    if not isinstance(values, list) or len(values) != 2:
        return "none"
    return f"{values[0]:g} s / {values[1]:g} s"
