"""The `harness` command line: a thin adapter over the runtime and drivers.

Exit codes are `harness.exitcodes.ExitCode`. User mistakes print one paragraph and exit 2; the
harness never shows a traceback for them.
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

from harness.errors import HarnessError, TargetUnavailable, UsageError
from harness.exitcodes import ExitCode
from harness.targets import Target

PROG = "harness"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `harness` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # These two own their argument parsing; pass everything after the command through.
    if args and args[0] == "sandbox":
        from harness.sandbox.__main__ import main as sandbox_main

        return sandbox_main(args[1:])
    if args and args[0] == "synth":
        from synth.cli import main as synth_main

        return synth_main(args[1:], prog="harness synth")
    parser = _parser()
    options = parser.parse_args(args)
    if options.command is None:
        parser.print_help()
        return ExitCode.USAGE
    try:
        with _terminate_as_interrupt():
            code: int = options.handler(options)
            return code
    except UsageError as exc:
        print(f"{PROG} {options.command}: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except HarnessError as exc:
        print(f"{PROG} {options.command}: {exc}", file=sys.stderr)
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
    _add_run_options(smoke)
    smoke.set_defaults(handler=_cmd_smoke)

    demo = commands.add_parser("demo", help="run the sample journeys against the bundled sandbox")
    _add_run_options(demo)
    demo.set_defaults(handler=_cmd_demo, sandbox=True, regression=[], target=None)

    commands.add_parser("sandbox", help="serve the bundled sandbox shop (see `harness sandbox -h`)")
    commands.add_parser("synth", help="generate synthetic data (see `harness synth -h`)")
    return parser


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


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="harness.toml to use")
    parser.add_argument("--journeys", type=Path, action="append", metavar="PATH")
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="select journeys by name/tag")
    parser.add_argument("--seed", type=int, help="synthetic-data seed (default from config)")
    parser.add_argument("--results", type=Path, metavar="DIR", help="where run folders go")
    parser.add_argument("--headed", action="store_true", help="show the browser window")


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


def _cmd_demo(options: argparse.Namespace) -> int:
    return _cmd_smoke(options)


def _cmd_smoke(options: argparse.Namespace) -> int:
    from harness.config import load_config
    from harness.console import ConsoleSink, closing_table, summary_markdown
    from harness.drivers.smoke import run_smoke
    from harness.journey import discover, select
    from harness.records import Outcome
    from harness.results import RunDirectory, new_run_id
    from harness.runtime import RunSettings

    loaded = load_config(options.config)
    config = loaded.config
    if options.regression and not options.sandbox:
        raise UsageError("--regression needs --sandbox (it configures the bundled sandbox)")
    paths = options.journeys or [loaded.root / p for p in config.journeys]
    journeys = select(discover(paths), options.keyword)
    if not journeys:
        where = ", ".join(str(p) for p in paths)
        raise UsageError(
            f"no journeys found in {where}"
            + (f" matching -k {options.keyword!r}" if options.keyword else "")
        )
    seed = options.seed if options.seed is not None else config.seed
    results_root = options.results or (loaded.root / config.results)

    with ExitStack() as stack:
        target = _resolve_target(options, loaded.config, stack)
        _check_reachable(target)
        run_id = new_run_id("smoke")
        run = RunDirectory(results_root, run_id)
        stack.callback(run.close)
        run.start(
            mode="smoke",
            target={"target": target.model_dump()},
            seed=seed,
            config=config.model_dump(),
        )
        print(
            f"journey-harness smoke · target {target.name} ({target.web}) · "
            f"{len(journeys)} journeys · seed {seed} · run {run_id}",
            flush=True,
        )
        settings = RunSettings(
            run_id=run_id,
            target=target,
            artifacts_dir=run.artifacts,
            seed=seed,
            profile=config.profile,
            locale=config.locale,
            request_timeout=config.request_timeout,
            action_timeout=config.action_timeout,
            navigation_timeout=config.navigation_timeout,
        )
        console = ConsoleSink()
        sink = _FanOut(run, console)
        try:
            iterations = run_smoke(journeys, settings, sink, headless=not options.headed)
        except KeyboardInterrupt:
            run.finish("aborted")
            raise
        except BaseException:
            run.finish("error")
            raise
        failed = [i for i in iterations if i.outcome is Outcome.FAILED]
        run.write_text("summary.md", summary_markdown("Smoke", iterations, str(run.path)))
        run.finish("failed" if failed else "passed", journeys=len(iterations), failed=len(failed))
        print()
        for row in closing_table(iterations):
            print(row)
        print(
            f"\n{'FAIL' if failed else 'PASS'}: {len(iterations) - len(failed)}/{len(iterations)} "
            f"journeys passed · results in {run.path}"
        )
        return ExitCode.FAILED if failed else ExitCode.PASSED


class _FanOut:
    """Sends every record to several sinks."""

    def __init__(self, *sinks: object) -> None:
        self.sinks = sinks

    def step_finished(self, record: object) -> None:
        for sink in self.sinks:
            sink.step_finished(record)  # type: ignore[attr-defined]

    def iteration_finished(self, record: object) -> None:
        for sink in self.sinks:
            sink.iteration_finished(record)  # type: ignore[attr-defined]


def _resolve_target(options: argparse.Namespace, config: object, stack: ExitStack) -> Target:
    from harness.config import HarnessConfig

    assert isinstance(config, HarnessConfig)
    if options.sandbox:
        from harness.sandbox.process import SandboxProcess

        sandbox = SandboxProcess(regressions=options.regression)
        urls = sandbox.start()
        stack.callback(sandbox.stop)
        knobs = f" with {', '.join(options.regression)}" if options.regression else ""
        print(f"sandbox started at {urls.base}{knobs}", flush=True)
        return Target(
            name="sandbox", web=urls.web, api=urls.api, mobile=urls.mobile, allow_load=True
        )
    if options.target is None:
        raise UsageError("give a target: --target NAME|URL, or --sandbox for the bundled shop")
    if options.target in config.targets:
        return config.targets[options.target].resolve(options.target)
    if "://" not in options.target:
        known = ", ".join(sorted(config.targets)) or "none configured"
        raise UsageError(
            f"target {options.target!r} is not a URL or a configured target name "
            f"(configured: {known}); e.g. --target http://127.0.0.1:8800"
        )
    return Target.from_base_url(options.target)


def _check_reachable(target: Target, timeout: float = 5.0) -> None:
    """Fail fast, before any journey, when the target's web origin does not answer at all."""
    try:
        with urllib.request.urlopen(target.web, timeout=timeout):  # http(s) checked in Target
            return
    except urllib.error.HTTPError:
        return  # it answered; a 4xx/5xx on / is the journeys' business
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TargetUnavailable(
            f"target {target.name!r} at {target.web} did not answer ({reason}); "
            "is it running? Nothing was run."
        ) from None


if __name__ == "__main__":
    sys.exit(main())
