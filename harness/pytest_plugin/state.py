"""The state of one `pytest --harness` session, kept in `config.stash`.

One process plays one role: `local` (no xdist: resolves the target, owns the run folder and runs
the journeys), `controller` (xdist: resolves the target and owns the run folder; its workers
run the journeys and send their records back attached to their test reports, so only this
process writes `steps.jsonl`) or `worker` (runs journeys against the controller's target, with
its own synthetic-data stream, artifacts folder and span file).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.errors import UsageError
from harness.pytest_plugin.browser import browser_host
from harness.pytest_plugin.record_sinks import Ledger, Outbox

if TYPE_CHECKING:
    from harness.journey import Journey
    from harness.pytest_plugin.gates import GateResult, Threshold
    from harness.records import IterationRecord, StepRecord
    from harness.results import RunDirectory
    from harness.run.request import RunRequest
    from harness.runtime import RunSettings, RunSink
    from harness.targets import Target
    from harness.touchpoints.web import BrowserHost

STATE: pytest.StashKey[HarnessSession] = pytest.StashKey()
WORKER_INPUT = "harness"
RECORDS_ATTRIBUTE = "harness_records"


@dataclass(frozen=True)
class HarnessRun:
    """What the `harness_run` fixture gives: the run's identity, folder and shared settings."""

    run_id: str
    path: Path
    seed: int
    settings: RunSettings
    session: HarnessSession = field(repr=False, compare=False)

    @property
    def target(self) -> Target:
        """The target of the session (`--harness-target` or the sandbox)."""
        return self.settings.target


