"""Web Vitals as gate metrics: `metric = "lcp"` (or `"lcp.p95"`) on a threshold, relative or
paired gate judges the web steps' LCP instead of their latency, with the same judge.

A vital gate sees a view of the run in which each web step's series holds that vital's samples
(`vitals/` histograms, per-second points from steps.jsonl), keyed as the step itself (touchpoint
`web`), so `step = "checkout"` scopes it as any gate. The statistic is the quantile after the
dot, else p75, the percentile Web Vitals are assessed at. Only web steps have vitals; a gate
with no web step in scope judges nothing. TTFB, FCP, LCP and INP are in ms (`value = "2.5s"`),
CLS unitless (`value = 0.1`), `requests` a count, `transfer` kB.

With `page` (a glob over page paths, `"*"` for every page) each page a web step loaded is its
own series, named `checkout · /checkout`, and `step = "checkout"` scopes all of them: a step of
three navigations whose one page slowed by 300 ms moves that page's LCP by all of it, where
the step's pooled samples move by about a third and the step's latency by a few percent. Page
series come from the step records (`steps.jsonl`), which name each sample's page."""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import Any

from harness.gates.data import PAGE_MARK, RunData
from harness.gates.outcome import GateOutcome
from harness.telemetry.hdr import HdrStore, SeriesKey

VITALS: tuple[str, ...] = ("ttfb", "fcp", "lcp", "cls", "inp", "requests", "transfer")
DEFAULT_STATISTIC = "p75"
WEB = "web"


def split_metric(metric: object) -> tuple[str | None, str | None]:
    """`"lcp"` → ("lcp", "p75"); `"lcp.p95"` or `"lcp_p95"` → ("lcp", "p95"); a latency or
    error metric → (None, None)."""
    if not isinstance(metric, str):
        return None, None
    name, _, statistic = metric.lower().replace("_", ".").partition(".")
    if name not in VITALS:
        return None, None
    return name, statistic or DEFAULT_STATISTIC


@dataclasses.dataclass
class VitalData(RunData):
    """A run seen through one vital: its web steps' series hold that vital's samples. Whole
    iterations have no vitals; a gate that would judge them (no step named) judges each web
    step instead."""

    vital: str = ""

    def iteration_series(self, target: str) -> list[SeriesKey]:
        """The web steps of `target` (there are no per-iteration vitals)."""
        return self.step_series(target)


#: the touchpoint of a page's series in `RunData.vital_windows` and `vital_iterations`
PAGE = "page"


def is_page(key: tuple[str, str, str, str]) -> bool:
    """Whether a vitals series of `RunData` is one page of a step (else the step's own)."""
    return key[3] == PAGE


def view(data: RunData, vital: str, page: str | None = None) -> VitalData:
    """`data` with each web step's histogram, per-second and per-iteration points replaced by
    `vital`'s; with `page`, by those of each page of each web step whose path matches it."""
    windows = {k: v for k, v in data.vital_windows.get(vital, {}).items() if _kept(k, page)}
    iterations = {k: v for k, v in data.vital_iterations.get(vital, {}).items() if _kept(k, page)}
    store = HdrStore()
    if page is None:
        for key in data.vitals:
            if key.touchpoint == vital:
                renamed = SeriesKey(key.target, key.journey, key.step, WEB)
                store.histogram(renamed).add(data.vitals.histogram(key))
    else:  # a page's samples are in the records only: its histogram is rebuilt from them
        for (target, journey, step, _), seconds in windows.items():
            values = [v for second in seconds.values() for v in second]
            store.record_many(SeriesKey(target, journey, step, WEB), values)
    fields: dict[str, Any] = {f.name: getattr(data, f.name) for f in dataclasses.fields(RunData)}
    fields.update(
        hdr=store,
        windows={(t, j, s, WEB): v for (t, j, s, _), v in windows.items()},
        step_failures={},  # a failed step has no vitals: its failure is judged on latency
        vitals=HdrStore(),
        vital_windows={},
        iterations={(t, j, s, WEB): v for (t, j, s, _), v in iterations.items()},
        vital_iterations={},
    )
    return VitalData(**fields, vital=vital)


def _kept(key: tuple[str, str, str, str], page: str | None) -> bool:
    if page is None:
        return not is_page(key)
    return is_page(key) and fnmatch.fnmatchcase(key[2].partition(PAGE_MARK)[2], page)


def judge(gate: Any, data: RunData) -> GateOutcome:
    """`gate.evaluate(data)`, on the view of the vital its `metric` names, if it names one."""
    vital, statistic = split_metric(getattr(gate, "metric", None))
    if vital is None:
        outcome: GateOutcome = gate.evaluate(data)
        return outcome
    update: dict[str, Any] = {"name": gate.name or f"{vital.upper()} {gate.title()}"}
    if "metric" in type(gate).model_fields and gate.kind != "paired":
        update["metric"] = statistic
    seen = view(data, vital, getattr(gate, "page", None))
    judged: GateOutcome = gate.model_copy(update=update).evaluate(seen)
    return judged
