"""Web Vitals as gate metrics: `metric = "lcp"` (or `"lcp.p95"`) on a threshold, relative or
paired gate judges the web steps' LCP instead of their latency, with the same judge.

A vital gate sees a view of the run in which each web step's series holds that vital's samples
(`vitals/` histograms, per-second points from steps.jsonl), keyed as the step itself (touchpoint
`web`), so `step = "checkout"` scopes it as any gate. The statistic is the quantile after the
dot, else p75, the percentile Web Vitals are assessed at. Only web steps have vitals; a gate
with no web step in scope judges nothing. TTFB, FCP, LCP and INP are in ms (`value = "2.5s"`),
CLS unitless (`value = 0.1`), `requests` a count, `transfer` kB."""

from __future__ import annotations

import dataclasses
from typing import Any

from harness.gates.data import RunData
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


def view(data: RunData, vital: str) -> VitalData:
    """`data` with each web step's histogram, per-second and per-iteration points replaced by
    `vital`'s."""
    store = HdrStore()
    for key in data.vitals:
        if key.touchpoint == vital:
            renamed = SeriesKey(key.target, key.journey, key.step, WEB)
            store.histogram(renamed).add(data.vitals.histogram(key))
    fields: dict[str, Any] = {f.name: getattr(data, f.name) for f in dataclasses.fields(RunData)}
    fields.update(
        hdr=store,
        windows=data.vital_windows.get(vital, {}),
        step_failures={},  # a failed step has no vitals: its failure is judged on latency
        vitals=HdrStore(),
        vital_windows={},
        iterations=data.vital_iterations.get(vital, {}),
        vital_iterations={},
    )
    return VitalData(**fields, vital=vital)


def judge(gate: Any, data: RunData) -> GateOutcome:
    """`gate.evaluate(data)`, on the view of the vital its `metric` names, if it names one."""
    vital, statistic = split_metric(getattr(gate, "metric", None))
    if vital is None:
        outcome: GateOutcome = gate.evaluate(data)
        return outcome
    update: dict[str, Any] = {"name": gate.name or f"{vital.upper()} {gate.title()}"}
    if "metric" in type(gate).model_fields and gate.kind != "paired":
        update["metric"] = statistic
    judged: GateOutcome = gate.model_copy(update=update).evaluate(view(data, vital))
    return judged
