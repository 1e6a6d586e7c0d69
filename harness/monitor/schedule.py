"""The monitor's loop: one smoke run of the selected journeys per check, against one target
(the bundled sandbox started once for all checks), retried before a failure counts; alerts on
an incident's opening and recovery; metrics after each check; SIGTERM stops it between checks.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType

from harness.errors import HarnessError, UsageError
from harness.exitcodes import ExitCode
from harness.history.entry import RunEntry, entry_of
from harness.monitor.incidents import CheckResult, IncidentTracker
from harness.monitor.metrics import MonitorMetrics
from harness.redact import redact
from harness.rollout.hooks import call_hook
from harness.run.inputs import run_inputs
from harness.run.request import RunRequest, Sides
from harness.run.session import Session
from harness.run.targets import resolve_target
from harness.targets import Target
from harness.text import plural

READONLY = "readonly"  #: the tag of a journey that changes nothing on the target


@dataclass(frozen=True)
class MonitorSettings:
    """How a monitor runs (its command's flags)."""

    every_s: float
    count: int | None = None
    until: datetime | None = None  #: aware
    retries: int = 1
    allow_writes: tuple[str, ...] = ()
    on_fail: str | None = None
    on_recover: str | None = None
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"


@dataclass
class StopFlag:
    """Set by SIGTERM (or SIGINT): the loop ends before its next check."""

    signal_name: str | None = None
    checks: list[CheckResult] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.signal_name is not None


def check_writes(target: Target, request: RunRequest, allow_writes: tuple[str, ...]) -> None:
    """Refuse journeys not tagged `readonly` against a `production = true` target, unless
    named in `--allow-writes`; raises `UsageError` before any check."""
    if not target.production:
        return
    journeys = run_inputs(request).journeys
    writing = [j.name for j in journeys if READONLY not in j.tags and j.name not in allow_writes]
    if writing:
        raise UsageError(
            f"target {target.name!r} is marked production = true, and these journeys are not "
            f"tagged {READONLY!r}: {', '.join(writing)}. Monitoring would change production "
            "data: tag them readonly if they change nothing, select others with -k, or name "
            "each one that may write with --allow-writes NAME"
        )


class Monitor:
    """Runs checks of `request` (a smoke request, mode `monitor`) on the schedule of
    `settings`; `run` returns the exit code: 0 when the last check passed, 1 when it failed."""

    def __init__(self, request: RunRequest, settings: MonitorSettings) -> None:
        self.request = request
        self.settings = settings
        self.stop = StopFlag()
        self.metrics = MonitorMetrics()

    def run(self) -> int:
        """Start the target (and the metrics server), run the checks, stop them all."""
        sides = self.request.sides
        with ExitStack() as stack, self._stopped_by_signals():
            target = resolve_target(
                self.request.config,
                stack,
                sandbox=sides.sandbox,
                target=sides.target,
                regressions=sides.regressions,
            )
            # each check reaches the target as it was resolved once (a sandbox by its name)
            checked = self._with_target(self.request, target)
            check_writes(target, checked, self.settings.allow_writes)
            if self.settings.metrics_port is not None:
                port = self.metrics.serve(self.settings.metrics_port, self.settings.metrics_host)
                stack.callback(self.metrics.stop)
                print(f"metrics: http://{self.settings.metrics_host}:{port}/metrics", flush=True)
            tracker = IncidentTracker(target.name)
            last = self._loop(checked, target, tracker)
        if self.stop:
            print(f"monitor: stopped by {self.stop.signal_name} between checks", flush=True)
        return ExitCode.PASSED if last is None or last.passed else ExitCode.FAILED

    def _loop(
        self, request: RunRequest, target: Target, tracker: IncidentTracker
    ) -> CheckResult | None:
        settings = self.settings
        last: CheckResult | None = None
        number = 0
        while not self.stop and not self._done(number):
            number += 1
            started = time.monotonic()
            last = self.check(request, number)
            self.stop.checks.append(last)
            self.metrics.record(target.name, last.passed, self._entry(request, last))
            alert = tracker.observe(last)
            if alert is not None:
                self._alert(*alert)
            state = "PASS" if last.passed else f"FAIL ({last.reason})"
            print(f"monitor: check {number} {state}", flush=True)
            if self._done(number):
                break
            self._sleep(settings.every_s - (time.monotonic() - started))
        return last

    def check(self, request: RunRequest, number: int) -> CheckResult:
        """One check: a smoke run, retried up to `retries` times while it fails."""
        attempts = 0
        while True:
            attempts += 1
            session = Session(request.for_next_run().model_copy(update={"attempt": attempts}))
            reason = ""
            try:
                code = session.smoke()
            except HarnessError as exc:
                if isinstance(exc, UsageError):
                    raise
                code, reason = ExitCode.HARNESS_ERROR, redact(str(exc)).splitlines()[0]
            path = session.run_path
            if code == ExitCode.PASSED:
                return CheckResult(number, True, _name(path), attempts=attempts)
            if attempts > self.settings.retries or self.stop:
                failed = _failed_journeys(path)
                reason = reason or f"failed: {', '.join(failed) or 'exit code ' + str(code)}"
                return CheckResult(number, False, _name(path), failed, reason, attempts)
            print(f"monitor: check {number} failed; retrying ({attempts}/{self.settings.retries})")

    def _entry(self, request: RunRequest, check: CheckResult) -> RunEntry | None:
        if check.run_id is None:
            return None
        try:
            return entry_of(request.results_root / check.run_id)
        except (HarnessError, OSError):
            return None

    def _alert(self, hook: str, event: dict[str, object]) -> None:
        action = self.settings.on_fail if hook == "on_fail" else self.settings.on_recover
        if not action:
            return
        called = call_hook(hook, action, dict(event))
        state = "ok" if called.ok else "FAILED"
        print(f"monitor: {hook} hook {state}: {redact(called.detail)}", flush=True)

    def _done(self, number: int) -> bool:
        if self.settings.count is not None and number >= self.settings.count:
            return True
        until = self.settings.until
        return until is not None and datetime.now(until.tzinfo) >= until

    def _sleep(self, seconds: float) -> None:
        """Wait for the next check in short slices, so that a signal ends the wait soon."""
        deadline = time.monotonic() + seconds
        while not self.stop and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))

    @staticmethod
    def _with_target(request: RunRequest, target: Target) -> RunRequest:
        from harness.config import TargetConfig

        sides = Sides(target=request.sides.target, flags=request.sides.flags)
        if not request.sides.sandbox:
            return request.model_copy(update={"sides": sides})
        config = request.config.model_copy(
            update={
                "targets": {
                    **request.config.targets,
                    target.name: TargetConfig(
                        web=target.web, api=target.api, mobile=target.mobile,
                        allow_load=target.allow_load, http=target.http,
                    ),
                }
            }
        )  # fmt: skip
        sides = sides.model_copy(update={"target": target.name})
        return request.model_copy(update={"config": config, "sides": sides})

    @contextmanager
    def _stopped_by_signals(self) -> Iterator[None]:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.stop.signal_name = signal.Signals(signum).name

        previous = signal.signal(signal.SIGTERM, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)


def _name(path: Path | None) -> str | None:
    return path.name if path is not None else None


def _failed_journeys(path: Path | None) -> tuple[str, ...]:
    if path is None:
        return ()
    try:
        entry = entry_of(path)
    except (HarnessError, OSError):
        return ()
    return tuple(s.journey for s in entry.series if not s.step and s.failures)


def describe(settings: MonitorSettings) -> str:
    """The schedule in words: `every 5 s, 3 checks`."""
    parts = [f"every {settings.every_s:g} s"]
    if settings.count is not None:
        parts.append(plural(settings.count, "check"))
    if settings.until is not None:
        parts.append(f"until {settings.until.isoformat(timespec='seconds')}")
    return ", ".join(parts)
