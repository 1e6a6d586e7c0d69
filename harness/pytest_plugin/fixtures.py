"""Fixtures for tests written against the harness, layered session → function.

`harness_run` (session) → `harness_target` (session) → `journey_runner` and `journey_context`
(function) → `web`, `api`, `mobile`, `synth` (function). Each can be overridden in a conftest,
e.g. `harness_target` to point one folder of tests at another deployment. They need
`pytest --harness` and a target (`--harness-target T` or `--harness-sandbox`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.journey import Journey
    from harness.pytest_plugin.state import HarnessRun, HarnessSession
    from harness.records import IterationRecord, StepRecord
    from harness.runtime import JourneyContext, RunSettings
    from harness.targets import Target
    from harness.touchpoints.api import ApiClient
    from harness.touchpoints.mobile import MobileClient
    from harness.touchpoints.web_session import WebSession
    from synth import IterationData

NEEDS_HARNESS = (
    "the harness fixtures need `pytest --harness` with --harness-target NAME|URL or "
    "--harness-sandbox"
)


class JourneyRunner:
    """`journey_runner(journey_or_function)`: one iteration through the journey runtime.

    Accepts a `Journey`, an `@journey` function or a plain function taking `j`; returns the
    `IterationRecord` (it does not raise when the journey fails: assert on `.outcome`). The
    step records of the last call are in `.steps`; every record also goes to the run folder.
    """

    def __init__(self, session: HarnessSession, settings: RunSettings) -> None:
        self._session = session
        self._settings = settings
        self.steps: list[StepRecord] = []

    def __call__(
        self, journey: Journey | Callable[..., None], *, iteration: int = 0
    ) -> IterationRecord:
        """Run one iteration of `journey` against the fixture's target."""
        record, self.steps = self._session.run_journey(
            as_journey(journey), settings=self._settings, iteration=iteration
        )
        return record


def as_journey(journey: Journey | Callable[..., None]) -> Journey:
    """The `Journey` of a spec, an `@journey` function, or a plain function taking `j`."""
    from harness.journey import Journey, journeys_in

    if isinstance(journey, Journey):
        return journey
    found = journeys_in({"f": journey})
    if found:
        return found[0]
    return Journey(name=getattr(journey, "__name__", "journey"), func=journey)


@pytest.fixture(scope="session")
def harness_run(pytestconfig: pytest.Config) -> HarnessRun:
    """The session's run: id, folder (`results/<run>/`), seed and shared `RunSettings`."""
    from harness.pytest_plugin.state import STATE, HarnessRun

    session = pytestconfig.stash.get(STATE, None)
    if session is None or session.settings is None or session.run_path is None:
        pytest.fail(NEEDS_HARNESS, pytrace=False)
    return HarnessRun(
        run_id=session.run_id,
        path=session.run_path,
        seed=session.seed,
        settings=session.settings,
        session=session,
    )


@pytest.fixture(scope="session")
def harness_target(harness_run: HarnessRun) -> Target:
    """The `harness.targets.Target` tests run against (override to point elsewhere)."""
    return harness_run.target


@pytest.fixture
def journey_runner(harness_run: HarnessRun, harness_target: Target) -> JourneyRunner:
    """A callable running one journey iteration, recorded in the run folder."""
    settings = replace(harness_run.settings, target=harness_target)
    return JourneyRunner(harness_run.session, settings)


@pytest.fixture
def journey_context(
    request: pytest.FixtureRequest, harness_run: HarnessRun, harness_target: Target
) -> Iterator[JourneyContext]:
    """A fresh `j` for this test, named after it: `with journey_context.step(...)` blocks are
    timed, traced and recorded like a journey's; its browser context is closed afterwards."""
    from harness.journey import Journey
    from harness.runtime import JourneyContext
    from harness.telemetry import spans
    from harness.virtual_user import VirtualUser

    session = harness_run.session
    settings, sink, browser = session.require_runner()
    settings = replace(settings, target=harness_target)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_") or "test"
    journey = Journey(name=name, func=_no_body, module=str(request.node.nodeid))
    user = VirtualUser(index=session.next_user(), settings=settings, sink=sink, browser=browser)
    context = JourneyContext(user, journey, iteration=0)
    root = context.start_trace()
    try:
        yield context
    finally:
        failed = any(r.outcome.value == "failed" for r in context.records)
        try:
            context.close()
            user.close()
        finally:
            spans.end_span(root, "failed" if failed else None)


def _no_body(j: Any) -> None:
    """The body of a `journey_context` journey: the test itself."""


@pytest.fixture
def web(journey_context: JourneyContext) -> WebSession:
    """The test's browser session (Chromium through Playwright), opened on first use."""
    return journey_context.web


@pytest.fixture
def api(journey_context: JourneyContext) -> ApiClient:
    """The JSON API client at the target's API base URL."""
    return journey_context.api


@pytest.fixture
def mobile(journey_context: JourneyContext) -> MobileClient:
    """The mobile API client, playing the test's synthetic device."""
    return journey_context.mobile


@pytest.fixture
def synth(journey_context: JourneyContext) -> IterationData:
    """The test's synthetic data (person, card, device...), unique per worker and test."""
    return journey_context.synth
