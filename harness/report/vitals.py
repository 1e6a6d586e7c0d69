"""The Web Vitals table of a run with web steps: each web step's TTFB, FCP, LCP, INP (ms), CLS
(unitless), requests and transfer (kB) at p50, p75 (where Web Vitals are assessed) and p95,
from `vitals/`; under each step, its pages' TTFB and LCP (`lcp.page`, shown as `lcp`)."""

from __future__ import annotations

from harness.records import PAGE_SUFFIX, page_samples
from harness.report.folder import RunFolder
from harness.report.render import Markup, render
from harness.telemetry.hdr import HdrStore, SeriesKey
from harness.touchpoints.web_vitals import NAMES, UNITLESS, UNITS


def _value(metric: str, value: float) -> str:
    if metric in UNITLESS:
        return f"{value:.2f}"
    return f"{value:,.0f}{UNITS.get(metric, ' ms')}"


def vitals_rows(store: HdrStore) -> list[list[str]]:
    """Rows (a header first) per target, journey, step and metric; [] when none was recorded."""
    keys = [k for k in store if store.count(k)]
    if not keys:
        return []
    several = len({k.target for k in keys}) > 1
    head = ["journey › step", "metric", "samples", "p50", "p75", "p95"]
    rows = [(["target"] if several else []) + head]
    order = {name: i for i, name in enumerate(NAMES)}
    for key in sorted(
        keys,
        key=lambda k: (
            k.journey,
            k.step,
            k.target,
            order.get(k.touchpoint.removesuffix(PAGE_SUFFIX), 9),
        ),
    ):
        s = store.summary(key, (50.0, 75.0, 95.0))
        metric = key.touchpoint.removesuffix(PAGE_SUFFIX)  # a page's: under its step
        cells = [f"{key.journey} › {key.step}", metric, f"{s.count:,}"]
        cells += [_value(metric, s.p(p)) for p in (50.0, 75.0, 95.0)]
        rows.append(([key.target] if several else []) + cells)
    return rows


def vitals_store(run: RunFolder) -> HdrStore | None:
    """The run's Web Vitals: `vitals/` of a load run, else rebuilt from the step records (a
    smoke run keeps every record and writes no histograms)."""
    if run.vitals is not None:
        return run.vitals
    store = HdrStore()
    for step in run.steps:
        for name, values in (step.vitals or {}).items():
            store.record_many(SeriesKey(step.target, step.journey, step.step, name), values)
        for (page, metric), samples in page_samples(step).items():
            store.record_many(SeriesKey(step.target, step.journey, page, metric), samples)
    return store if len(store) else None


def vitals_section(run: RunFolder) -> Markup:
    """report.html's Web Vitals table, or why there is none."""
    store = vitals_store(run)
    rows = vitals_rows(store) if store is not None else []
    if not rows:
        return render("not_recorded.html", why="no web step recorded Web Vitals")
    return render("vitals.html", head=rows[0], rows=rows[1:])
