"""The one session runs a mode's plan: targets, amendments, watch and sinks, the run folder, and
the judge only once the folder is complete. The engine is a fake here (no Locust in unit
tests); the real one runs in tests/integration."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.config import load_config
from harness.engine.collector import LoadAggregator, LoadCollector
from harness.engine.outcome import LoadOutcome, StopRequest, Watch
from harness.engine.plan import LoadPlan
from harness.engine.summary import Health
from harness.errors import UsageError
from harness.records import IterationRecord, Outcome, StepRecord, Touchpoint
from harness.results import RunDirectory
from harness.run.inputs import RunInputs
from harness.run.plan import BasePlan
from harness.run.request import RunRequest, Shape, Sides, Tracing, build_request
from harness.run.session import Session
from harness.runtime import RunSink
from harness.targets import Target
from harness.testing import RecordingSink

JOURNEY = """
from harness import journey


@journey
def buy(j):
    with j.step("pay", on="api"):
        pass
"""


class _Quiet(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def target() -> Iterator[Target]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        yield Target(name="shop", web=base, api=base, mobile=base)
    finally:
        server.shutdown()
        server.server_close()


class FakeEngine(Session):
    """The session with a fake engine: every target runs `iterations` of each journey."""

    iterations = 5

    def _import_engine(self) -> None:
        pass  # no Locust (and no gevent) in the unit tests' process

    def _drive(
        self,
        plan: LoadPlan,
        inputs: RunInputs,
        aggregator: LoadAggregator,
        watch: Watch | None,
        stop: StopRequest,
        sinks: Sequence[RunSink],
    ) -> LoadOutcome:
        self.plan = plan
        collector = LoadCollector()
        for target in plan.targets:
            for user in range(self.iterations):
                common: dict[str, Any] = dict(
                    run_id=plan.run_id,
                    target=target["name"],
                    journey=inputs.journeys[0].name,
                    worker=0,
                    user=user,
                    iteration=0,
                    started_at=time.time(),
                    duration_ms=12.0,
                    outcome=Outcome.PASSED,
                )
                step = StepRecord(step="pay", index=0, touchpoint=Touchpoint.API, **common)
                iteration = IterationRecord(steps_passed=1, steps_total=1, **common)
                for sink in [collector, *sinks]:
                    sink.step_finished(step)
                    sink.iteration_finished(iteration)
        aggregator.absorb("local", collector.take_delta(), final=True)
        reason = watch(aggregator, 1.0) if watch is not None else None
        return LoadOutcome(aggregator, 1.0, 1, [], reason, 1.0 if reason else None)


class FakePlan(BasePlan):
    """Records what the session asked of it, and what the folder held when it judged."""

    mode = "load"
    reports = False

    def __init__(self, request: RunRequest, target: Target) -> None:
        super().__init__(request)
        self.target = target
        self.window = RecordingSink()
        self.seen: dict[str, Any] = {}

    def targets(self, request: RunRequest, stack: ExitStack, run_path: Path) -> list[Target]:
        stack.callback(self.seen.setdefault, "stopped", True)  # stops with the stack
        return [self.target]

    def amend(self, plan: LoadPlan) -> LoadPlan:
        return super().amend(plan).model_copy(update={"cohort_share": 5.0})

    def watch(self, targets: list[Target], run: RunDirectory) -> Watch | None:
        def look(aggregator: LoadAggregator, elapsed: float) -> str | None:
            self.seen["watched"] = aggregator.iterations
            return None

        return look

    def sinks(self) -> Sequence[RunSink]:
        return [self.window]

    def judge(
        self, run: RunDirectory, aggregator: LoadAggregator, outcome: LoadOutcome, health: Health
    ) -> int:
        meta = json.loads((run.path / "run.json").read_text())
        self.seen.update(
            status=meta["status"],
            request=meta["request"],
            steps_closed=run._steps.closed,
            histograms=(run.path / "histograms" / "index.json").is_file(),
            iterations=aggregator.iterations,
        )
        run.finish("passed")
        return 0


def _request(tmp_path: Path, **sections: Any) -> RunRequest:
    (tmp_path / "flows").mkdir(exist_ok=True)
    (tmp_path / "flows" / "shop.py").write_text(JOURNEY)
    return build_request(
        "load",
        load_config(None, start=tmp_path),
        journeys=[tmp_path / "flows"],
        results=tmp_path / "runs",
        seed=3,
        tracing=Tracing(traces=False),
        **sections,
    )


def test_the_session_runs_a_plan_and_judges_the_complete_folder(
    tmp_path: Path, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = _request(
        tmp_path, sides=Sides(flags={"new_checkout": "on"}), shape=Shape(users=2, duration_s=5)
    )
    plan = FakePlan(request, target)

    def no_config(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("harness.toml was read after the request was built")

    monkeypatch.setattr("harness.config.load_config", no_config)
    monkeypatch.setattr("harness.config._read_toml", no_config)
    session = FakeEngine(request)
    assert session.run(plan) == 0
    # the engine ran the request's plan with the mode's amendments
    assert session.plan.seed == 3 and session.plan.users == 2 and session.plan.duration_s == 5
    assert session.plan.flags == [{"new_checkout": "on"}] and session.plan.cohort_share == 5.0
    # the watch looked, the plan's sink saw every record, the judge saw a complete folder
    assert plan.seen["watched"] == 5
    assert len(plan.window.iterations) == 5 and len(plan.window.steps) == 5
    assert plan.seen["stopped"] and plan.seen["steps_closed"] and plan.seen["histograms"]
    assert plan.seen["status"] == "judging" and plan.seen["iterations"] == 5
    assert plan.seen["request"]["seed"] == 3 and plan.seen["request"]["mode"] == "load"
    assert session.run_path is not None
    meta = json.loads((session.run_path / "run.json").read_text())
    assert meta["status"] == "passed" and meta["selected_journeys"] == ["buy"]
    assert meta["config"]["plan"]["cohort_share"] == 5.0


def test_every_journey_needs_a_user_before_any_target_is_reached(
    tmp_path: Path, target: Target
) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "more.py").write_text(JOURNEY.replace("buy", "browse"))
    request = _request(tmp_path, shape=Shape(users=1))
    plan = FakePlan(request, target)
    with pytest.raises(UsageError, match="would never run"):
        FakeEngine(request).run(plan)
    assert "stopped" not in plan.seen  # its targets were never asked for
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_the_rehearsal_plans_check_their_sides_and_amend_the_engines_plan(tmp_path: Path) -> None:
    from harness.run.rehearsal import FlagMatrix, Rehearsal
    from harness.run.rollout import Rollout

    with pytest.raises(UsageError, match="give both sides"):
        Rehearsal(_request(tmp_path))
    with pytest.raises(UsageError, match="give both sides"):
        Rollout(_request(tmp_path))
    with pytest.raises(UsageError, match="exactly two values"):
        FlagMatrix(_request(tmp_path, sides=Sides(sandbox=True, flag_matrix="new=on,off,half")))
    request = _request(
        tmp_path, sides=Sides(sandbox=True, flags={"a": "1"}, flag_matrix="new=on,off")
    )
    engine_plan = LoadPlan(
        run_id="r",
        results_root=str(tmp_path),
        targets=[{"name": "new.off", "web": "http://x/"}, {"name": "new.on", "web": "http://x/"}],
    )
    amended = FlagMatrix(request).amend(engine_plan)
    assert amended.flags == [{"a": "1", "new": "off"}, {"a": "1", "new": "on"}]
    assert amended.one_deployment and not engine_plan.one_deployment  # a copy: plans are frozen


def test_a_rehearsal_with_web_journeys_keeps_its_sandboxes_off_chromium(tmp_path: Path) -> None:
    import os
    from types import SimpleNamespace

    from harness.run.session import _sandboxes_off_chromium

    cores = frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    web, api = SimpleNamespace(uses_browser=True), SimpleNamespace(uses_browser=False)
    request = _request(tmp_path, sides=Sides(sandbox=True), shape=Shape(browser_users=2))
    kept = _sandboxes_off_chromium(request, [api, web]).sides.sandbox_cpus  # type: ignore[list-item]
    if cores is None or len(cores) < 2:
        assert kept is None  # one core: nothing to keep off
    else:  # Chromium takes the last core (`--browser-cpus auto`); the sandboxes the others
        assert kept == cores - {max(cores)}
    # no web journey, no browser user, or no sandbox: the scheduler places them
    for asked, journeys in (
        (request, [api]),
        (_request(tmp_path, sides=Sides(sandbox=True), shape=Shape(browser_users=0)), [web]),
        (_request(tmp_path, shape=Shape(browser_users=2)), [web]),
    ):
        assert _sandboxes_off_chromium(asked, journeys).sides.sandbox_cpus is None  # type: ignore[arg-type]
