"""`harness monitor`'s logic without a target (`harness/monitor/`): incidents alert once when
they open and once when they recover; a failed check is retried before it counts; SIGTERM
stops the loop between checks; journeys that write are refused against production; metrics
are served on loopback; the schedule's flags are checked."""

from __future__ import annotations

import argparse
import os
import signal
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.commands.monitor import parse_until, settings_from
from harness.errors import TargetUnavailable, UsageError
from harness.history.entry import entry_of
from harness.monitor import schedule
from harness.monitor.incidents import CheckResult, IncidentTracker
from harness.monitor.metrics import MonitorMetrics
from harness.monitor.schedule import Monitor, MonitorSettings, check_writes
from harness.targets import Target
from tests.history_runs import check_folder


def _check(number: int, passed: bool) -> CheckResult:
    return CheckResult(number, passed, f"run-{number}", () if passed else ("pay",), "why")


def test_an_incident_alerts_once_when_it_opens_and_once_when_it_recovers() -> None:
    tracker = IncidentTracker("shop")
    outcomes = [True, False, False, False, True, True, False]
    alerts = [tracker.observe(_check(n, ok)) for n, ok in enumerate(outcomes, 1)]
    hooks = [a[0] if a else None for a in alerts]
    assert hooks == [None, "on_fail", None, None, "on_recover", None, "on_fail"]
    opened, recovered = alerts[1], alerts[4]
    assert opened is not None and recovered is not None
    assert opened[1]["event"] == "monitor.fail" and opened[1]["failed_journeys"] == ["pay"]
    assert recovered[1]["incident"]["failed_checks"] == 3
    assert recovered[1]["incident"]["first_run_id"] == "run-2"
    assert tracker.open and tracker.failed_checks == 1


@dataclass
class FakeSession:
    """Stands in for `Session`: each smoke() takes the next scripted exit code (or raises)."""

    script: list[Any]
    run_path: Path | None = None
    attempts: list[int] = field(default_factory=list)

    def __call__(self, request: FakeRequest) -> FakeSession:
        self.attempts.append(request.attempt)
        return self

    def smoke(self) -> int:
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return int(step)


class FakeRequest:
    results_root = Path("/nonexistent")
    attempt = 1

    def for_next_run(self) -> FakeRequest:
        return self

    def model_copy(self, update: dict[str, Any]) -> FakeRequest:
        copy = FakeRequest()
        copy.attempt = update["attempt"]
        return copy


@pytest.mark.parametrize(
    ("script", "retries", "passed", "attempts"),
    [
        ([0], 1, True, 1),
        ([1, 0], 1, True, 2),  # a failure that passes on retry does not count
        ([1, 1], 1, False, 2),
        ([1], 0, False, 1),
        ([1, 1, 1, 0], 3, True, 4),
    ],
)
def test_a_failed_check_is_retried_before_it_counts(
    monkeypatch: pytest.MonkeyPatch, script: list[int], retries: int, passed: bool, attempts: int
) -> None:
    session = FakeSession(list(script))
    monkeypatch.setattr(schedule, "Session", session)
    monitor = Monitor(FakeRequest(), MonitorSettings(every_s=1, retries=retries))  # type: ignore[arg-type]
    result = monitor.check(FakeRequest(), 1)  # type: ignore[arg-type]
    assert (result.passed, result.attempts) == (passed, attempts)
    assert session.attempts == list(range(1, attempts + 1))  # recorded in each run's request


def test_an_unreachable_target_is_a_failed_check_and_a_usage_error_stops_the_monitor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    down = TargetUnavailable("target 'shop' did not answer\nmore")
    monkeypatch.setattr(schedule, "Session", FakeSession([down, down]))
    monitor = Monitor(FakeRequest(), MonitorSettings(every_s=1))  # type: ignore[arg-type]
    result = monitor.check(FakeRequest(), 1)  # type: ignore[arg-type]
    assert not result.passed and result.reason == "target 'shop' did not answer"
    monkeypatch.setattr(schedule, "Session", FakeSession([UsageError("bad -k")]))
    with pytest.raises(UsageError):
        monitor.check(FakeRequest(), 1)  # type: ignore[arg-type]


