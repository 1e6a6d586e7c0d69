"""The report's "over time" section: each step's p50/p95 per time window, baseline against
candidate, and failed steps by error kind per window (see `harness.report.windows`)."""

from __future__ import annotations

from html import escape

import numpy as np

from harness.report import charts
from harness.report.folder import RunFolder
from harness.report.sections import figure, not_recorded
from harness.report.windows import StepWindows, read_windows, shifts
from harness.telemetry.hdr import SeriesKey

MAX_PANELS = 36  #: steps charted; the rest are named below the chart


def over_time(run: RunFolder) -> str:
    """Step latency and errors per time window, from every record of steps.jsonl."""
    windows = read_windows(run.path)
    if windows is None:
        return not_recorded("steps.jsonl holds no step")
    if windows.windows < 2:
        return "<p class=muted>The run's steps all started within one window.</p>"
    parts = [_latency(run, windows)]
    if windows.errors:
        series = {key: counts.tolist() for key, counts in sorted(windows.errors.items())}
        parts.append(
            figure(
                charts.errors_over_time(windows.times().tolist(), series),
                f"Failed steps per {windows.width_s:g} s window, by error kind",
            )
        )
    else:
        parts.append("<p class=muted>No step failed.</p>")
    return "".join(parts)


def _latency(run: RunFolder, windows: StepWindows) -> str:
    targets = run.targets
    panels = []
    for journey in run.journeys():
        for step, touchpoint in run.step_order(journey):
            lines = {}
            for target in targets:
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
    if not panels:
        return not_recorded("no step series")
    shown, rest = panels[:MAX_PANELS], panels[MAX_PANELS:]
    caption = (
        f"p95 (solid) and p50 (dashed) per {windows.width_s:g} s window, from all "
        f"{windows.records:,} step records"
        + (f"; {len(rest)} more steps not drawn" if rest else "")
    )
    span = windows.windows * windows.width_s
    html = figure(charts.latency_over_time(shown, span), caption)
    moved = shifts(windows)
    if moved:
        several = len(targets) > 1
        rows = "".join(
            f"<tr><td>{escape(s.key.journey)} › {escape(s.key.step)}</td>"
            f"<td>{escape(s.key.touchpoint)}</td>"
            + (f"<td>{escape(s.key.target)}</td>" if several else "")
            + f"<td>{_ms(s.before_ms)}</td><td>{_ms(s.after_ms)}</td>"
            f"<td>{'+' if s.ratio >= 1 else ''}{(s.ratio - 1):.0%}</td></tr>"
            for s in moved
        )
        head = "<th>target</th>" if several else ""
        html += (
            "<p>Steps whose p95 moved by half or more during the run (median of the window "
            f"p95s, first half against second half, which starts at {moved[0].from_s:g} s):</p>"
            f"<table><tr><th>step</th><th>touchpoint</th>{head}<th>first half</th>"
            f"<th>second half</th><th>change</th></tr>{rows}</table>"
        )
    return html


def _ms(value: float) -> str:
    if np.isnan(value):
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"
