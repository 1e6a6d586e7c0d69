"""The report's charts over time: throughput, a staged rollout's shares, a step's latency and
the errors by kind, window by window (drawn as `harness.report.charts` draws, into inline SVG).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from harness.report.charts import (
    clip,
    label,
    ms_label,
    small_multiples,
    style,
    svg,
    target_colour,
)


def timeline(
    series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
) -> str:
    """Throughput and failures per second: target → (seconds since start, iterations,
    failures)."""
    with style():
        fig = Figure(figsize=(10, 3.6))
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.93, hspace=0.35)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
        for index, (target, (t, iterations, failures)) in enumerate(series.items()):
            colour = target_colour(index)
            top.plot(t, iterations, color=colour, linewidth=1.3, label=label(target))
            bottom.plot(t, failures, color=colour, linewidth=1.3, label=label(target))
        top.set_ylabel("iterations / s")
        top.set_title("Throughput", loc="left")
        top.legend(loc="upper right")
        bottom.set_ylabel("failed / s")
        bottom.set_xlabel("seconds since the first iteration")
        bottom.set_title("Failed iterations", loc="left")
        top.set_ylim(bottom=0)
        most = max((max(f, default=0) for _, _, f in series.values()), default=0)
        bottom.set_ylim(0, max(1.0, float(most)) * 1.1)
        bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
        return svg(fig)


DECISION_COLOURS = {
    "widen": "#059669",
    "promote": "#059669",
    "extend": "#d97706",
    "hold": "#d97706",
    "rollback": "#dc2626",
    "stop": "#dc2626",
}


def stage_timeline(stages: Sequence[Mapping[str, Any]], final_share: float) -> str:
    """A staged rollout over time: the candidate's share per stage window (a step line), each
    look's decision as a coloured marker at the window's end."""
    with style():
        fig = Figure(figsize=(7.0, 2.1))
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.22, top=0.88)
        ax = fig.subplots()
        xs: list[float] = []
        ys: list[float] = []
        for stage in stages:
            xs += [float(stage["started_s"]), float(stage["ended_s"])]
            ys += [float(stage["share"])] * 2
        if stages:
            end = float(stages[-1]["ended_s"])
            xs += [end, end + max(1.0, 0.05 * end)]
            ys += [final_share, final_share]
        ax.plot(xs, ys, color=target_colour(1), linewidth=1.6, drawstyle="steps-post")
        for stage in stages:
            colour = DECISION_COLOURS.get(str(stage["decision"]), "#6b7280")
            ax.plot([stage["ended_s"]], [stage["share"]], "o", color=colour, markersize=6)
            ax.annotate(
                label(stage["decision"]),
                (float(stage["ended_s"]), float(stage["share"])),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=7.5,
                color=colour,
            )
        ax.set_ylim(0, 112)
        ax.set_yticks([0, 25, 50, 75, 100])
        ax.set_ylabel("candidate share %")
        ax.set_xlabel("seconds since the rollout started")
        ax.set_title("candidate share by stage, and each look's decision", loc="left")
        return svg(fig)


#: A step's latency over time on one target: (window middles in s, p50s, p95s), NaN where empty.
OverTime = tuple[Sequence[float], Sequence[float], Sequence[float]]


def latency_over_time(panels: Sequence[tuple[str, Mapping[str, OverTime]]], span_s: float) -> str:
    """Small multiples of a step's p95 (solid) and p50 (dashed) per time window, one line of
    each per target (baseline first), every panel over the run's whole `span_s`: a regression
    that starts mid-run shows where it starts."""
    with style():
        fig, axes = small_multiples(len(panels), panel_height=2.1, extra=0.3, top=0.55, hspace=0.6)
        targets = list(dict.fromkeys(t for _, lines in panels for t in lines))
        for ax, (title, lines) in zip(axes, panels, strict=False):
            for target, (t, p50, p95) in lines.items():
                colour = target_colour(targets.index(target))
                ax.plot(t, p95, color=colour, linewidth=1.3, marker=".", markersize=2.5)
                ax.plot(t, p50, color=colour, linewidth=0.9, linestyle="--")
            ax.set_title(clip(title, 48), loc="left")
            ax.set_xlim(0, span_s)
            ax.set_ylim(bottom=0)
            ax.yaxis.set_major_formatter(ms_label)
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        handles = [
            Line2D([], [], color=target_colour(i), linewidth=1.3, label=label(t))
            for i, t in enumerate(targets)
        ]
        handles += [
            Line2D([], [], color="#6b7280", linewidth=1.3, label="p95"),
            Line2D([], [], color="#6b7280", linewidth=0.9, linestyle="--", label="p50"),
        ]
        fig.legend(handles=handles, loc="upper right", ncols=len(handles))
        fig.supxlabel("seconds since the first step", fontsize=8)
        return svg(fig)


ERROR_COLOURS = ("#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569")


def errors_over_time(
    times: Sequence[float], series: Mapping[tuple[str, str], Sequence[float]]
) -> str:
    """Failed steps per window by error kind: colour by kind, solid for the first target
    (baseline), dashed for the next."""
    with style():
        fig = Figure(figsize=(10, 2.6))
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.18, top=0.9)
        ax = fig.subplots()
        targets = list(dict.fromkeys(t for t, _ in series))
        kinds = sorted({k for _, k in series})
        styles = ("-", "--", ":", "-.")
        for (target, kind), counts in series.items():
            ax.plot(
                times,
                counts,
                color=ERROR_COLOURS[kinds.index(kind) % len(ERROR_COLOURS)],
                linestyle=styles[targets.index(target) % len(styles)],
                linewidth=1.3,
                label=label(f"{kind} ({target})"),
            )
        ax.set_ylabel("failed steps / window")
        ax.set_xlabel("seconds since the first step")
        ax.set_title("Failed steps by error kind", loc="left")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper right", ncols=min(4, len(series)))
        return svg(fig)
