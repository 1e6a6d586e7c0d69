"""What a metric provider fetched for a run (`metrics.json`): per metric gate's query, each
side's points over the run's window, or the provider's error. Written by the run layer
(`harness.run.providers`) before the gates judge; read by the `metric` gate, so that
`harness gates RUN_DIR` re-judges a stored run without the provider."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.folder_io import damaged, present, read_json_object

__all__ = ["METRICS_FILE", "FetchedMetric", "FetchedSide", "MetricsFile", "read_metrics"]

METRICS_FILE = "metrics.json"


class FetchedSide(BaseModel):
    """One side's series: the query as sent (labels expanded) and its points `[t, value]`
    (epoch seconds), or the provider's error. Points whose value is not a number are kept
    apart, as Prometheus spells them (`[t, "NaN"]`, `"+Inf"`, `"-Inf"`): JSON has no such
    numbers, and the gate treats them apart."""

    model_config = ConfigDict(frozen=True)

    target: str
    query: str
    points: list[tuple[float, float]] = Field(default_factory=list)
    error: str | None = None
    series: int = 0  #: how many series the query returned (1, or 0 when it returned none)
    nonfinite: list[tuple[float, Literal["NaN", "+Inf", "-Inf"]]] = Field(default_factory=list)
    #: what the provider warned of with its answer (Prometheus' `warnings`: the data may be
    #: partial, e.g. a remote store failed) and its notes on the query (`infos`)
    warnings: list[str] = Field(default_factory=list)
    infos: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, target: str, query: str, points: list[tuple[float, float]]) -> FetchedSide:
        """A side from a provider's points, those that are not numbers set apart."""
        finite = [(t, v) for t, v in points if math.isfinite(v)]
        odd = [(t, _spelled(v)) for t, v in points if not math.isfinite(v)]
        return cls(
            target=target, query=query, points=finite, nonfinite=odd, series=int(bool(points))
        )

    def within(self, start: float, end: float = math.inf) -> FetchedSide:
        """This side with only the points in [start, end)."""
        return self.model_copy(
            update={
                "points": [p for p in self.points if start <= p[0] < end],
                "nonfinite": [p for p in self.nonfinite if start <= p[0] < end],
            }
        )


def _spelled(value: float) -> Literal["NaN", "+Inf", "-Inf"]:
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


class FetchedMetric(BaseModel):
    """One gate's query fetched on each side over one window at one resolution."""

    model_config = ConfigDict(frozen=True)

    provider: str
    kind: str  #: the provider's kind (`prometheus`)
    query: str  #: the template, as configured
    resolution_s: float
    start: float
    end: float
    sides: dict[str, FetchedSide]  #: `baseline` / `candidate` (or `target`)

    @property
    def key(self) -> tuple[str, str, float]:
        """What a gate looks it up by: provider, query template, resolution."""
        return (self.provider, self.query, self.resolution_s)


class MetricsFile(BaseModel):
    """`metrics.json`."""

    model_config = ConfigDict(frozen=True)

    metrics: list[FetchedMetric] = Field(default_factory=list)


def read_metrics(run_dir: Path | None) -> list[FetchedMetric]:
    """The metrics fetched for a stored run (none when it has no `metrics.json`); raises
    `DamagedRunFolder` when the file is not one."""
    if run_dir is None or not present(run_dir / METRICS_FILE):
        return []
    path = run_dir / METRICS_FILE
    try:
        return MetricsFile.model_validate(read_json_object(path)).metrics
    except ValidationError as exc:
        raise damaged(path, f"not a metrics file ({exc.errors()[0]['msg']})") from None
