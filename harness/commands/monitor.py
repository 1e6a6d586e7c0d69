"""`harness monitor`: the selected journeys as smoke checks on a schedule
(`harness.monitor.schedule`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from harness.durations import parse_duration
from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.monitor.schedule import MonitorSettings

Adder = Callable[..., None]


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_target_options: Adder,
    add_run_options: Adder,
) -> None:
    """`harness monitor` in the CLI (its runs are smoke runs: every passing trace kept)."""
    parser = commands.add_parser(
        "monitor", help="the journeys as smoke checks on a schedule, with alerts and metrics"
    )
    add_target_options(parser)
    add_run_options(parser, trace_sample=1.0)
    add_arguments(parser)
    parser.set_defaults(handler=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The monitor's own options (target and run options are added by the CLI)."""
    parser.add_argument("--every", default="5m", metavar="D", help="time between checks (5m)")
    until = parser.add_mutually_exclusive_group()
    until.add_argument("--count", type=int, metavar="N", help="stop after N checks")
    until.add_argument(
        "--until", metavar="TIME", help="stop at TIME (HH:MM in UTC, or an ISO date and time)"
    )
    parser.add_argument(
        "--retries", type=int, default=1, metavar="N",
        help="retries of a failed check before it counts (default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--allow-writes", action="append", default=[], metavar="NAME",
        help="a journey not tagged readonly that may run against a production = true target",
    )  # fmt: skip
    parser.add_argument(
        "--on-fail", metavar="HOOK", help="command or URL told (JSON) when an incident opens"
    )
    parser.add_argument(
        "--on-recover", metavar="HOOK", help="command or URL told (JSON) when it recovers"
    )
    parser.add_argument(
        "--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics on this port"
    )
    parser.add_argument(
        "--metrics-host", default="127.0.0.1", metavar="HOST",
        help="the metrics server's address (default 127.0.0.1)",
    )  # fmt: skip
    parser.add_argument(
        "--flags", action="append", default=[], metavar="NAME=VALUE",
        help="feature flags, sent with each request (X-Feature-Flags)",
    )  # fmt: skip


def settings_from(options: argparse.Namespace) -> MonitorSettings:
    """The monitor's settings from its flags; a malformed one is the user's mistake."""
    from harness.monitor.schedule import MonitorSettings

    every = parse_duration(options.every, what="--every")  # more than 0, at most 24 h
    if options.count is not None and options.count < 1:
        raise UsageError(f"--count {options.count} must be at least 1")
    if options.retries < 0:
        raise UsageError(f"--retries {options.retries} must be 0 or more")
    return MonitorSettings(
        every_s=every,
        count=options.count,
        until=parse_until(options.until) if options.until else None,
        retries=options.retries,
        allow_writes=tuple(options.allow_writes),
        on_fail=options.on_fail,
        on_recover=options.on_recover,
        metrics_port=options.metrics_port,
        metrics_host=options.metrics_host,
    )


def parse_until(text: str, now: datetime | None = None) -> datetime:
    """`HH:MM` (UTC: the next such time) or an ISO date and time (UTC when it names no zone)."""
    now = now or datetime.now(UTC)
    try:
        clock = time.fromisoformat(text)
    except ValueError:
        clock = None
    if clock is not None and "T" not in text and "-" not in text:
        at = datetime.combine(now.date(), clock.replace(tzinfo=UTC))
        return at if at > now else at + timedelta(days=1)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--until {text!r} is not a time: give HH:MM (UTC) or an ISO date and time such as "
            "2026-12-07T18:00"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def run(options: argparse.Namespace) -> int:
    """Run the monitor; returns the exit code."""
    from harness.commands.requests import request_from_options
    from harness.monitor.schedule import Monitor, describe

    settings = settings_from(options)
    request = request_from_options(options, "monitor")
    print(f"journey-harness monitor · {describe(settings)}", flush=True)
    return Monitor(request, settings).run()
