"""Options of `harness gates` and `harness compare` (kept apart so that building the parser
imports neither numpy nor Locust)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_gates_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `harness gates`."""
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument("--config", type=Path, metavar="FILE", help="gates from this harness.toml")
    parser.add_argument("--min-samples", type=int, metavar="N")


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `harness compare`."""
    parser.add_argument("baseline_run", type=Path, metavar="RUN_A")
    parser.add_argument("candidate_run", type=Path, metavar="RUN_B")
    parser.add_argument("--config", type=Path, metavar="FILE", help="gates from this harness.toml")
    parser.add_argument("--min-samples", type=int, metavar="N")