class HarnessSession:
    """Options, run folder, target, sandbox, tracing and browser of one pytest session. Its
    run settings are one `RunRequest` (mode `pytest`), built here from the `--harness-*` options,
    harness.toml (read once, here) and the defaults, and recorded in run.json."""

    def __init__(self, config: pytest.Config) -> None:
        from harness.config import load_config
        from harness.pytest_plugin.gates import parse_gates
        from harness.run.request import Sides, Tracing, build_request
        from harness.telemetry import otel_env

        option = config.option
        self.config = config
        self.workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        self.headless = not option.harness_headed
        self.devices: list[str] = list(option.harness_device or [])
        base = config.invocation_params.dir
        try:
            if not otel_env.sdk_disabled():
                otel_env.check()  # an exporter, protocol or timeout it cannot apply: now, once
            loaded = load_config(option.harness_config, start=base)
            self.gates: list[Threshold] = parse_gates(option.harness_gates or [])
            self.request: RunRequest = build_request(
                "pytest",
                loaded,
                journeys=option.harness_journeys,
                seed=option.harness_seed,
                results=option.harness_results,
                base=base,
                sides=Sides(
                    sandbox=bool(option.harness_sandbox),
                    target=option.harness_target,
                    regressions=tuple(option.harness_regression or ()),
                ),
                tracing=Tracing(
                    headed=bool(option.harness_headed),
                    # the share the journey processes sample (`OTEL_TRACES_SAMPLER`), which the
                    # merge of the target's spans must cut to
                    sample_rate=otel_env.sample_rate(None, 1.0)[0],
                ),
            )
        except UsageError as exc:
            raise pytest.UsageError(str(exc)) from None
        if option.harness_regression and not option.harness_sandbox:
            raise pytest.UsageError(
                "--harness-regression needs --harness-sandbox (it configures the bundled sandbox)"
            )
        if option.harness_sandbox and option.harness_target:
            raise pytest.UsageError("give --harness-target or --harness-sandbox, not both")
        if not (option.harness_sandbox or option.harness_target):
            raise pytest.UsageError(
                "--harness needs a target: --harness-target NAME|URL (a name from harness.toml, "
                "or a URL such as http://127.0.0.1:8800), or --harness-sandbox for the bundled shop"
            )
        self.roots = [p.resolve() for p in self.request.journey_paths]
        self.journey_names: dict[str, str] = {}  # name -> location, across journey files
        self.stack = ExitStack()
        self.ledger = Ledger()
        self.outbox = Outbox()
        self.gate_results: list[GateResult] = []
        self.run: RunDirectory | None = None
        self.run_path: Path | None = None
        self.run_id = ""
        self.seed = 0
        self.settings: RunSettings | None = None
        self.sink: RunSink | None = None
        self.browser: Callable[[], BrowserHost] | None = None
        self.failed_to_start: str | None = None
        self._users = 0

    # roles -----------------------------------------------------------------------------------

    @property
    def is_worker(self) -> bool:
        """An xdist worker: runs journeys, owns no run folder."""
        return self.workerinput is not None

    @property
    def is_controller(self) -> bool:
        """The xdist controller: owns the run folder, runs no journeys."""
        return not self.is_worker and self.config.pluginmanager.hasplugin("dsession")

    def is_journey_file(self, path: Path) -> bool:
        """Whether `path` is a journey module: a .py file under a journey path, not `_*`."""
        if path.suffix != ".py" or path.name.startswith("_") or path.name == "conftest.py":
            return False
        resolved = path.resolve()
        return any(resolved == root or resolved.is_relative_to(root) for root in self.roots)

    # session start ---------------------------------------------------------------------------

    def start(self) -> None:
        """Resolve the target (starting the sandbox), open the run folder, wire tracing."""
        from harness.results import RunDirectory, new_run_id
        from harness.runtime import RunSettings

        if self.is_worker:
            self._start_worker()
            return
        request = self.request
        config = request.config
        self.seed = request.seed
        self.run_id = new_run_id("pytest")
        self.run_path = request.results_root / self.run_id
        target = self._resolve_target()
        self.run = RunDirectory(self.run_path.parent, self.run_id)
        self.stack.callback(self.run.close)
        self.run.start(
            mode="pytest",
            target={"target": target.model_dump()},
            seed=self.seed,
            config=config.model_dump(),
            request=request.recorded(),
        )
        self.settings = RunSettings(
            run_id=self.run_id,
            target=target,
            artifacts_dir=self.run.artifacts,
            seed=self.seed,
            profile=config.profile,
            locale=config.locale,
            request_timeout=config.request_timeout,
            action_timeout=config.action_timeout,
            navigation_timeout=config.navigation_timeout,
        )
        if not self.is_controller:
            from harness.run.evidence import FanOut

            self._start_runner(self.run_path / "traces.jsonl", worker=0)
            self.sink = FanOut(self.run, self.ledger)

    def _resolve_target(self) -> Target:
        from harness.run.evidence import merge_traces_on_exit
        from harness.run.targets import check_reachable, resolve_target

        assert self.run_path is not None
        sides = self.request.sides
        rate = self.request.tracing.sample_rate
        traces = merge_traces_on_exit(self.run_path, self.stack, sample_rate=rate)
        target = resolve_target(
            self.request.config,
            self.stack,
            sandbox=sides.sandbox,
            target=sides.target,
            regressions=sides.regressions,
            sandbox_traces=traces,
            announce=None,  # the report header says where the sandbox runs
        )
        check_reachable(target)
        return target

    def _start_worker(self) -> None:
        from harness.runtime import RunSettings
        from harness.targets import Target

        assert self.workerinput is not None
        given = self.workerinput.get(WORKER_INPUT)
        if given is None:
            self.failed_to_start = "the xdist controller started no harness run"
            return
        worker_id = str(self.workerinput.get("workerid", "gw0"))
        worker = int(worker_id.removeprefix("gw") or 0)
        config = self.request.config
        self.run_id = given["run_id"]
        self.run_path = Path(given["run_path"])
        self.seed = int(given["seed"])
        self.settings = RunSettings(
            run_id=self.run_id,
            target=Target.model_validate(given["target"]),
            artifacts_dir=self.run_path / "artifacts" / worker_id,
            seed=self.seed,
            worker=worker,
            profile=config.profile,
            locale=config.locale,
            request_timeout=config.request_timeout,
            action_timeout=config.action_timeout,
            navigation_timeout=config.navigation_timeout,
        )
        self._start_runner(self.run_path / "traces" / f"{worker_id}.jsonl", worker=worker)
        self.sink = self.outbox

    def _start_runner(self, trace_file: Path, *, worker: int) -> None:
        """Tracing and a lazily launched Chromium, for a process that runs journeys."""
        from harness.telemetry import tracing

        trace_file.parent.mkdir(parents=True, exist_ok=True)
        telemetry = tracing.setup(
            trace_file=trace_file,
            run_id=self.run_id,
            worker=worker,
            sample_rate=self.request.tracing.sample_rate,
        )
        self.stack.callback(telemetry.shutdown)
        self.browser = self.stack.enter_context(browser_host(headless=self.headless))

    def worker_input(self) -> dict[str, Any]:
        """What an xdist worker needs from the controller (plain data, sent over execnet)."""
        assert self.settings is not None and self.run_path is not None
        return {
            "run_id": self.run_id,
            "run_path": str(self.run_path),
            "seed": self.seed,
            "target": self.settings.target.model_dump(),
        }

    def header(self) -> list[str]:
        """Lines for pytest's report header."""
        if self.settings is None:
            return [f"harness: not started ({self.failed_to_start or 'no run'})"]
        from harness.targets import without_userinfo

        target = self.settings.target
        knobs = self.config.option.harness_regression
        regressions = f" with {', '.join(knobs)}" if knobs else ""
        roots = ", ".join(_relative(r, self.config.invocation_params.dir) for r in self.roots)
        return [
            f"harness: target {target.name} ({without_userinfo(target.web)}){regressions} · "
            f"seed {self.seed}",
            f"harness: journeys from {roots} · results in {self.run_path}",
        ]

    # running ---------------------------------------------------------------------------------

    def require_runner(self) -> tuple[RunSettings, RunSink, Callable[[], BrowserHost]]:
        """Settings, sink and browser of a process that runs journeys."""
        if self.settings is None or self.sink is None or self.browser is None:
            raise UsageError(
                f"the harness session did not start: {self.failed_to_start or 'no target'}"
            )
        return self.settings, self.sink, self.browser

    def next_user(self) -> int:
        """A virtual-user index unique in this process (artifact names, synthetic data)."""
        index = self._users
        self._users += 1
        return index

    def run_journey(
        self, journey: Journey, *, settings: RunSettings | None = None, iteration: int = 0
    ) -> tuple[IterationRecord, list[StepRecord]]:
        """One iteration of `journey` through the journey runtime; its record and steps."""
        from harness.run.evidence import FanOut
        from harness.virtual_user import VirtualUser

        base, sink, browser = self.require_runner()
        capture = Ledger()
        user = VirtualUser(
            index=self.next_user(),
            settings=settings or base,
            sink=FanOut(sink, capture),
            browser=browser,
        )
        try:
            record = user.run_iteration(journey, iteration)
        finally:
            user.close()
        return record, capture.steps

    # records from workers --------------------------------------------------------------------

    def receive(self, lines: Sequence[str]) -> None:
        """Write record lines a worker sent (controller) and keep them for gates and summary."""
        from harness.records import IterationRecord, StepRecord

        if self.run is None or not lines:
            return
        self.run.append_lines(list(lines))
        for line in lines:
            data = json.loads(line)
            if data.get("kind") == "iteration":
                self.ledger.iteration_finished(IterationRecord.model_validate(data))
            else:
                self.ledger.step_finished(StepRecord.model_validate(data))

    # session end -----------------------------------------------------------------------------

    def finish(self, exitstatus: int) -> int:
        """Judge the gates, write summary.md and the final run.json; returns the exit status."""
        if self.is_worker or self.run is None:
            self.close()
            return exitstatus
        from harness.console import summary_markdown

        ledger = self.ledger
        self.gate_results = [g.evaluate(ledger.steps, ledger.iterations) for g in self.gates]
        breached = [r for r in self.gate_results if not r.passed]
        if breached and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            exitstatus = pytest.ExitCode.TESTS_FAILED
        summary = summary_markdown("pytest --harness", ledger.iterations, str(self.run.path))
        if self.gate_results:
            summary += "\n## Gates\n\n" + "".join(f"- {r.line()}\n" for r in self.gate_results)
        self.run.write_text("summary.md", summary)
        failed = sum(1 for i in ledger.iterations if i.outcome.value == "failed")
        self.run.finish(
            _status(exitstatus),
            journeys=len(ledger.iterations),
            failed=failed,
            gates=[
                {"gate": r.gate.text, "passed": r.passed, "detail": r.detail}
                for r in self.gate_results
            ],
            pytest_exitstatus=int(exitstatus),
        )
        self.close()
        return exitstatus

    def close(self) -> None:
        """Stop the sandbox, flush spans, close the browser and the run folder (idempotent)."""
        self.stack.close()


def _status(exitstatus: int) -> str:
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        return "passed"
    if exitstatus == pytest.ExitCode.TESTS_FAILED:
        return "failed"
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "aborted"
    return "error"


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base.resolve())) + ("/" if path.is_dir() else "")
    except ValueError:
        return str(path)


def variant(journey: Journey, device: str) -> Journey:
    """`journey` emulating `device` (`desktop`: no emulation), named `<journey>-<device>`."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", device).strip("_") or "device"
    return replace(
        journey, name=f"{journey.name}-{slug}", device=None if device == "desktop" else device
    )
