"""`harness gates RUN_DIR` (re-judge a stored run) and `harness compare RUN_A RUN_B` (judge two
stored runs against each other): offline, and without importing Locust."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from harness.config import LoadedConfig, load_config
from harness.gates.config import DEFAULT_GATES, Gate
from harness.gates.data import RunData, side_by_side
from harness.gates.verdict import evaluate, summary_lines
from harness.results import replace_file
from harness.run.request import configured_gates as gates_of


def configured_gates(
    loaded: LoadedConfig,
    min_samples: int | None,
    defaults: list[dict[str, Any]] = DEFAULT_GATES,
) -> list[Gate]:
    """The gates of the loaded harness.toml, or `defaults`; `--min-samples` fills in unset
    minimums."""
    return gates_of(loaded.config, loaded.source, min_samples, defaults)


def gates(options: argparse.Namespace) -> int:
    """`harness gates RUN_DIR`: re-evaluate the gates of a stored run (offline)."""
    data = RunData.load(options.run_dir)
    _warn(data)
    verdict = evaluate(data, configured_gates(load_config(options.config), options.min_samples))
    replace_file(options.run_dir / "verdict-regated.json", verdict.model_dump_json(indent=2) + "\n")
    print("\n".join(summary_lines(verdict)))
    print(f"\nwritten: {options.run_dir / 'verdict-regated.json'}")
    return verdict.exit_code


def compare(options: argparse.Namespace) -> int:
    """`harness compare RUN_A RUN_B`: judge run B (candidate) against run A (baseline)."""
    baseline, candidate = RunData.load(options.baseline_run), RunData.load(options.candidate_run)
    _warn(baseline, candidate)
    data = side_by_side(baseline, candidate)
    verdict = evaluate(data, configured_gates(load_config(options.config), options.min_samples))
    out = options.candidate_run / f"compare-{options.baseline_run.name}.json"
    replace_file(out, verdict.model_dump_json(indent=2) + "\n")
    print(
        f"{options.candidate_run.name} (candidate) against {options.baseline_run.name} (baseline)\n"
    )
    print("\n".join(summary_lines(verdict)))
    print(f"\nwritten: {out}")
    return verdict.exit_code


def _warn(*runs: RunData) -> None:
    """Say on stderr what of the stored runs was damaged (and skipped)."""
    for run in runs:
        for warning in run.warnings:
            print(f"harness: warning: {run.run_dir}: {warning}", file=sys.stderr)
