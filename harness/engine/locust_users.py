"""Locust user classes over the journey runtime, and the per-process state they share.

One Locust user class per journey (closed shapes) and one `ArrivalUser` class that takes
scheduled arrivals from a queue (the open model). Every iteration goes through
`VirtualUser.run_iteration`, exactly as a smoke run does. Imports locust (and so gevent).
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gevent
from gevent.lock import BoundedSemaphore
from gevent.queue import Empty, Queue
from locust import User, constant, task

from harness.engine.allocation import weighted_turns
from harness.engine.cohort import CohortRouter
from harness.engine.collector import Delta, LoadCollector
from harness.engine.locust_stats import LocustStatsSink
from harness.engine.plan import LoadPlan
from harness.engine.tuning import (
    browser_cpus,
    keep_off,
    restore_garbage_collector,
    tune_garbage_collector,
)
from harness.journey import Journey
from harness.runtime import RunSettings, RunSink
from harness.targets import Target
from harness.think import WORKLOAD, parse_think
from harness.touchpoints.web import BrowserHost, gevent_wait
from harness.virtual_user import VirtualUser

ARRIVAL_USER = "ArrivalUser"
BROWSER_SLOTS = "browser-slots"

POLL_S = 0.5


@dataclass(order=True)
class Ticket:
    """One scheduled arrival: which journey, and the instant it was meant to start."""

    intended: float
    journey: str = field(compare=False)


@dataclass
class ProcessState:
    """What every user in this load process shares; built when the test starts."""

    plan: LoadPlan
    journeys: dict[str, Journey]
    collector: LoadCollector
    settings: list[RunSettings]  #: one per target; two in a rehearsal
    sink: LocustStatsSink
    web_gate: BoundedSemaphore
    budget: int
    arrivals: Queue[Ticket] = field(default_factory=Queue)
    browser_host: BrowserHost | None = None
    users: itertools.count[int] = field(default_factory=itertools.count)
    scheduler: gevent.Greenlet | None = None
    router: CohortRouter | None = None  #: a staged rollout: one target per person
    running: int = 0  #: iterations in progress (`run` calls not returned yet)

    @property
    def spent(self) -> bool:
        """The iteration budget (`--max-iterations`, this process's share) is spent and its
        last iteration has ended: the run has nothing left to do here."""
        return self.budget <= 0 and self.running == 0

    def take_delta(self, *, encoded: bool = True) -> Delta:
        """The collector's delta (`LoadCollector.take_delta`), marked `spent` once the budget
        is (the run ends when every process's is, as k6's `iterations` and Locust's
        `--iterations` end theirs)."""
        delta = self.collector.take_delta(encoded=encoded)
        if self.spent:
            delta["spent"] = True
        return delta

    def browser(self) -> BrowserHost:
        """This process's Chromium, hosted on a greenlet, pinned away from the generator."""
        if self.browser_host is None:
            cpus = browser_cpus(self.plan.browser_cpus)
            self.browser_host = BrowserHost(
                waiter=gevent_wait, host_loop=gevent.spawn, spawn=gevent.spawn, cpus=cpus
            )
            keep_off(cpus)
        return self.browser_host

    def new_virtual_users(self) -> list[VirtualUser]:
        """One virtual user per target, sharing a process-unique index, so that baseline and
        candidate replay the same synthetic people (the worker index is in the settings)."""
        index = next(self.users)
        return [
            VirtualUser(index=index, settings=settings, sink=self.sink, browser=self.browser)
            for settings in self.settings
        ]

    def run(
        self,
        users: list[VirtualUser],
        journey: Journey,
        iteration: int,
        scheduled: float | None = None,
    ) -> bool:
        """Run one iteration on every target, within the budget and the browser cap; False once
        over budget. With two targets the order alternates, so neither side always goes first."""
        if self.budget <= 0:
            return False
        self.budget -= 1
        self.running += 1
        try:
            self._run(users, journey, iteration, scheduled)
        finally:
            self.running -= 1
        return True

    def _run(
        self, users: list[VirtualUser], journey: Journey, iteration: int, scheduled: float | None
    ) -> None:
        if self.router is not None:
            person = users[0].synth_source.scope(users[0].index, iteration).person
            users = [users[self.router.side(person.id)]]
        ordered = users if iteration % 2 == 0 else users[::-1]
        for user in ordered:
            try:
                if journey.uses_browser:
                    with self.web_gate:
                        user.run_iteration(journey, iteration, scheduled=scheduled)
                else:
                    user.run_iteration(journey, iteration, scheduled=scheduled)
            except BaseException as exc:
                if not isinstance(exc, Exception):  # GreenletExit: the load stopped mid-way
                    self.collector.iteration_cut_off(user.settings.target.name, journey.name)
                raise

    def start_arrivals(self) -> None:
        """Start the open-model scheduler of this process (its share of the plan's rate)."""
        self.scheduler = gevent.spawn(self._schedule)

    def _schedule(self) -> None:
        plan = self.plan
        names = sorted(
            n
            for n, j in self.journeys.items()
            if (plan.browser_users > 0 or not j.uses_browser)
            and (not plan.weights or n in plan.weights)
        )
        # weighted turns rather than random draws: every journey arrives within one cycle
        weights = [plan.weights.get(n, self.journeys[n].weight) for n in names]
        turns = weighted_turns(weights, self.settings[0].worker)
        start = time.perf_counter()
        budget = plan.max_iterations // plan.workers
        offsets = plan.arrival_offsets(self.settings[0].worker)
        for k, offset in enumerate(offsets):
            intended = start + offset
            if offset >= plan.total_duration_s or k >= budget:
                return
            delay = intended - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            self.arrivals.put(Ticket(intended, names[next(turns)]))

    def stop(self) -> None:
        """Stop scheduling, count never-started arrivals as dropped, close Chromium, and give
        the garbage collector back what the run froze."""
        if self.scheduler is not None:
            self.scheduler.kill(block=False)
        left = self.arrivals.qsize()
        while not self.arrivals.empty():
            self.arrivals.get_nowait()
        if left:
            self.collector.dropped(left)
        host, self.browser_host = self.browser_host, None
        if host is not None:
            self.collector.browser_blocked(host.blocked)
            host.close()
        restore_garbage_collector()


_state: ProcessState | None = None


def state() -> ProcessState:
    """The current process state; users only run after the test has started."""
    if _state is None:
        raise RuntimeError("the load test has not started in this process")
    return _state


def set_cohort_share(share: float) -> None:
    """Route `share` percent of people to the candidate from now on (a rollout's stage); before
    the load has started in this process there is nobody to route yet."""
    if _state is not None and _state.router is not None:
        _state.router.set_share(share)


def prepare(
    plan: LoadPlan,
    journeys: Sequence[Journey],
    worker: int,
    environment: Any,
    sinks: Sequence[RunSink] = (),
) -> ProcessState:
    """Build (or rebuild) this process's state when a test starts; `sinks` also get every
    record of this process."""
    global _state
    settings = [
        RunSettings(
            run_id=plan.run_id,
            target=Target.model_validate(target),
            artifacts_dir=Path(plan.results_root) / plan.run_id / "artifacts",
            seed=plan.seed + (index if plan.one_deployment else 0),
            worker=worker,
            profile=plan.profile,
            locale=plan.locale,
            request_timeout=plan.request_timeout,
            action_timeout=plan.action_timeout,
            navigation_timeout=plan.navigation_timeout,
            record_browser_trace=plan.record_browser_trace,
            browser_context=plan.browser_context,
            flags=plan.flags[index] if plan.flags else {},
            think=plan.think,
            workload_think={k: parse_think(v) for k, v in plan.workload_think.items()},
        )
        for index, target in enumerate(plan.targets)
    ]
    collector = LoadCollector(
        sample_rate=plan.step_sample_rate, late_after_ms=plan.late_after_ms, seed=plan.seed + worker
    )
    _state = ProcessState(
        plan=plan,
        journeys={j.name: j for j in journeys},
        collector=collector,
        settings=settings,
        sink=LocustStatsSink(collector, environment, sinks),
        web_gate=BoundedSemaphore(max(1, plan.browser_users)),
        budget=max(1, plan.max_iterations // plan.workers),
        router=None
        if plan.cohort_share is None
        else CohortRouter(plan.cohort_share, salt=plan.cohort_salt),
    )
    if plan.browser_users > 0 and any(j.uses_browser for j in journeys):
        # Start Playwright's driver and Chromium before any user opens a connection: spawning
        # them through asyncio under gevent's patched subprocess can close a pipe descriptor
        # twice, and a socket that reused that number would then share it with another.
        _state.browser().start()
    if plan.open_model:
        _state.start_arrivals()
    tune_garbage_collector()
    return _state


class JourneyUser(User):
    """Base of the per-journey user classes: iterations of one journey, one after another,
    with the journey's think time between them (a closed model paces itself)."""

    abstract = True
    journey: ClassVar[Journey]

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.virtual_users = state().new_virtual_users()
        self.iteration = 0
        self.last: Journey | None = None
        self.pauses = random.Random(f"between:{self.virtual_users[0].index}")

    def wait_time(self) -> float:
        """The pause after an iteration: a draw of its journey's think time at load (the
        open model's `ArrivalUser` waits for none: its arrivals are scheduled)."""
        current = state()
        spec = None if self.last is None or not current.plan.think else self.last.think
        if spec is not None and spec.kind == WORKLOAD:
            spec = current.settings[0].workload_think.get(self.last.name) if self.last else None
        return 0.0 if spec is None else spec.sample(self.pauses)

    def next_journey(self) -> Journey:
        """The journey of the next iteration."""
        return self.journey

    @task
    def iterate(self) -> None:
        """Run the next iteration; idle once the run's iteration budget is spent."""
        journey = self.next_journey()
        self.last = None
        if state().run(self.virtual_users, journey, self.iteration):
            self.iteration += 1
            self.last = journey
        else:
            gevent.sleep(POLL_S)

    def on_stop(self) -> None:
        """Close this user's connections."""
        for user in self.virtual_users:
            user.close()


class BrowserSlotUser(JourneyUser):
    """A browser slot: runs the browser journeys in weighted turn, so that one slot runs every
    browser journey (each slot starts at a different turn)."""

    abstract = True
    rotation: ClassVar[tuple[Journey, ...]]

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        first = self.virtual_users[0]
        self.turns = weighted_turns(
            [j.weight for j in self.rotation], offset=first.index + first.settings.worker
        )

    def next_journey(self) -> Journey:
        """The next browser journey in turn."""
        return self.rotation[next(self.turns)]


class ArrivalUser(User):
    """Open model: takes the next scheduled arrival and times it from its intended start."""

    wait_time = constant(0)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.virtual_users = state().new_virtual_users()
        self.iteration = 0

    @task
    def iterate(self) -> None:
        """Run one arrival, or count it dropped when it waited longer than allowed."""
        current = state()
        try:
            ticket = current.arrivals.get(timeout=POLL_S)
        except Empty:
            return
        if time.perf_counter() - ticket.intended > current.plan.drop_after_s:
            current.collector.dropped()
            return
        journey = current.journeys[ticket.journey]
        if current.run(self.virtual_users, journey, self.iteration, scheduled=ticket.intended):
            self.iteration += 1

    def on_stop(self) -> None:
        """Close this user's connections."""
        for user in self.virtual_users:
            user.close()


def user_classes(journeys: Sequence[Journey], plan: LoadPlan | None) -> list[type[User]]:
    """The Locust user classes. Each API/mobile journey has one class with a single guaranteed
    user (Locust starts fixed-count users first) and one weighted class for its share of the
    rest; the browser journeys share one class of `browser_users × workers` rotating slots (see
    `harness.engine.allocation`). With `plan=None` (a worker) every class, as the master names
    them."""
    classes: list[type[User]] = []
    browser = tuple(j for j in journeys if j.uses_browser)
    for journey in journeys:
        if journey.uses_browser:
            continue
        common: dict[str, Any] = {"journey": journey}
        classes.append(
            type(class_name(journey), (JourneyUser,), {**common, "weight": journey.weight})
        )
        classes.append(
            type(class_name(journey, guaranteed=True), (JourneyUser,), {**common, "fixed_count": 1})
        )
    if browser and (plan is None or plan.browser_users > 0):
        slots = plan.browser_users * plan.workers if plan is not None else 1
        classes.append(
            type(BROWSER_SLOTS, (BrowserSlotUser,), {"rotation": browser, "fixed_count": slots})
        )
    if plan is None or plan.open_model:
        return [ArrivalUser] if plan is not None else [*classes, ArrivalUser]
    return classes


def class_name(journey: Journey, *, guaranteed: bool = False) -> str:
    """The Locust user-class name of a journey (the same on master and workers); the class of
    its one guaranteed user is suffixed `#1`."""
    return f"journey:{journey.name}" + ("#1" if guaranteed else "")
