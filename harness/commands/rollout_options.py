"""The options of `harness rollout`, apart from the command so that building the parser imports
neither Locust nor the gates."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sides, stages, gates' minimums and hooks (run and load options are added by the CLI)."""
    sides = parser.add_mutually_exclusive_group()
    sides.add_argument("--sandbox", action="store_true", help="a baseline and a candidate sandbox")
    sides.add_argument("--baseline", metavar="T", help="baseline target: name or URL")
    parser.add_argument("--candidate", metavar="T", help="candidate target: name or URL")
    parser.add_argument(
        "--regression",
        action="append",
        default=[],
        metavar="SPEC",
        help="with --sandbox: a regression of the candidate, e.g. contention:*.orders.create=+40ms",
    )
    stages = parser.add_argument_group("stages")
    stages.add_argument(
        "--stages",
        metavar="P,P,...,100",
        help="the candidate's share of people per stage, rising to 100 (default: [rollout] "
        "stages in harness.toml, else 1,5,25,50,100)",
    )
    stages.add_argument(
        "--stage-duration", metavar="D", help="how long each stage runs (default 60s)"
    )
    stages.add_argument(
        "--max-extensions",
        type=int,
        metavar="N",
        help="times an inconclusive stage runs again before the rollout holds (default 2)",
    )
    stages.add_argument(
        "--min-samples",
        type=int,
        metavar="N",
        help="minimum samples per series and side before a stage can pass (default 100)",
    )
    hooks = parser.add_argument_group(
        "hooks",
        "a shell command (event JSON on stdin and in $HARNESS_ROLLOUT_EVENT) or an "
        "http(s) URL (event JSON POSTed); a failing hook stops the rollout and rolls back",
    )
    hooks.add_argument("--on-stage", dest="on_stage", metavar="CMD|URL", help="at every decision")
    hooks.add_argument("--on-promote", dest="on_promote", metavar="CMD|URL", help="at promotion")
    hooks.add_argument("--on-rollback", dest="on_rollback", metavar="CMD|URL", help="at rollback")
