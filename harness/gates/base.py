"""What every gate has: a name, a scope (journeys, step, touchpoints) narrowed explicitly in
`[[gates]]`, and how its outcome is combined; and where a series belongs (`Where`), which keys
the verdict's coverage table."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import ClassVar, TypedDict

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.durations import MAX_DURATION_S, seconds
from harness.gates.data import PAGE_MARK, RunData
from harness.gates.outcome import Decision, Evidence, GateOutcome
from harness.records import TOUCHPOINTS
from harness.telemetry.hdr import SeriesKey


def hold_s(text: str) -> float | None:
    """The seconds a gate's `for` means (0 to 24 h), or None when it is not such a duration."""
    value = seconds(text)
    return value if value is not None and 0 <= value <= MAX_DURATION_S else None


class GateBase(BaseModel):
    """Fields every gate has: a name, a scope (journeys, step, touchpoints) and how it counts.

    The scope is narrowed explicitly: `journey` / `journeys = [...]` and `touchpoint` /
    `touchpoints = ["api", "mobile"]`. The gate passes only when every series in it was judged.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str | None = None
    journey: str | None = None
    journeys: list[str] | None = None
    step: str | None = None
    #: with a Web Vital `metric`: judge each page of a web step (the URL path, ids as `{id}`)
    #: whose path matches this glob as its own series (`"*"`: every page; `harness.gates.vitals`)
    page: str | None = None
    touchpoint: str | None = None
    touchpoints: list[str] | None = None
    critical: bool = False
    group: str | None = None
    weight: float | None = None
    abort: bool = False
    abort_for: str = Field(default="10s", alias="for")
    min_samples: int | None = None
    #: left out of the verdict when nothing in this run is in its scope (a Web Vital gate on a
    #: run without web steps), rather than inconclusive; a gate with anything to judge is judged
    optional: bool = False
    #: this gate's one-sided false-FAIL rate; None: its share of the verdict's family-wise
    #: rate (`harness.gates.family`), or its `level`'s when judged alone
    alpha: float | None = Field(default=None, gt=0.0, lt=0.5)

    #: whether the gate compares candidate with baseline on noisy samples (and so takes a
    #: share of the verdict's family-wise false-FAIL rate)
    comparing: ClassVar[bool] = False
    #: whether the gate's test stays valid however often it is looked at (an e-value on
    #: cumulative counts): its alpha is not spent over looks (`family.split_alpha`)
    anytime_valid: ClassVar[bool] = False

    @field_validator("abort_for")
    @classmethod
    def _hold_is_a_duration(cls, value: str) -> str:
        if hold_s(value) is None:
            raise ValueError(
                f"for = {value!r} is not a duration of at most 24h: use a number with a unit, "
                'e.g. for = "10s" (how long a live breach must hold; "0s" stops at the first)'
            )
        return value

    @property
    def hold_s(self) -> float:
        """Seconds a live breach of this gate must hold before it stops a run (`for`)."""
        return hold_s(self.abort_for) or 0.0

    @field_validator("journeys", "touchpoints", mode="before")
    @classmethod
    def _one_name_is_a_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("touchpoint", "touchpoints")
    @classmethod
    def _known_touchpoints(cls, value: str | list[str] | None) -> str | list[str] | None:
        names = [value] if isinstance(value, str) else value or []
        for name in names:
            if name not in TOUCHPOINTS:
                close = difflib.get_close_matches(name, TOUCHPOINTS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"{name!r} is not a touchpoint{hint} Allowed: {', '.join(TOUCHPOINTS)}. "
                    'Example: touchpoints = ["api", "mobile"]'
                )
        return value

    @model_validator(mode="after")
    def _one_spelling(self) -> GateBase:
        for single, plural in (("journey", "journeys"), ("touchpoint", "touchpoints")):
            if getattr(self, single) is not None and getattr(self, plural) is not None:
                raise ValueError(
                    f"give `{single}` or `{plural}`, not both "
                    f'(e.g. {plural} = ["{getattr(self, single)}"])'
                )
        if self.page is not None and not _is_vital(getattr(self, "metric", None)):
            raise ValueError(
                "`page` scopes a Web Vital per page: give a vital `metric` with it "
                '(e.g. metric = "lcp", page = "*"), or leave `page` out'
            )
        return self

    def evaluate(self, data: RunData) -> GateOutcome:
        """Judge `data`; every gate kind implements it (the score gate is graded apart)."""
        raise NotImplementedError(f"{type(self).__name__} is judged by the verdict, not alone")

    def without_baseline(self, data: RunData) -> GateOutcome | None:
        """An error outcome when this comparing gate has no baseline to compare with."""
        if data.baseline is not None:
            return None
        return GateOutcome(
            name=self.title(),
            kind=str(getattr(self, "kind", "gate")),
            decision=Decision.ERROR,
            summary=f"{self.title()} needs a baseline to compare with",
        )

    def title(self) -> str:
        """The gate's display name."""
        if self.name:
            return self.name
        scope = ", ".join(f"{k}={v}" for k, v in self.scope().items())
        return f"{getattr(self, 'kind', 'gate')}" + (f" ({scope})" if scope else "")

    def scope(self) -> dict[str, str]:
        """The non-empty scope fields."""
        found = {
            "journey": self.journey,
            "journeys": ",".join(self.journeys) if self.journeys else None,
            "step": self.step,
            "page": self.page,
            "touchpoint": self.touchpoint,
            "touchpoints": ",".join(self.touchpoints) if self.touchpoints else None,
        }
        return {k: v for k, v in found.items() if v}

    @property
    def named_journey(self) -> str | None:
        """The one journey the gate is about, if it names exactly one."""
        if self.journey is not None:
            return self.journey
        return self.journeys[0] if self.journeys and len(self.journeys) == 1 else None

    def in_journeys(self, journey: str) -> bool:
        """Whether `journey` is among the gate's journeys (all, when none are named)."""
        if self.journey is not None:
            return journey == self.journey
        return self.journeys is None or journey in self.journeys

    def in_touchpoints(self, touchpoint: str) -> bool:
        """Whether `touchpoint` is among the gate's touchpoints (all, when none are named)."""
        if self.touchpoint is not None:
            return touchpoint == self.touchpoint
        return self.touchpoints is None or touchpoint in self.touchpoints

    def journey_in_scope(self, data: RunData, journey: str) -> bool:
        """Whether a journey as a whole is in scope: named (or none named), and, when the gate
        names touchpoints, with at least one step on one of them."""
        if not self.in_journeys(journey):
            return False
        if self.touchpoint is None and self.touchpoints is None:
            return True
        steps = data.step_order.get(journey) or [
            (k.step, k.touchpoint) for k in data.hdr if k.journey == journey and not k.is_iteration
        ]
        return any(self.in_touchpoints(touchpoint) for _, touchpoint in steps)

    def matches(self, key: SeriesKey) -> bool:
        """Whether a step series is in this gate's scope."""
        return (
            self.in_journeys(key.journey)
            and (
                self.step is None
                or key.step == self.step
                or key.step.startswith(self.step + PAGE_MARK)  # a page of the step's vitals
            )
            and self.in_touchpoints(key.touchpoint)
        )

    @property
    def sweep(self) -> bool:
        """True when the gate covers every step (no step named): a series whose interval is
        wide but whose estimate is within the limit then counts as within it."""
        return self.step is None

    def outcome(self, evidence: list[Evidence]) -> GateOutcome:
        """Combine per-series evidence into this gate's outcome."""
        return GateOutcome.combine(
            name=self.title(),
            kind=str(getattr(self, "kind", "gate")),
            evidence=evidence,
            critical=self.critical,
            group=self.group,
            weight=self.weight,
        )

    def series(self, data: RunData, *, iterations: bool = False) -> list[SeriesKey]:
        """The series in scope, keyed by the candidate: steps, or whole iterations when no
        step is named and `iterations` is asked for. A series the baseline has and the
        candidate lacks is in scope too (with no samples, it cannot pass)."""
        found: dict[SeriesKey, None] = {}
        for target in data.targets:
            keys = data.iteration_series(target) if iterations else data.step_series(target)
            for k in keys:
                key = SeriesKey(data.candidate, k.journey, k.step, k.touchpoint)
                if self.matches(key) if not key.is_iteration else self._journey_only(data, key):
                    found.setdefault(key)
        return list(found)

    def _journey_only(self, data: RunData, key: SeriesKey) -> bool:
        return self.step is None and self.journey_in_scope(data, key.journey)


