"""report.html: one self-contained page (inline CSS, inline SVG charts, embedded screenshots)
that opens offline in any browser."""

from __future__ import annotations

import time
from collections.abc import Callable
from html import escape
from pathlib import Path

from harness.report import sections
from harness.report.failures import failures_section
from harness.report.folder import RunFolder
from harness.report.over_time import over_time
from harness.report.rollout import stage_timeline
from harness.results import replace_file

REPORT_FILE = "report.html"

CSS = """
:root { color-scheme: light; --pass: #15803d; --fail: #b91c1c; --inconclusive: #b45309;
  --error: #7e22ce; --muted: #6b7280; --line: #e5e7eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #111827; background: #f9fafb; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 24px 48px; }
header h1 { font-size: 20px; margin: 8px 0 2px; }
nav { position: sticky; top: 0; background: #f9fafbee; padding: 6px 0; z-index: 1;
  border-bottom: 1px solid var(--line); }
nav a { margin-right: 14px; color: #1f2937; text-decoration: none; font-size: 13px; }
nav a:hover { text-decoration: underline; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 12px 18px; margin: 16px 0; overflow-x: auto; }
h2 { font-size: 17px; margin: 4px 0 10px; }
h3 { font-size: 14px; margin: 12px 0 4px; }
.banner { display: flex; gap: 20px; align-items: flex-start; border-width: 2px; }
.banner .decision { font-size: 30px; font-weight: 800; letter-spacing: 1px; min-width: 190px; }
.banner ul { margin: 4px 0; padding-left: 18px; }
.banner .what { margin: 4px 0; color: var(--muted); }
.banner.pass { border-color: var(--pass); } .banner.pass .decision { color: var(--pass); }
.banner.fail { border-color: var(--fail); } .banner.fail .decision { color: var(--fail); }
.banner.inconclusive { border-color: var(--inconclusive); }
.banner.inconclusive .decision { color: var(--inconclusive); }
.banner.error { border-color: var(--error); } .banner.error .decision { color: var(--error); }
table { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left;
  vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.worse { color: var(--fail); font-weight: 700; }
td.unjudged { color: var(--muted); font-style: italic; }
.notjudged { color: var(--inconclusive); font-weight: 600; white-space: nowrap; }
table.meta th { width: 160px; }
table.gates { width: 100%; }
details summary { cursor: pointer; }
table.evidence { margin: 8px 0 4px; font-size: 12px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
  font-size: 12px; font-weight: 600; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.badge.inconclusive { background: var(--inconclusive); } .badge.error { background: var(--error); }
.tag { font-size: 11px; border: 1px solid var(--fail); color: var(--fail); border-radius: 4px;
  padding: 0 4px; }
.muted { color: var(--muted); } .bad { color: var(--fail); font-weight: 600; }
tr.unrun td { color: var(--fail); font-weight: 600; }
figure { margin: 12px 0; } figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12px; }
figure.shot img { max-width: 100%; border: 1px solid var(--line); }
pre { background: #111827; color: #e5e7eb; padding: 10px; border-radius: 6px; font-size: 12px;
  overflow-x: auto; }
article.failure { border-top: 1px solid var(--line); padding-top: 6px; }
code { font-size: 12px; }
"""

Section = tuple[str, str, Callable[[RunFolder], str]]

SECTIONS: tuple[Section, ...] = (
    ("gates", "Release gates", sections.gates),
    ("rollout", "Staged rollout: stage timeline", stage_timeline),
    ("latency", "Latency per journey and step", sections.latency),
    ("throughput", "Throughput and errors over time", sections.throughput),
    ("over-time", "Step latency and errors over time", over_time),
    ("funnels", "Funnels", sections.funnels),
    ("failures", "Failures", failures_section),
    ("impact", "Impact map: journeys → steps → endpoints", sections.impact),
    ("health", "Load generator health", sections.generator_health),
    ("run", "Run", sections.metadata),
)


def render_page(run: RunFolder) -> str:
    """The whole report as one HTML document."""
    started = time.perf_counter()
    body = [sections.banner(run)]
    for anchor, title, build in SECTIONS:
        try:
            content = build(run)
        except Exception as exc:  # one broken section must not cost the whole report
            content = (
                f"<p class=bad>This section could not be drawn: {escape(type(exc).__name__)}: "
                f"{escape(str(exc))} (internal error, please report).</p>"
            )
        body.append(f"<section id={anchor}><h2>{escape(title)}</h2>{content}</section>")
    if run.missing:
        items = "".join(
            f"<li><code>{escape(name)}</code>: {escape(why)}</li>"
            for name, why in sorted(run.missing.items())
        )
        body.append(f"<section id=missing><h2>Not recorded</h2><ul>{items}</ul></section>")
    nav = "".join(f"<a href='#{a}'>{escape(t.split(':')[0])}</a>" for a, t, _ in SECTIONS)
    title = f"{run.mode} {run.run_id}"
    elapsed = time.perf_counter() - started
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>journey-harness · {escape(title)}</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>journey-harness report · {escape(title)}</h1></header>"
        f"<nav><a href='#verdict'>Verdict</a>{nav}</nav>"
        + "\n".join(body)
        + f"<p class=muted>Drawn in {elapsed:.1f} s from <code>{escape(str(run.path))}</code>."
        "</p></main></body></html>\n"
    )


def write_page(run: RunFolder) -> Path:
    """Write report.html into the run folder and return its path."""
    path = run.path / REPORT_FILE
    replace_file(path, render_page(run))
    return path
