"""What a load run should do, as data: users, shape, duration, browser cap, sampling.

Parsed and validated here, at the edge, so the Locust adapter only reads typed values. A plan is
also shipped from the Locust master to its workers, as JSON.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.durations import MAX_DURATION_S, parse_duration
from harness.errors import SpecError, UsageError


class ShapeKind(StrEnum):
    """How the number of users (or arrivals) changes over the run."""

    RAMP = "ramp"  #: spawn `users` at `spawn_rate`, hold until the duration ends
    STEPS = "steps"  #: a list of (users, duration) stages
    ARRIVAL = "arrival"  #: open model: `rate` iterations per second, whatever the latency
    REPLAY = "replay"  #: open model following a recorded arrival curve (`--workload`)


class Stage(BaseModel):
    """One stage of a `steps` shape."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    users: int = Field(ge=0)
    duration_s: float = Field(gt=0)


def parse_stages(text: str) -> list[Stage]:
    """`10x30s,20x1m` → two stages; raises `SpecError` with an example."""
    stages = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        users, sep, duration = part.partition("x")
        if (
            not sep
            or not users.strip().isascii()
            or not users.strip().isdigit()
            or not duration.strip()
        ):
            raise SpecError(
                f"stage {part!r} in --steps is not USERSxDURATION, e.g. --steps 10x30s,20x1m"
            )
        stages.append(Stage(users=int(users), duration_s=parse_duration(duration, what="stage")))
    if not stages:
        raise SpecError("--steps needs at least one stage, e.g. --steps 10x30s,20x1m")
    return stages


