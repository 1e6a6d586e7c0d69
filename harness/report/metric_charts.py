"""The report's metric gates section: each metric gate's query on both sides over time (the
points its provider answered, as verdict.json keeps them), the judged window shaded, and the
gate's finding as the caption."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.report.folder import RunFolder
from harness.report.render import Markup
from harness.report.sections import figure, not_recorded

__all__ = ["metric_chart", "metric_series"]


def metric_series(run: RunFolder) -> Markup:
    """One chart per metric gate of the verdict; not recorded when it has none."""
    verdict = run.verdict
    gates = [g for g in (verdict.gates if verdict else []) if g.metric and g.metric.get("sides")]
    if not gates:
        return not_recorded("no metric gate fetched points for this run")
    parts = []
    for gate in gates:
        assert gate.metric is not None
        sides = {name: side.get("points", []) for name, side in gate.metric["sides"].items()}
        window = gate.metric.get("window") or [0.0, 0.0]
        caption = (
            f"{gate.name}: {gate.decision.value} — {gate.summary} "
            f"(query {gate.metric['query']} on {gate.metric['provider']})"
        )
        parts.append(figure(metric_chart(gate.name, sides, window), caption))
    return Markup("").join(parts)


def metric_chart(
    title: str, sides: Mapping[str, Sequence[Sequence[float]]], window: Sequence[float]
) -> str:
    """Each side's points (epoch seconds, value) against seconds since the window's start, the
    judged points' span shaded."""
    from matplotlib.figure import Figure

    from harness.report.charts import label, style, svg, target_colour

    start = float(window[0])
    with style():
        fig = Figure(figsize=(10, 2.6))
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.2, top=0.86)
        axes: Any = fig.subplots()
        times = [float(p[0]) for points in sides.values() for p in points]
        if times:
            axes.axvspan(min(times) - start, max(times) - start, color="#e5e7eb", zorder=0)
        for index, (side, points) in enumerate(sides.items()):
            xs = [float(p[0]) - start for p in points]
            ys = [float(p[1]) for p in points]
            axes.plot(xs, ys, color=target_colour(index), linewidth=1.3, label=label(side))
        axes.set_title(label(title), loc="left")
        axes.set_xlabel("seconds since the run's first iteration (judged points shaded)")
        axes.legend(loc="upper left")
        return svg(fig)
