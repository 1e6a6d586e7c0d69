"""`harness load`: journeys as weighted Locust users — locally, over `--processes N`, or as the
master or a worker of a distributed run. Its plan is `harness.run.load_judge.Load`."""

from __future__ import annotations

import argparse

from harness.commands.requests import request_from_options
from harness.run.load_judge import Load
from harness.run.session import Session


def run(options: argparse.Namespace) -> int:
    """Run the load command; returns the exit code."""
    request = request_from_options(options, "load")
    return Session(request).run(Load(request))
