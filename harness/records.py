"""The records a run produces: one `StepRecord` per step execution, one `IterationRecord` per
journey iteration. They are the only thing reports, gates and `steps.jsonl` readers consume."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from harness.errors import ErrorKind


class Touchpoint(StrEnum):
    """Where a step talks to the product."""

    WEB = "web"
    API = "api"
    MOBILE = "mobile"


#: the touchpoints' names, in the order the harness shows them: the one list every parser checks
TOUCHPOINTS: tuple[str, ...] = tuple(t.value for t in Touchpoint)


class Outcome(StrEnum):
    """How a step or iteration ended."""

    PASSED = "passed"
    FAILED = "failed"


class RequestRecord(BaseModel):
    """One HTTP request or browser navigation made inside a step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str
    url: str
    status: int | None = None
    duration_ms: float
    error: str | None = None


class StepRecord(BaseModel):
    """One execution of one step: the unit every statistic and gate is computed from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = "step"
    run_id: str
    target: str
    journey: str
    step: str
    index: int
    touchpoint: Touchpoint
    worker: int
    user: int
    iteration: int
    started_at: float
    duration_ms: float
    outcome: Outcome
    error_kind: ErrorKind | None = None
    message: str | None = None
    artifacts: tuple[str, ...] = ()
    requests: tuple[RequestRecord, ...] = ()
    #: Web Vitals of a passed web step, metric → samples (`harness/touchpoints/web_vitals.py`)
    vitals: dict[str, tuple[float, ...]] | None = None
    #: the page (URL path, ids as `{id}`) of each sample in `vitals`, metric → pages
    vital_pages: dict[str, tuple[str, ...]] | None = None
    person: str | None = None
    trace_id: str | None = None


class IterationRecord(BaseModel):
    """One run of a whole journey by one virtual user."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = "iteration"
    run_id: str
    target: str
    journey: str
    worker: int
    user: int
    iteration: int
    started_at: float
    duration_ms: float
    outcome: Outcome
    steps_passed: int
    steps_total: int
    failed_step: str | None = None
    failed_touchpoint: Touchpoint | None = None
    error_kind: ErrorKind | None = None
    message: str | None = None
    artifacts: tuple[str, ...] = ()
    person: str | None = None
    trace_id: str | None = None
    late_ms: float | None = None  #: open model: how long after its scheduled slot it started


def record_json(record: StepRecord | IterationRecord, *, requests: bool = True) -> str:
    """A record as its `steps.jsonl` line: fields that are None or empty are left out (a reader
    gets them back as the model's defaults), a fifth of a line at load; `requests=False` leaves
    out a step's requests too."""
    empty: set[str] = set() if record.artifacts else {"artifacts"}
    # By type, not `getattr(record, "requests", ...)`: a name a pydantic model lacks goes
    # through its `__getattr__`, 8 µs a call, on every iteration's line at load.
    if type(record) is StepRecord and (not requests or not record.requests):
        empty.add("requests")
    return record.model_dump_json(exclude_none=True, exclude=empty)


#: between a step's name and a page's in the name of that page's series: `checkout · /cart`
PAGE_MARK = " · "
#: the vitals `vitals/` histograms keep per page too (metric `lcp.page`), for the reports; the
#: gates judge any vital per page, from the records
PAGE_VITALS: tuple[str, ...] = ("ttfb", "lcp")
PAGE_SUFFIX = ".page"  #: a page histogram's metric: `lcp.page`


def page_step(step: str, page: str) -> str:
    """The step name of a step's page series: `checkout · /checkout`."""
    return f"{step}{PAGE_MARK}{page}"


def page_samples(record: StepRecord) -> dict[tuple[str, str], list[float]]:
    """(page series' step name, `lcp.page`) → the samples of each of `PAGE_VITALS` a step record
    took on each page, in order; empty when the record names no pages."""
    found: dict[tuple[str, str], list[float]] = {}
    pages = record.vital_pages or {}
    for name in PAGE_VITALS:
        values, named = (record.vitals or {}).get(name, ()), pages.get(name, ())
        if not values or len(named) != len(values):
            continue
        for value, page in zip(values, named, strict=True):
            found.setdefault((page_step(record.step, page), name + PAGE_SUFFIX), []).append(value)
    return found
