"""The trend report's chart: p95 per step across runs, one panel a journey, one line a step
(drawn as the run reports draw theirs, `harness.report.charts`, into inline SVG)."""

from __future__ import annotations

from collections.abc import Sequence

from harness.history.trends import StepTrend

MAX_STEPS = 8  #: lines a panel draws (the tables below it list every step)


def p95_chart(trends: Sequence[StepTrend]) -> str:
    """Small multiples of p95 per step against the run's place in the history; "" when no
    step was measured."""
    from matplotlib.lines import Line2D

    from harness.report.charts import clip, ms_label, small_multiples, style, svg, target_colour

    if not trends:
        return ""
    runs = list(dict.fromkeys(run for t in trends for run, *_ in t.points))
    place = {run: index + 1 for index, run in enumerate(sorted(runs))}
    journeys: dict[str, list[StepTrend]] = {}
    for trend in trends:
        journeys.setdefault(trend.journey, []).append(trend)
    with style():
        fig, axes = small_multiples(len(journeys), panel_height=2.6, top=0.45, hspace=0.7)
        for ax, (journey, steps) in zip(axes, journeys.items(), strict=False):
            handles = []
            for index, trend in enumerate(steps[:MAX_STEPS]):
                points = [(place[run], p95) for run, _, _, p95 in trend.points if p95 is not None]
                colour = target_colour(index)
                ax.plot(*zip(*points, strict=True), color=colour, linewidth=1.2, marker=".")
                handles.append(Line2D([], [], color=colour, label=clip(trend.step, 24)))
            ax.set_title(clip(journey, 40), loc="left")
            ax.yaxis.set_major_formatter(ms_label)
            ax.set_xlabel("run (oldest first)")
            ax.set_ylim(bottom=0)
            ax.legend(handles=handles, fontsize=6, loc="upper left")
        for ax in axes[len(journeys) :]:
            ax.set_visible(False)
        return svg(fig)