def test_sigterm_stops_the_loop_between_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monitor = Monitor(FakeRequest(), MonitorSettings(every_s=30, count=5))  # type: ignore[arg-type]
    ran: list[int] = []

    def check(request: object, number: int) -> CheckResult:
        ran.append(number)
        os.kill(os.getpid(), signal.SIGTERM)  # arrives during the check
        return _check(number, True)

    monkeypatch.setattr(monitor, "check", check)
    before = signal.getsignal(signal.SIGTERM)
    with monitor._stopped_by_signals():
        last = monitor._loop(FakeRequest(), _target(), IncidentTracker("shop"))  # type: ignore[arg-type]
    assert ran == [1] and last is not None and last.passed
    assert monitor.stop.signal_name == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) == before  # the CLI's handler is back


@dataclass(frozen=True)
class FakeJourney:
    name: str
    tags: frozenset[str] = frozenset()


def _target(production: bool = False) -> Target:
    return Target(
        name="shop", web="http://shop/", api="http://shop/api", mobile="http://shop/m",
        production=production,
    )  # fmt: skip


def test_journeys_that_write_are_refused_against_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    journeys = [FakeJourney("browse", frozenset({"readonly"})), FakeJourney("checkout")]

    @dataclass
    class Inputs:
        journeys: list[FakeJourney]

    monkeypatch.setattr(schedule, "run_inputs", lambda request: Inputs(journeys))
    check_writes(_target(production=False), None, ())  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"not tagged 'readonly': checkout\. .*--allow-writes"):
        check_writes(_target(production=True), None, ())  # type: ignore[arg-type]
    check_writes(_target(production=True), None, ("checkout",))  # type: ignore[arg-type]


def test_metrics_are_served_on_loopback_per_journey_and_step(tmp_path: Path) -> None:
    folder = check_folder(
        tmp_path, "20261201-000000-monitor-0001", started_at="2026-12-01T00:00:00",
        mode="monitor", journeys={"browse": 25.0}, failed=frozenset({"browse"}),
    )  # fmt: skip
    metrics = MonitorMetrics()
    port = metrics.serve(0)
    try:
        metrics.record("shop", False, entry_of(folder))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            text = reply.read().decode()
    finally:
        metrics.stop()
    assert 'probe_success{target="shop"} 0.0' in text
    assert 'harness_monitor_journey_success{journey="browse",target="shop"} 0.0' in text
    assert (
        'harness_monitor_step_success{journey="browse",step="list products",target="shop"} 1.0'
        in (text)
    )
    assert (
        'harness_monitor_duration_seconds{journey="browse",step="pay",target="shop"} 0.05' in text
    )
    assert 'harness_monitor_checks_total{result="fail",target="shop"} 1.0' in text
    assert "harness_monitor_last_run_timestamp_seconds" in text


def _options(**given: Any) -> argparse.Namespace:
    defaults = dict(
        every="5m", count=None, until=None, retries=1, allow_writes=[], on_fail=None,
        on_recover=None, metrics_port=None, metrics_host="127.0.0.1",
    )  # fmt: skip
    return argparse.Namespace(**{**defaults, **given})


def test_the_schedule_flags_are_checked() -> None:
    assert settings_from(_options(every="2s", count=3)).every_s == 2.0
    for bad, message in (
        (dict(every="soon"), "--every 'soon' is not a duration"),
        (dict(every="0s"), "--every .0s. must be more than 0"),
        (dict(count=0), "--count 0 must be at least 1"),
        (dict(retries=-1), "--retries -1"),
        (dict(until="teatime"), "--until 'teatime' is not a time"),
    ):
        with pytest.raises(UsageError, match=message):
            settings_from(_options(**bad))


def test_until_takes_a_clock_time_or_a_date_and_time() -> None:
    now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert parse_until("18:30", now) == datetime(2026, 12, 7, 18, 30, tzinfo=UTC)
    assert parse_until("09:00", now) == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # tomorrow's
    assert parse_until("2026-12-09T06:00", now) == datetime(2026, 12, 9, 6, 0, tzinfo=UTC)
