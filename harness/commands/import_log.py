"""`harness import access-log FILE…`: a workload model from access logs."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness.errors import UsageError
from harness.exitcodes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `harness import access-log`."""
    parser.add_argument("files", type=Path, nargs="+", metavar="FILE")
    parser.add_argument("--format", default="combined", help="combined (default) or json")
    parser.add_argument(
        "--session-key",
        default="ip+ua",
        metavar="KEY",
        help="who a request is from: ip+ua (default), cookie:NAME or header:NAME",
    )
    parser.add_argument(
        "--inactivity", default="30m", metavar="DURATION", help="idle time ending a session (30m)"
    )
    parser.add_argument(
        "--gap", default="1s", metavar="DURATION", help="shortest pause counted as think time (1s)"
    )
    parser.add_argument(
        "--bucket", default="1m", metavar="DURATION", help="the arrival curve's bucket (1m)"
    )
    parser.add_argument(
        "--journeys", type=Path, action="append", metavar="PATH", help="journeys (journeys/)"
    )
    parser.add_argument(
        "--learn-from",
        type=Path,
        action="append",
        default=[],
        metavar="RUN_DIR",
        help="a run (a smoke run) whose requests give the routes of journeys that declare none",
    )
    parser.add_argument("--target", metavar="T", help="target whose api/mobile bases to use")
    parser.add_argument("--config", type=Path, metavar="PATH", help="harness.toml to read")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("workload.toml"),
        metavar="PATH",
        help="where to write the model (workload.toml)",
    )
    parser.set_defaults(handler=run)


def run(options: argparse.Namespace) -> int:
    """Read the logs, write the workload model, print what it found."""
    from harness.config import load_config
    from harness.durations import parse_duration
    from harness.importers.access_log import Reader, check_session_key
    from harness.importers.learned_routes import learned_routes
    from harness.importers.log_workload import RoutePatterns, Sessions, build_workload
    from harness.journey import discover
    from harness.run.targets import resolve_named_target
    from harness.targets import Target
    from harness.workload import dump_workload

    key = check_session_key(options.session_key)
    reader = Reader(options.format)
    inactivity = parse_duration(options.inactivity, what="--inactivity")
    bucket = parse_duration(options.bucket, what="--bucket")
    gap = parse_duration(options.gap, what="--gap")
    if bucket <= 0 or inactivity <= 0:
        raise UsageError("--bucket and --inactivity must be longer than 0s")
    loaded = load_config(options.config)
    journeys = discover(options.journeys or [loaded.root / "journeys"])
    learned = learned_routes(options.learn_from) if options.learn_from else {}
    declared = [(j.name, j.routes or tuple(learned.get(j.name, ()))) for j in journeys]
    declared = [(name, routes) for name, routes in declared if routes]
    if not declared:
        raise UsageError(
            "no journey declares its routes, so no session can be matched to one: add "
            "@journey(routes=['GET /products/{id}', 'POST /api/v1/orders']) (a journey from "
            "`harness import har` has them), or learn them from a smoke run with "
            "--learn-from results/<run-id>"
        )
    target = (
        resolve_named_target(options.target, loaded.config)
        if options.target
        else Target.from_base_url("http://localhost", name="log")
    )
    sessions = Sessions(
        RoutePatterns(declared),
        target,
        key=key,
        inactivity_s=inactivity,
        gap_s=gap,
        bucket_s=bucket,
    )
    started = time.perf_counter()
    sessions.feed(reader.read(options.files))
    tally = sessions.close_all()
    elapsed = time.perf_counter() - started
    workload = build_workload(
        tally,
        [name for name, _ in declared],
        sources=[f.name for f in options.files],
        fmt=options.format,
        key=key,
        inactivity_s=inactivity,
        bucket_s=bucket,
        lines=reader.lines,
    )
    comment = (
        f"Imported by `harness import access-log` from {', '.join(workload.sources)}.\n"
        "mix, touchpoints and unmatched_share are percent of sessions; think holds quantiles "
        "p0, p10 … p100 in seconds."
    )
    try:
        options.output.write_text(dump_workload(workload, comment), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {options.output}: {exc.strerror or exc}") from None
    print(
        f"wrote {options.output}: {workload.sessions} sessions from {reader.lines} lines "
        f"({reader.bad} unreadable, {tally.static} static) in {elapsed:.1f} s; "
        f"{workload.rate_per_minute:g} matched sessions a minute"
    )
    for name, share in workload.mix.items():
        print(f"  {name:<32} {share:6.2f}%")
    print(f"  unmatched                        {workload.unmatched_share:6.2f}%", end="")
    top = ", ".join(f"{r.route} ({r.requests})" for r in workload.unmatched_routes[:5])
    print(f"  top routes: {top}" if top else "")
    return ExitCode.PASSED
