"""The `harness` command line: a thin adapter over the runtime and drivers.

Exit codes are `harness.exitcodes.ExitCode`. User mistakes print one paragraph and exit 2; the
harness never shows a traceback for them.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from harness.commands.run_options import LOAD_TRACE_SAMPLE as LOAD_TRACE_SAMPLE
from harness.commands.run_options import add_run_options as _add_run_options
from harness.commands.run_options import apply_otel_env as _apply_otel_env
from harness.errors import HarnessError, UsageError
from harness.exitcodes import ExitCode
from harness.redact import redact

PROG = "harness"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `harness` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["load"], ["rehearse"], ["drill"], ["rollout"], ["demo"]):
        # Locust monkey-patches the standard library when imported; it must come first.
        import locust  # noqa: F401
    # These two own their argument parsing; pass everything after the command through.
    if args and args[0] == "sandbox":
        from harness.sandbox.__main__ import main as sandbox_main

        return sandbox_main(args[1:])
    if args and args[0] == "synth":
        from harness.commands.synth import main as synth_main

        return synth_main(args[1:])
    parser = _parser()
    options = parser.parse_args(args)
    if options.command is None:
        parser.print_help()
        return ExitCode.USAGE
    try:
        _apply_otel_env(options)
        with _terminate_as_interrupt():
            code: int = options.handler(options)
            return code
    except UsageError as exc:
        print(f"{PROG} {options.command}: {redact(str(exc))}", file=sys.stderr)
        return ExitCode.USAGE
    except HarnessError as exc:
        print(f"{PROG} {options.command}: {redact(str(exc))}", file=sys.stderr)
        return ExitCode.HARNESS_ERROR
    except KeyboardInterrupt:
        print(f"{PROG} {options.command}: interrupted", file=sys.stderr)
        return ExitCode.HARNESS_ERROR
    except Exception:
        print(
            f"{PROG} {options.command}: internal error, please report it with this traceback:\n"
            + traceback.format_exc(),
            file=sys.stderr,
        )
        return ExitCode.HARNESS_ERROR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Rehearse releases: user journeys across web, API and mobile, "
        "against a baseline and a candidate, with release gates.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    smoke = commands.add_parser("smoke", help="run every journey once (CI smoke)")
    _add_target_options(smoke)
    _add_run_options(smoke, trace_sample=1.0)
    smoke.add_argument(
        "--flags",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="feature flags, sent with each request (X-Feature-Flags) and read as j.flags",
    )
    smoke.set_defaults(handler=_cmd_smoke)

    load = commands.add_parser("load", help="journeys at load on Locust")
    _add_target_options(load)
    _add_run_options(load)
    from harness.commands.load_options import add_arguments as add_load_arguments

    add_load_arguments(load)
    load.set_defaults(handler=_cmd_load)

    rehearse = commands.add_parser(
        "rehearse", help="baseline and candidate at once, then the gates and a verdict"
    )
    sides = rehearse.add_mutually_exclusive_group()
    sides.add_argument("--sandbox", action="store_true", help="a baseline and a candidate sandbox")
    sides.add_argument("--baseline", metavar="T", help="baseline target: name or URL")
    rehearse.add_argument("--candidate", metavar="T", help="candidate target: name or URL")
    rehearse.add_argument(
        "--regression",
        action="append",
        default=[],
        metavar="SPEC",
        help="with --sandbox: a regression of the candidate, e.g. latency:api.orders.create=+200ms",
    )
    rehearse.add_argument(
        "--min-samples", type=int, metavar="N", help="minimum samples per side for every gate"
    )
    rehearse.add_argument(
        "--flag-matrix",
        metavar="NAME=A,B",
        help="compare two variants of one flag on one deployment (--sandbox or --candidate T), "
        "e.g. new_checkout=on,off: the off value is the baseline",
    )
    _add_run_options(rehearse)
    add_load_arguments(rehearse)
    rehearse.set_defaults(
        handler=_cmd_rehearse, users=8, spawn_rate=8.0, duration="60s", target=None
    )

    rollout = commands.add_parser(
        "rollout",
        help="a staged rollout rehearsal: the candidate's share widens stage by stage while the "
        "gates pass, and rolls back when one fails",
    )
    from harness.commands.rollout_options import add_arguments as add_rollout_arguments

    add_rollout_arguments(rollout)
    _add_run_options(rollout)
    add_load_arguments(rollout)
    rollout.set_defaults(handler=_cmd_rollout, users=8, spawn_rate=8.0, target=None, duration=None)

    _add_drill_parser(commands)

    gates = commands.add_parser("gates", help="re-evaluate the gates of a stored run")
    compare = commands.add_parser("compare", help="judge a stored run against another")
    from harness.commands.gates_options import add_compare_arguments, add_gates_arguments

    add_gates_arguments(gates)
    gates.set_defaults(handler=_cmd_gates)
    add_compare_arguments(compare)
    compare.set_defaults(handler=_cmd_compare)

    report = commands.add_parser("report", help="re-render the reports of a stored run")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    report.set_defaults(handler=_cmd_report)

    trace = commands.add_parser("trace", help="trace trees of a stored run")
    from harness.commands.trace import add_arguments as add_trace_arguments

    add_trace_arguments(trace)
    trace.set_defaults(handler=_cmd_trace)

    results = commands.add_parser("results", help="housekeeping of the results root (prune)")
    from harness.commands.results import add_arguments as add_results_arguments

    add_results_arguments(results)
    results.set_defaults(handler=_cmd_results)

    from harness.commands.history import register as register_history
    from harness.commands.monitor import register as register_monitor

    register_history(commands)
    register_monitor(commands, _add_target_options, _add_run_options)

    demo = commands.add_parser(
        "demo",
        help="a rehearsal of the bundled sandbox: baseline against a candidate with a seeded "
        "regression, the gates, and the verdict",
    )
    demo.add_argument("--duration", default="45s", help="how long the rehearsal runs")
    demo.add_argument(
        "--regression", default=DEMO_REGRESSION, metavar="SPEC", help="the candidate's regression"
    )
    demo.set_defaults(handler=_cmd_demo)

    from harness.commands.importer import add_parser as add_import_parser

    add_import_parser(commands)
    commands.add_parser("sandbox", help="serve the bundled sandbox shop (see `harness sandbox -h`)")
    commands.add_parser("synth", help="generate synthetic data (see `harness synth -h`)")
    return parser


def _add_drill_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from harness.commands.load_options import add_arguments as add_load_arguments

    drill = commands.add_parser(
        "drill",
        help="inject known faults between the harness and a target: which gates catch what, "
        "and how fast; --aa --runs N for the gates' false-alarm rate",
    )
    where = drill.add_mutually_exclusive_group()
    where.add_argument("--target", metavar="T", help="target name from harness.toml, or a URL")
    where.add_argument(
        "--sandbox", action="store_true", help="two sandboxes of one release, one per side"
    )
    drill.add_argument(
        "--regression",
        action="append",
        default=[],
        metavar="SPEC",
        help="with --sandbox: a knob of the drilled release, on both sides (e.g. give a route "
        "a realistic service time: latency:api.orders.create=+50ms)",
    )
    drill.add_argument(
        "--baseline",
        metavar="T",
        help="another deployment of the same release for the baseline side (default: T itself)",
    )
    drill.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="a fault for the candidate side, each drilled in its own run, e.g. "
        "latency:api.orders.create=+300ms@10%%, errors:api=2%%,after=10s,for=10s",
    )
    drill.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="GATE",
        help="a gate (name or kind) that must catch every fault (default: any gate)",
    )
    drill.add_argument(
        "--preserve-host",
        action="store_true",
        help="the proxy sends the client's Host header upstream (default: the upstream's own)",
    )
    drill.add_argument("--aa", action="store_true", help="baseline against itself, no fault")
    drill.add_argument("--runs", type=int, default=10, help="with --aa: how many runs")
    drill.add_argument(
        "--direct-baseline",
        action="store_true",
        help="the baseline side bypasses the proxy (default: through a proxy with no fault)",
    )
    drill.add_argument(
        "--replay-step",
        type=float,
        default=1.0,
        metavar="S",
        help="grid, in seconds, on which times to detect and to recover are found",
    )
    drill.add_argument(
        "--min-samples", type=int, metavar="N", help="minimum samples per side for every gate"
    )
    _add_run_options(drill)
    add_load_arguments(drill)
    drill.set_defaults(handler=_cmd_drill, users=6, spawn_rate=6.0, duration="40s")


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--target", metavar="T", help="target name from harness.toml, or a URL")
    where.add_argument(
        "--sandbox", action="store_true", help="start the bundled sandbox and stop it afterwards"
    )
    parser.add_argument(
        "--regression",
        action="append",
        default=[],
        metavar="SPEC",
        help="with --sandbox: a regression knob, e.g. latency:api.orders.create=+200ms",
    )


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a run the way Ctrl-C does, so it is recorded as aborted."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


DEMO_REGRESSION = "latency:*.orders.create=+120ms"


def _cmd_demo(options: argparse.Namespace) -> int:
    """A rehearsal whose candidate is known to be worse: it succeeds when the gates catch it."""
    from harness.commands import rehearse

    argv = ["rehearse", "--sandbox", "--regression", options.regression]
    argv += ["--duration", options.duration, "--users", "6", "--browser-users", "1"]
    rehearsal = _parser().parse_args(argv)
    _apply_otel_env(rehearsal)
    code = rehearse.run(rehearsal)
    if code == ExitCode.FAILED:
        print(f"\ndemo: the gates caught the candidate's seeded regression ({options.regression}).")
        return ExitCode.PASSED
    print(f"\ndemo: the gates did not catch {options.regression} (exit code {code}).")
    return ExitCode.FAILED if code == ExitCode.PASSED else code


def _cmd_smoke(options: argparse.Namespace) -> int:
    from harness.commands import smoke

    return smoke.run(options)


def _cmd_rehearse(options: argparse.Namespace) -> int:
    from harness.commands import rehearse

    return rehearse.run(options)


def _cmd_rollout(options: argparse.Namespace) -> int:
    from harness.commands import rollout

    return rollout.run(options)


def _cmd_drill(options: argparse.Namespace) -> int:
    from harness.commands import drill

    return drill.run(options)


def _cmd_gates(options: argparse.Namespace) -> int:
    from harness.commands import stored

    return stored.gates(options)


def _cmd_compare(options: argparse.Namespace) -> int:
    from harness.commands import stored

    return stored.compare(options)


def _cmd_report(options: argparse.Namespace) -> int:

    if not os.path.lexists(options.run_dir / "run.json"):
        raise UsageError(f"{options.run_dir} is not a run folder (no run.json)")
    from harness.report import write_all

    warnings: list[str] = []
    try:
        paths = write_all(options.run_dir, warnings)
    except OSError as exc:  # the reports were asked for: not writing them is this run's failure
        print(f"harness report: could not write the reports of {options.run_dir}: {exc}")
        return ExitCode.HARNESS_ERROR
    for warning in warnings:
        print(f"harness report: warning: {redact(warning)}", file=sys.stderr)
    print(f"report: {paths[0]} · junit: {paths[1]}", flush=True)
    return ExitCode.PASSED


def _cmd_trace(options: argparse.Namespace) -> int:
    from harness.commands import trace

    return trace.run(options)


def _cmd_results(options: argparse.Namespace) -> int:
    from harness.commands import results

    return results.prune(options)


def _cmd_load(options: argparse.Namespace) -> int:
    from harness.commands import load

    return load.run(options)


if __name__ == "__main__":
    sys.exit(main())
