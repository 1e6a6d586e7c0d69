"""What every run command shares: loading config and journeys, resolving the target (and
starting the sandbox), checking it answers, and fanning records out to several sinks."""

from __future__ import annotations

import argparse
import random
import urllib.error
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.config import HarnessConfig, LoadedConfig, load_config
from harness.errors import TargetUnavailable, UsageError
from harness.journey import Journey, discover, select
from harness.records import IterationRecord, StepRecord
from harness.results import check_folder
from harness.runtime import RunSink
from harness.targets import Target, basic_authorization, split_userinfo

if TYPE_CHECKING:
    from harness.telemetry.tracing import Telemetry

TRACES_FILE = "traces.jsonl"


@dataclass(frozen=True)
class RunInputs:
    """Config, journeys, seed and results folder of a run command."""

    loaded: LoadedConfig
    journeys: list[Journey]
    seed: int
    results_root: Path
    journey_paths: list[Path]

    @property
    def config(self) -> HarnessConfig:
        """The validated configuration."""
        return self.loaded.config


def run_inputs(
    options: argparse.Namespace,
    *,
    select_journeys: bool = True,
    loaded: LoadedConfig | None = None,
) -> RunInputs:
    """Config (`loaded`, else read now) and journeys for a run; raises `UsageError` when no
    journey matches. A command reads harness.toml once, at its start: what a run judges is
    what it recorded, whatever happens to the file meanwhile."""
    loaded = loaded if loaded is not None else load_config(options.config)
    config = loaded.config
    if getattr(options, "regression", None) and not getattr(options, "sandbox", False):
        raise UsageError("--regression needs --sandbox (it configures the bundled sandbox)")
    paths = options.journeys or [loaded.root / p for p in config.journeys]
    found = discover(paths)
    journeys = select(found, options.keyword) if select_journeys else found
    if not journeys:
        where = ", ".join(str(p) for p in paths)
        matching = f" matching -k {options.keyword!r}" if options.keyword else ""
        raise UsageError(f"no journeys found in {where}{matching}")
    seed = options.seed if options.seed is not None else config.seed
    if seed is None:
        # A fresh seed per run, so that runs against a long-lived target do not replay the same
        # people (and hit "email taken"); it is printed and stored so `--seed` replays the run.
        seed = random.SystemRandom().randrange(1, 2**24)
    results_root = Path(options.results or (loaded.root / config.results)).resolve()
    check_folder(results_root)  # a folder that cannot be made is the user's to fix: exit 2
    return RunInputs(loaded, journeys, seed, results_root, list(paths))


def start_telemetry(
    options: argparse.Namespace, run_dir: Path, run_id: str, stack: ExitStack
) -> Telemetry:
    """Wire tracing for this run and flush it when `stack` closes (nothing with --no-traces)."""
    from harness.telemetry import tracing

    if getattr(options, "no_traces", False):
        return tracing.switched_off()
    telemetry = tracing.setup(
        trace_file=run_dir / TRACES_FILE,
        run_id=run_id,
        endpoint=options.otlp_endpoint,
        sample_rate=options.trace_sample,
    )
    stack.callback(telemetry.shutdown)
    return telemetry


def merge_traces_on_exit(
    run_dir: Path,
    stack: ExitStack,
    options: argparse.Namespace,
    missing: list[str] | None = None,
) -> Path | None:
    """Register, first, the merge of other processes' span files into traces.jsonl, so that it
    runs last (after the sandbox has stopped and flushed); a span file its process could not
    finish is named in `missing`. Returns the sandbox's span file (None with --no-traces)."""
    from harness.telemetry.tracing import merge_trace_parts

    if getattr(options, "no_traces", False):
        return None

    def merge() -> None:
        try:
            merge_trace_parts(run_dir, missing, getattr(options, "trace_sample", 1.0))
        except OSError as exc:  # a full disk: the spans stay where they were written
            if missing is not None:
                missing.append(f"the span files could not be merged ({exc.strerror or exc})")

    stack.callback(merge)
    return run_dir / "traces" / "sandbox.jsonl"


def publish_reports(run_dir: Path) -> None:
    """Write report.html, junit.xml and summary.json for a finished (or aborted) run; a report
    that cannot be written is a warning, never the run's failure."""
    from harness.report import write_all

    try:
        paths = write_all(run_dir)
    except OSError as exc:
        print(f"WARNING: could not write the reports of {run_dir}: {exc}")
        return
    print(f"report: {paths[0]} · junit: {paths[1]}", flush=True)


class FanOut:
    """A `RunSink` that sends every record to several sinks."""

    def __init__(self, *sinks: RunSink) -> None:
        self.sinks = sinks

    def step_finished(self, record: StepRecord) -> None:
        """Forward a step record."""
        for sink in self.sinks:
            sink.step_finished(record)

    def iteration_finished(self, record: IterationRecord) -> None:
        """Forward an iteration record."""
        for sink in self.sinks:
            sink.iteration_finished(record)


def resolve_target(
    options: argparse.Namespace,
    config: HarnessConfig,
    stack: ExitStack,
    *,
    sandbox_traces: Path | None = None,
) -> Target:
    """The target of `--target` (name or URL), or a sandbox started for `--sandbox` (writing
    its own spans to `sandbox_traces`, to be merged into the run's traces.jsonl)."""
    if options.sandbox:
        from harness.sandbox.process import SandboxProcess

        sandbox = SandboxProcess(regressions=options.regression, trace_file=sandbox_traces)
        urls = sandbox.start()
        stack.callback(sandbox.stop)
        knobs = f" with {', '.join(options.regression)}" if options.regression else ""
        print(f"sandbox started at {urls.base}{knobs}", flush=True)
        return Target(
            name="sandbox", web=urls.web, api=urls.api, mobile=urls.mobile, allow_load=True
        )
    if options.target is None:
        raise UsageError("give a target: --target NAME|URL, or --sandbox for the bundled shop")
    return resolve_named_target(options.target, config)


def resolve_named_target(name: str, config: HarnessConfig, *, role: str = "target") -> Target:
    """A target from harness.toml by name, or one laid out like the sandbox from a URL."""
    if name in config.targets:
        return config.targets[name].resolve(name)
    if "://" not in name:
        known = ", ".join(sorted(config.targets)) or "none configured"
        raise UsageError(
            f"{role} {name!r} is not a URL or a configured target name "
            f"(configured: {known}); e.g. --{role} http://127.0.0.1:8800"
        )
    return Target.from_base_url(name, name=role if role != "target" else None)


def check_reachable(target: Target, timeout: float = 5.0) -> None:
    """Fail fast, before any journey, when the target's web origin does not answer at all.

    Any status is an answer, a redirect too: it is not followed, so the check sends nothing to
    a host outside the target (a redirect to another host would escape the loopback guard).
    Credentials in the target's URL go as HTTP basic authentication, never in the URL."""
    url, credentials = split_userinfo(target.web)
    request = urllib.request.Request(url)
    if credentials is not None:
        request.add_unredirected_header("Authorization", basic_authorization(credentials))
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout):  # http(s) checked in Target
            return
    except urllib.error.HTTPError as answer:
        answer.close()
        return  # it answered (a 3xx not followed; a 4xx/5xx on / is the journeys' business)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TargetUnavailable(
            f"target {target.name!r} at {url} did not answer ({reason}); "
            "is it running? Nothing was run."
        ) from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Answers a redirect with the 3xx itself (raised as `HTTPError`), never following it."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
