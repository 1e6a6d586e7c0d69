"""The report's charts, drawn by matplotlib into small inline SVG documents.

Figures are built with the object-oriented `Figure` API (no pyplot, hence no GUI backend and no
global figure registry); text stays text in the SVG (`svg.fonttype = none`) and every id is
salted per chart so that several SVGs can share one HTML page.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator
from matplotlib.typing import RcKeyType

from harness.markdown import plain
from harness.report.folder import Distribution

TARGET_COLOURS = ("#2563eb", "#ea580c", "#059669", "#9333ea")  # baseline, candidate, …
TOUCHPOINT_COLOURS = {"web": "#7c3aed", "api": "#0891b2", "mobile": "#16a34a"}
_STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",  # text as <text>: smaller, and selectable in the browser
    "text.parse_math": False,  # a `$` in a step name is text, not TeX
    "font.size": 8.5,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # the browser falls back to its own sans-serif
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.6,
    "axes.edgecolor": "#9ca3af",
    "axes.titlesize": 9,
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "legend.fontsize": 8,
    "path.simplify": True,
}
_serial = itertools.count()
CHAR_INCHES = 0.068  #: average width of a character at the charts' font size
CDF_POINTS = 150  #: per curve: smooth to the eye, and keeps a chart's SVG small


def target_colour(index: int) -> str:
    """The colour of the index-th target (baseline first)."""
    return TARGET_COLOURS[index % len(TARGET_COLOURS)]


@contextmanager
def style() -> Iterator[None]:
    # a fresh salt per chart keeps the ids of clip paths and markers unique on the page
    salt = f"c{next(_serial)}"
    with mpl.rc_context(_STYLE):
        mpl.rcParams["svg.hashsalt"] = salt  # restored when the context ends
        yield


_METADATA = re.compile(r"<metadata>.*?</metadata>", re.S)
_BETWEEN_TAGS = re.compile(r">\s+<")
_GROUP_ID = re.compile(r'<g id="[^"]*"')  # matplotlib's own names (figure_1, …): unreferenced
_GEOMETRY = re.compile(r'\b(d|x|y|transform)="([^"]*)"')
_DECIMALS = re.compile(r"(\d+\.\d)\d+")


def svg(fig: Figure, *, tight: bool = False) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight" if tight else None)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: it is inline
    text = _BETWEEN_TAGS.sub("><", _METADATA.sub("", text))
    text = _GROUP_ID.sub("<g", text)  # and repeated in every chart: duplicate ids on the page
    # a tenth of a point is finer than any screen shows: a third of the bytes go
    return _GEOMETRY.sub(_shorter, text)


def _shorter(match: re.Match[str]) -> str:
    numbers = _DECIMALS.sub(r"\1", " ".join(match[2].split()))
    return f'{match[1]}="{numbers}"'


def ms_label(value: float, _: object = None) -> str:
    if value >= 1000:
        return f"{value / 1000:g} s"
    return f"{value:g} ms"


def small_multiples(
    count: int, *, panel_height: float, extra: float = 0.0, top: float, hspace: float
) -> tuple[Figure, Any]:
    """A figure of `count` panels, three to a row, with fixed margins (constrained layout
    measured every tick label, a second per chart); its axes, flat. `top` is the room above the
    panels in inches (titles, a legend)."""
    columns = min(3, count) or 1
    rows = math.ceil(count / columns) or 1
    height = panel_height * rows + extra
    fig = Figure(figsize=(3.5 * columns, height))
    fig.subplots_adjust(
        left=0.22 / columns,
        right=0.98,
        bottom=0.45 / height,
        top=1 - top / height,
        wspace=0.35,
        hspace=hspace,
    )
    return fig, fig.subplots(rows, columns, squeeze=False).ravel()


def latency_cdfs(panels: Sequence[tuple[str, Mapping[str, Distribution]]]) -> str:
    """Small multiples of latency CDFs: one panel per (title, target → distribution)."""
    with style():
        fig, axes = small_multiples(len(panels), panel_height=2.3, top=0.5, hspace=0.55)
        targets = list(dict.fromkeys(t for _, curves in panels for t in curves))
        for ax, (title, curves) in zip(axes, panels, strict=False):
            low, high = math.inf, 0.0
            for target, dist in curves.items():
                x, y = dist.cdf(CDF_POINTS)
                if len(x) == 0:
                    continue
                low, high = min(low, float(x[0])), max(high, float(x[-1]))
                colour = target_colour(targets.index(target))
                if len(x) < 30:  # few values: show the steps of the empirical CDF
                    ax.step([x[0], *x], [0, *(y * 100)], where="post", color=colour, lw=1.4)
                else:
                    ax.plot(x, y * 100, color=colour, linewidth=1.4)
            counts = " / ".join(f"{d.total:,}" for d in curves.values())
            ax.set_title(label(f"{title} · n {counts}"), loc="left")
            ax.set_xscale("log")
            decades = math.log10(high / low) if 0 < low < high else 0.0
            subs = (1.0,) if decades > 1.3 else (1.0, 2.0, 5.0) if decades > 0.6 else None
            ax.xaxis.set_major_locator(LogLocator(subs=subs or tuple(range(1, 10))))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_major_formatter(ms_label)
            ax.set_ylim(0, 101)
            ax.set_yticks([0, 50, 100])
            ax.axhline(95, color="#9ca3af", linewidth=0.7, linestyle=":")
            ax.text(
                1.0,
                95,
                "p95 ",
                transform=ax.get_yaxis_transform(),
                ha="right",
                va="bottom",
                fontsize=7,
                color="#6b7280",
            )
            ax.set_ylabel("% at or below")
        fig.legend(
            handles=[
                Line2D([], [], color=target_colour(i), linewidth=1.4, label=label(t))
                for i, t in enumerate(targets)
            ],
            loc="upper right",
            ncols=len(targets),
        )
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        return svg(fig)


@dataclass(frozen=True)
class FunnelStep:
    """How many iterations reached a step and got through it, on one target."""

    step: str
    touchpoint: str
    reached: int
    passed: int


def funnel(journey: str, per_target: Mapping[str, Sequence[FunnelStep]]) -> str:
    """Horizontal bars per step (in journey order), one panel per target: the pale bar is how
    many iterations reached the step, the solid one how many passed it, coloured by
    touchpoint."""
    with style():
        steps = max((len(s) for s in per_target.values()), default=1)
        panels = max(1, len(per_target))
        longest = max(
            (len(r.step) + len(r.touchpoint) for s in per_target.values() for r in s), default=10
        )
        labels = 0.35 + CHAR_INCHES * (longest + 3)
        width, height = labels + 4.3 * panels, 0.9 + 0.3 * steps
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(
            left=labels / width, right=0.98, bottom=0.55 / height, top=1 - 0.3 / height
        )
        axes = fig.subplots(1, panels, squeeze=False, sharey=True).ravel()
        for ax, (target, rows) in zip(axes, per_target.items(), strict=False):
            y = list(range(len(rows)))
            colours = [TOUCHPOINT_COLOURS.get(r.touchpoint, "#6b7280") for r in rows]
            ax.barh(y, [r.reached for r in rows], color=colours, alpha=0.25, height=0.7)
            ax.barh(y, [r.passed for r in rows], color=colours, height=0.7)
            top = max((r.reached for r in rows), default=0)
            for i, r in enumerate(rows):
                share = f" {r.passed / r.reached:.0%}" if r.reached else ""
                ax.text(
                    r.reached + top * 0.01, i, f"{r.passed:,}/{r.reached:,}{share}", va="center"
                )
            ax.set_yticks(y, [label(f"{r.step} [{r.touchpoint}]") for r in rows])
            ax.set_xlim(0, max(1, top) * 1.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(label(target), loc="left")
            ax.grid(axis="y", visible=False)
            ax.set_xlabel("iterations (pale: reached, solid: passed)")
        axes[0].invert_yaxis()  # once: the y axis is shared, a second call would undo it
        return svg(fig)


def health(samples: Sequence[Mapping[str, Any]]) -> str:
    """The load generator over time: its CPU, its Chromium's CPU and its event-loop lag, per
    generator process."""
    with style():
        fig = Figure(figsize=(10, 3.6))
        fig.subplots_adjust(left=0.06, right=0.98, bottom=0.14, top=0.92, wspace=0.18)
        cpu_ax, lag_ax = fig.subplots(1, 2)
        start = min((float(s["t"]) for s in samples), default=0.0)
        sources = list(dict.fromkeys(str(s.get("source", "local")) for s in samples))
        for index, source in enumerate(sources):
            rows = [s for s in samples if str(s.get("source", "local")) == source]
            t = [float(s["t"]) - start for s in rows]
            colour = target_colour(index)
            suffix = f" ({label(source)})" if len(sources) > 1 else ""
            cpu_ax.plot(
                t, [float(s.get("cpu", 0)) for s in rows], color=colour, label="generator" + suffix
            )
            cpu_ax.plot(
                t,
                [float(s.get("browser_cpu", 0)) for s in rows],
                color=colour,
                linestyle="--",
                label="Chromium" + suffix,
            )
            lag_ax.plot(
                t, [float(s.get("lag_ms", 0)) for s in rows], color=colour, label=label(source)
            )
        cpu_ax.axhline(90, color="#dc2626", linewidth=0.8, linestyle=":")
        cpu_ax.set_title("CPU (% of one core; dotted: saturated)", loc="left")
        busiest = max(
            (float(s.get(k, 0)) for s in samples for k in ("cpu", "browser_cpu")), default=0
        )
        cpu_ax.set_ylim(0, max(125.0, busiest * 1.25))  # room for the legend above the line
        cpu_ax.legend(loc="upper right", ncols=2)
        lag_ax.axhline(100, color="#dc2626", linewidth=0.8, linestyle=":")
        lag_ax.set_title("Event-loop lag (ms; dotted: saturated)", loc="left")
        lag_ax.set_ylim(bottom=0)
        for ax in (cpu_ax, lag_ax):
            ax.set_xlabel("seconds since the first sample")
        return svg(fig)


def impact_map(edges: Mapping[tuple[str, str, str], set[str]]) -> str:
    """Journeys → steps → endpoints as a three-column graph. `edges` maps (journey, step,
    touchpoint) to the endpoints (`METHOD /route/{id}`) that step called."""
    steps = list(edges)
    journeys = list(dict.fromkeys(j for j, _, _ in steps))
    step_y = {s: float(i) for i, s in enumerate(steps)}
    # endpoints ordered by where their callers sit, which keeps lines from crossing much
    callers: dict[str, list[float]] = {}
    for step, endpoints in edges.items():
        for endpoint in endpoints:
            callers.setdefault(endpoint, []).append(step_y[step])
    ordered = sorted(callers, key=lambda e: (sum(callers[e]) / len(callers[e]), e))
    rows = max(len(steps), len(ordered), 1)
    scale = (rows - 1) / max(len(ordered) - 1, 1)
    end_y = {e: i * scale for i, e in enumerate(ordered)}
    journey_y = {
        j: sum(step_y[s] for s in steps if s[0] == j) / sum(1 for s in steps if s[0] == j)
        for j in journeys
    }
    with style():
        fig = Figure(figsize=(11, 0.6 + 0.26 * rows))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.set_xlim(0, 1)
        ax.set_ylim(rows - 0.4, -0.6)
        for journey, y in journey_y.items():
            ax.text(0.2, y, clip(journey, 34), ha="right", va="center", weight="bold")
        for step, y in step_y.items():
            colour = TOUCHPOINT_COLOURS.get(step[2], "#6b7280")
            ax.plot([0.205, 0.37], [journey_y[step[0]], y], color="#9ca3af", linewidth=0.7)
            ax.add_patch(
                FancyBboxPatch(
                    (0.37, y - 0.36),
                    0.25,
                    0.72,
                    boxstyle="round,pad=0,rounding_size=0.004",
                    facecolor=colour,
                    alpha=0.15,
                    edgecolor=colour,
                )
            )
            ax.text(0.375, y, clip(f"{step[1]} [{step[2]}]", 40), va="center")
            for endpoint in edges[step]:
                ax.plot([0.62, 0.72], [y, end_y[endpoint]], color=colour, linewidth=0.7, alpha=0.8)
        for endpoint, y in end_y.items():
            ax.text(0.725, y, clip(endpoint, 48), va="center", family="monospace")
        return svg(fig)


def clip(text: str, limit: int) -> str:
    text = label(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label(value: object) -> str:
    """A name from the run folder as a chart label: no control characters (the SVG backend
    escapes markup, but a control character is neither drawable nor valid XML)."""
    return plain(value)
