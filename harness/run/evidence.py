"""What a run collects besides its records, and when: its own tracing, the merge of other
processes' span files once they have stopped and flushed, and the reports once all of it is
complete; `FanOut` hands every record to several sinks."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from harness.records import IterationRecord, StepRecord
from harness.runtime import RunSink

if TYPE_CHECKING:
    from harness.telemetry.tracing import Telemetry

TRACES_FILE = "traces.jsonl"


def start_telemetry(
    run_dir: Path,
    run_id: str,
    stack: ExitStack,
    *,
    traces: bool = True,
    endpoint: str | None = None,
    sample_rate: float = 1.0,
) -> Telemetry:
    """Wire tracing for this run and flush it when `stack` closes (nothing without `traces`)."""
    from harness.telemetry import tracing

    if not traces:
        return tracing.switched_off()
    telemetry = tracing.setup(
        trace_file=run_dir / TRACES_FILE,
        run_id=run_id,
        endpoint=endpoint,
        sample_rate=sample_rate,
    )
    stack.callback(telemetry.shutdown)
    if any(name.startswith("OTEL_") for name in os.environ):  # say the environment was read
        print(f"traces: {telemetry.applied} (OTEL_* environment read)", flush=True)
    return telemetry


def merge_traces_on_exit(
    run_dir: Path,
    stack: ExitStack,
    *,
    traces: bool = True,
    sample_rate: float = 1.0,
    missing: list[str] | None = None,
) -> Path | None:
    """Register, first, the merge of other processes' span files into traces.jsonl, so that it
    runs last (after the sandbox has stopped and flushed); a span file its process could not
    finish is named in `missing`. Returns the sandbox's span file (None without `traces`)."""
    from harness.telemetry.tracing import merge_trace_parts

    if not traces:
        return None

    def merge() -> None:
        try:
            merge_trace_parts(run_dir, missing, sample_rate)
        except OSError as exc:  # a full disk: the spans stay where they were written
            if missing is not None:
                missing.append(f"the span files could not be merged ({exc.strerror or exc})")

    stack.callback(merge)
    return run_dir / "traces" / "sandbox.jsonl"


def remember_run(run_dir: Path, history: str | None, results_root: Path) -> None:
    """Index a finished run in the run history (`harness.history`); a failure is a warning,
    never the run's."""
    from harness.history.index import remember

    remember(run_dir, history, results_root)


#: `HARNESS_HTML_REPORT=0` skips report.html at the end of a run (its charts cost a few seconds
#: of CPU); junit.xml and summary.json are still written, and `harness report RUN_DIR` draws it
HTML_REPORT_ENV = "HARNESS_HTML_REPORT"


def html_report_wanted() -> bool:
    """False when `HARNESS_HTML_REPORT` is 0, false, no or off."""
    value = os.environ.get(HTML_REPORT_ENV, "").strip().lower()
    return value not in ("0", "false", "no", "off")


def publish_reports(run_dir: Path) -> None:
    """Write report.html (unless `HARNESS_HTML_REPORT=0`), junit.xml and summary.json for a
    finished (or aborted) run; a report that cannot be written is a warning, never the run's
    failure."""
    from harness.report import write_all

    html = html_report_wanted()
    try:
        paths = write_all(run_dir, html=html)
    except OSError as exc:
        print(f"WARNING: could not write the reports of {run_dir}: {exc}")
        return
    if html:
        print(f"report: {paths[0]} · junit: {paths[1]}", flush=True)
    else:
        print(
            f"junit: {paths[0]} · report.html skipped ({HTML_REPORT_ENV}=0): "
            f"harness report {run_dir}",
            flush=True,
        )


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
