"""The options of `harness load`, kept apart from the command so that building the parser never
imports Locust (which monkey-patches the standard library)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.engine.plan import ShapeKind


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `harness load` (target and run options are added by the CLI)."""
    shape = parser.add_argument_group("shape")
    shape.add_argument("--users", type=int, default=10, help="concurrent users (ramp)")
    shape.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    shape.add_argument("--duration", default="30s", help="how long, e.g. 30s, 5m, 1h30m")
    shape.add_argument(
        "--shape", choices=[s.value for s in ShapeKind], default=ShapeKind.RAMP.value
    )
    shape.add_argument("--steps", metavar="USERSxDURATION,...", help="stages, e.g. 10x30s,20x1m")
    shape.add_argument("--rate", type=float, default=0.0, help="arrival shape: iterations/s")
    shape.add_argument(
        "--max-users", type=int, default=50, help="arrival shape: bound on concurrent iterations"
    )
    shape.add_argument(
        "--workload",
        type=Path,
        metavar="FILE",
        help="run a workload model (harness import access-log): its journey mix, its arrival "
        "rate (or curve, with --shape replay) and its think times",
    )
    shape.add_argument("--speed", metavar="N", help="replay N times faster than recorded (10x)")
    shape.add_argument(
        "--browser-users",
        type=int,
        default=1,
        metavar="B",
        help="web journeys at once, per process",
    )
    shape.add_argument(
        "--browser-cpus",
        default="auto",
        metavar="auto|none|LIST",
        help="cores for Chromium, which the generator then keeps off: auto (the last core when "
        "there are two or more), none, or a list such as 2,3",
    )
    shape.add_argument(
        "--browser-context",
        choices=("fresh", "reuse"),
        default=None,
        help="fresh (default): a new browser context per iteration, a new person; reuse: one "
        "context per virtual user, its cookies, storage and cache cleared between iterations",
    )
    shape.add_argument(
        "--browser-trace",
        action="store_true",
        help="record a Playwright trace of every web iteration, kept for failed steps (costs "
        "Chromium about a quarter more CPU per iteration; smoke and pytest always record it)",
    )
    shape.add_argument(
        "--max-iterations",
        type=int,
        default=1_000_000,
        help="iterations the run makes at most (one runs on both sides of a rehearsal); the "
        "run ends once they are done, or at --duration",
    )
    parser.add_argument(
        "--allow-production",
        action="append",
        default=[],
        metavar="NAME",
        help="send load to a target marked `production = true` in harness.toml; name it",
    )
    shape.add_argument(
        "--step-sample-rate",
        type=float,
        default=1.0,
        help="share of passed steps written to steps.jsonl (failures always are)",
    )
    shape.add_argument(
        "--max-error-rate",
        type=float,
        default=1.0,
        help="percent of failed iterations above which the run fails (default 1)",
    )
    where = parser.add_argument_group("distribution")
    where.add_argument("--processes", type=int, default=0, help="local worker processes")
    where.add_argument("--master", action="store_true", help="be the master of remote workers")
    where.add_argument("--worker", action="store_true", help="be a worker of --master-host")
    where.add_argument("--master-host", default="127.0.0.1")
    where.add_argument("--master-port", type=int, default=5557)
    where.add_argument("--expect-workers", type=int, default=1)
    where.add_argument(
        "--master-bind",
        default="127.0.0.1",
        metavar="ADDR",
        help="address the master listens on for workers (default 127.0.0.1; any other address "
        "needs a cluster key)",
    )
    where.add_argument(
        "--cluster-key",
        metavar="KEY",
        help="shared secret that master and workers prove to each other (at least 16 "
        "characters); prefer the HARNESS_CLUSTER_KEY environment variable, which ps does not show",
    )
    where.add_argument(
        "--master-wait",
        default="60s",
        metavar="D",
        help="a worker gives up when no master answers, or its master goes silent, this long "
        "(default 60s)",
    )
    parser.add_argument(
        "--flags",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="feature flags for every target, sent with each request (X-Feature-Flags) and "
        "read by journeys as j.flags, e.g. --flags new_checkout=on",
    )
    parser.add_argument("--web-ui", action="store_true", help="serve Locust's web UI too")
    parser.add_argument("--web-port", type=int, default=8089)
