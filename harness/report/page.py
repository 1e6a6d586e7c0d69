"""report.html: one self-contained page (inline CSS, inline SVG charts, embedded screenshots)
that opens offline in any browser."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from harness.report import sections
from harness.report.compared import compared_section
from harness.report.failures import failures_section
from harness.report.folder import RunFolder
from harness.report.metric_charts import metric_series
from harness.report.over_time import over_time
from harness.report.render import Markup, render
from harness.report.rollout import stage_timeline
from harness.report.vitals import vitals_section
from harness.report.workload import workload_section
from harness.results import replace_file

REPORT_FILE = "report.html"

#: the page's style sheet, shared with the drill's report
CSS = (resources.files("harness.report") / "templates" / "report.css").read_text(encoding="utf-8")

Section = tuple[str, str, Callable[[RunFolder], Markup]]

SECTIONS: tuple[Section, ...] = (
    ("gates", "Release gates", sections.gates),
    ("history", "Compared with the last 10 runs against this target", compared_section),
    ("metrics", "Metric gates: the target's own telemetry", metric_series),
    ("rollout", "Staged rollout: stage timeline", stage_timeline),
    ("latency", "Latency per journey and step", sections.latency),
    ("vitals", "Web Vitals per web step", vitals_section),
    ("throughput", "Throughput and errors over time", sections.throughput),
    ("over-time", "Step latency and errors over time", over_time),
    ("workload", "Workload: used against recorded", workload_section),
    ("funnels", "Funnels", sections.funnels),
    ("failures", "Failures", failures_section),
    ("impact", "Impact map: journeys → steps → endpoints", sections.impact),
    ("health", "Load generator health", sections.generator_health),
    ("run", "Run", sections.metadata),
)


@dataclass(frozen=True)
class DrawnSection:
    """One section of the page: its content, or why it could not be drawn."""

    anchor: str
    title: str
    content: Markup
    broken: str = ""


def render_page(run: RunFolder) -> str:
    """The whole report as one HTML document."""
    started = time.perf_counter()
    banner = sections.banner(run)
    drawn = []
    for anchor, title, build in SECTIONS:
        try:
            drawn.append(DrawnSection(anchor, title, build(run)))
        except Exception as exc:  # one broken section must not cost the whole report
            drawn.append(DrawnSection(anchor, title, Markup(), f"{type(exc).__name__}: {exc}"))
    return (
        render(
            "page.html",
            title=f"{run.mode} {run.run_id}",
            nav=[(anchor, title.split(":")[0]) for anchor, title, _ in SECTIONS],
            banner=banner,
            sections=drawn,
            missing=sorted(run.missing.items()),
            elapsed=time.perf_counter() - started,
            path=str(run.path),
        )
        + "\n"
    )


def write_page(run: RunFolder) -> Path:
    """Write report.html into the run folder and return its path."""
    path = run.path / REPORT_FILE
    replace_file(path, render_page(run))
    return path