class LoadPlan(BaseModel):
    """Everything the engine needs to run a load test, shipped to workers as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    shape: ShapeKind = ShapeKind.RAMP
    users: int = Field(default=10, ge=1, le=100_000)
    spawn_rate: float = Field(default=10.0, gt=0)
    duration_s: float = Field(default=30.0, gt=0, le=MAX_DURATION_S)
    stages: list[Stage] = Field(default_factory=list)
    rate: float = Field(default=0.0, ge=0)  #: arrivals per second, whole run (arrival shape)
    max_users: int = Field(default=50, ge=1, le=100_000)  #: concurrent iterations (arrival)
    late_after_ms: float = 10.0  #: an iteration starting later than this after its slot is late
    drop_after_s: float = 5.0  #: an arrival still waiting this long is dropped
    browser_users: int = Field(default=1, ge=0)  #: concurrent web iterations per process
    #: cores for Chromium: `auto` (the last core when there are two or more), `none`, or a
    #: comma-separated list; the generator process then keeps off them
    browser_cpus: str = "auto"
    #: `fresh`: a new browser context per iteration; `reuse`: one per virtual user, cleared
    browser_context: Literal["fresh", "reuse"] = "fresh"
    step_sample_rate: float = Field(default=1.0, ge=0, le=1)  #: share of passed steps written
    max_iterations: int = Field(default=1_000_000, ge=1)  #: hard bound over the whole run
    workers: int = Field(default=1, ge=1, le=1024)  #: processes that generate load
    seed: int = 1
    profile: str = "default"
    locale: str = "en_US"
    targets: list[dict[str, Any]] = Field(min_length=1, max_length=2)  #: `Target` dumps
    #: with two targets (baseline, candidate) every iteration runs on both, interleaved
    results_root: str
    request_timeout: float = 10.0
    action_timeout: float = 5.0
    navigation_timeout: float = 15.0
    #: a Playwright trace per web iteration (`--browser-trace`): off at load by default, where
    #: recording it cost Chromium ~25% more CPU per iteration (bench/browser_overhead.py)
    record_browser_trace: bool = False
    traces: bool = True
    trace_sample: float = Field(default=1.0, ge=0, le=1)
    otlp_endpoint: str | None = None
    keyword: str | None = None
    journeys: list[str] = Field(default_factory=list)
    flags: list[dict[str, str]] = Field(default_factory=list)  #: feature flags, one set per target
    #: a staged rollout: each iteration goes to ONE target, the candidate for this share (percent)
    #: of people by a sticky cohort hash (`harness.engine.cohort`); None: every target
    cohort_share: float | None = Field(default=None, ge=0, le=100)
    cohort_salt: str = ""
    #: the targets are variants of ONE deployment (a flag matrix): each gets its own synthetic
    #: people (seed + its index), since one person cannot sign up twice on one shop
    one_deployment: bool = False
    think: bool = True  #: journeys pause between steps as they declare (`@journey(think=...)`)
    #: think times per journey step of a `--workload` model, as `harness.think` specs
    workload_think: dict[str, str] = Field(default_factory=dict)
    #: a `--workload`'s mix: journey -> weight of its arrivals (else each journey's own weight)
    weights: dict[str, int] = Field(default_factory=dict)
    curve: list[int] = Field(default_factory=list)  #: replay: recorded arrivals per bucket
    curve_bucket_s: float = Field(default=60.0, gt=0)  #: replay: the recorded bucket
    speed: float = Field(default=1.0, gt=0)  #: replay: how much faster than recorded

    @property
    def open_model(self) -> bool:
        """Whether arrivals are scheduled (arrival, replay) rather than users looping."""
        return self.shape in (ShapeKind.ARRIVAL, ShapeKind.REPLAY)

    def arrival_offsets(self, worker: int) -> Iterator[float]:
        """Seconds from the start at which this worker's arrivals are due, in order: every
        `workers`-th of `rate` per second, or of the recorded curve compressed by `speed`
        (each bucket's arrivals evenly spread over it)."""
        if self.shape is ShapeKind.REPLAY:
            width = self.curve_bucket_s / self.speed
            k = 0
            for bucket, count in enumerate(self.curve):
                for i in range(count):
                    if k % self.workers == worker % self.workers:
                        yield (bucket + (i + 0.5) / count) * width
                    k += 1
            return
        rate = self.rate / self.workers
        for k in itertools.count():
            yield k / rate

    @model_validator(mode="after")
    def _consistent(self) -> LoadPlan:
        if self.shape is ShapeKind.ARRIVAL and self.rate <= 0:
            raise UsageError(
                "--shape arrival needs --rate N (iterations per second), e.g. --rate 20"
            )
        if self.shape is ShapeKind.REPLAY and not self.curve:
            raise UsageError(
                "--shape replay needs --workload FILE (an arrival curve from "
                "`harness import access-log`)"
            )
        if self.shape is ShapeKind.STEPS and not self.stages:
            raise UsageError("--shape steps needs --steps, e.g. --steps 10x30s,20x1m")
        parse_cpus(self.browser_cpus)
        return self

    @property
    def total_duration_s(self) -> float:
        """How long the shape runs, in seconds."""
        if self.shape is ShapeKind.STEPS:
            return sum(s.duration_s for s in self.stages)
        return self.duration_s

    def users_at(self, elapsed_s: float) -> int | None:
        """Users wanted `elapsed_s` into the run (for closed shapes); None once it is over."""
        if elapsed_s >= self.total_duration_s:
            return None
        if self.shape is ShapeKind.STEPS:
            edge = 0.0
            for stage in self.stages:
                edge += stage.duration_s
                if elapsed_s < edge:
                    return stage.users
            return None
        if self.open_model:
            return self.max_users * self.workers
        return self.users


def parse_cpus(spec: str) -> set[int] | None:
    """`--browser-cpus`: None for `auto` (decided by the load process) and `none` (no pinning:
    an empty set), else the listed cores. Raises `UsageError` naming the value."""
    text = spec.strip().lower()
    if text == "auto":
        return None
    if text == "none":
        return set()
    try:
        cpus = {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        cpus = set()
    if not cpus or min(cpus) < 0:
        raise UsageError(
            f"--browser-cpus {spec!r}: give auto, none, or a list of core numbers such as 2,3"
        )
    return cpus
