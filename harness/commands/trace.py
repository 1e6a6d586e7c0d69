"""`harness trace RUN_DIR`: the trace trees of a stored run, in the terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import DamagedRunFolder, UsageError
from harness.exitcodes import ExitCode
from harness.telemetry.trace_view import load_traces, render, select_traces, trace_files
from harness.text import plural

DEFAULT_SHOWN = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `harness trace`."""
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument("--journey", metavar="J", help="only this journey's traces")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--failed", action="store_true", help="only failed iterations")
    which.add_argument("--slowest", type=int, metavar="N", help="the N slowest iterations")


def run(options: argparse.Namespace) -> int:
    """Print the selected trace trees; exit 2 when the folder holds no traces."""
    run_dir: Path = options.run_dir
    if not trace_files(run_dir):
        raise UsageError(
            f"{run_dir} holds no traces.jsonl: give a run folder such as results/<run-id>"
        )
    warnings: list[str] = []
    traces = load_traces(run_dir, warnings)
    if warnings and not traces:
        raise DamagedRunFolder(
            f"{run_dir} holds no readable trace ({'; '.join(warnings)}): its span files are damaged"
        )
    for warning in warnings:
        print(f"harness trace: warning: {warning}", file=sys.stderr)
    slowest = options.slowest
    if not options.failed and slowest is None and len(traces) > DEFAULT_SHOWN:
        slowest = DEFAULT_SHOWN
        print(
            f"{plural(len(traces), 'trace')}; showing the {DEFAULT_SHOWN} slowest "
            "(see --slowest, --failed)"
        )
    chosen = select_traces(traces, journey=options.journey, failed=options.failed, slowest=slowest)
    if not chosen:
        print("no trace matches")
    for trace in chosen:
        print("\n".join(render(trace)))
        print()
    return ExitCode.PASSED
