"""The report's "over time" section: each step's p50/p95 per time window, baseline against
candidate, and failed steps by error kind per window (see `harness.report.windows`)."""

from __future__ import annotations

from harness.report import time_charts
from harness.report.folder import RunFolder
from harness.report.render import Markup, render
from harness.report.sections import figure, not_recorded
from harness.report.windows import StepWindows, read_windows, shifts
from harness.telemetry.hdr import SeriesKey

MAX_PANELS = 36  #: steps charted; the rest are named below the chart


def over_time(run: RunFolder) -> Markup:
    """Step latency and errors per time window, from every record of steps.jsonl."""
    windows = read_windows(run.path)
    if windows is None:
        return not_recorded("steps.jsonl holds no step")
    if windows.windows < 2:
        return render("one_window.html")
    errors = None
    if windows.errors:
        series = {key: counts.tolist() for key, counts in sorted(windows.errors.items())}
        errors = figure(
            time_charts.errors_over_time(windows.times().tolist(), series),
            f"Failed steps per {windows.width_s:g} s window, by error kind",
        )
    panels = _panels(run, windows)
    if not panels:
        return render("over_time.html", figure=not_recorded("no step series"), moved=[],
                      several=False, errors=errors)  # fmt: skip
    shown, rest = panels[:MAX_PANELS], panels[MAX_PANELS:]
    caption = (
        f"p95 (solid) and p50 (dashed) per {windows.width_s:g} s window, from all "
        f"{windows.records:,} step records"
        + (f"; {len(rest)} more steps not drawn" if rest else "")
    )
    span = windows.windows * windows.width_s
    return render(
        "over_time.html",
        figure=figure(time_charts.latency_over_time(shown, span), caption),
        moved=shifts(windows),
        several=len(run.targets) > 1,
        errors=errors,
    )


def _panels(
    run: RunFolder, windows: StepWindows
) -> list[tuple[str, dict[str, time_charts.OverTime]]]:
    """Per step with samples, in journey order: its title and its lines per target."""
    panels = []
    for journey in run.journeys():
        for step, touchpoint in run.step_order(journey):
            lines: dict[str, time_charts.OverTime] = {}
            for target in run.targets:
                key = SeriesKey(target, journey, step, touchpoint)
                if key not in windows.latency:
                    continue
                lines[target] = (
                    windows.times().tolist(),
                    windows.percentile(key, 50.0).tolist(),
                    windows.percentile(key, 95.0).tolist(),
                )
            if lines:
                panels.append((f"{journey} › {step} [{touchpoint}]", lines))
    return panels