class Place(TypedDict):
    """The evidence fields that say where a series belongs (journey None: every journey)."""

    journey: str | None
    step: str | None
    touchpoint: str | None


@dataclass(frozen=True)
class Where:
    """What a series is of: a journey's step on a touchpoint, or (step None) the journey as a
    whole; the coverage table of the verdict is keyed by it."""

    journey: str
    step: str | None
    touchpoint: str | None

    @property
    def label(self) -> str:
        """`step `pay` of `buy` on api`, or `journey `buy``."""
        if self.step is None:
            return f"journey `{self.journey}`"
        return f"step `{self.step}` of `{self.journey}` on {self.touchpoint}"

    def fields(self) -> Place:
        """The evidence fields that say where it belongs."""
        return {"journey": self.journey, "step": self.step, "touchpoint": self.touchpoint}


#: The place of a series of every journey at once (a run-wide count).
EVERYWHERE: Place = {"journey": None, "step": None, "touchpoint": None}


def where_of(key: SeriesKey) -> Where:
    """Where a series key belongs."""
    if key.is_iteration:
        return Where(key.journey, None, None)
    return Where(key.journey, key.step, key.touchpoint)


def _is_vital(metric: object) -> bool:
    from harness.gates.vitals import split_metric

    return split_metric(metric)[0] is not None
