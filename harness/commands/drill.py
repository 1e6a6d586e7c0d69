"""`harness drill`: rehearse a target against itself with known faults injected between the
harness and the candidate side, and report which gates caught which fault, how fast, and how
often the gates raise false alarms (`--aa`). The drill itself is `harness.run.drill`."""

from __future__ import annotations

import argparse

from harness.commands.requests import request_from_options
from harness.run.drill import run_drill


def run(options: argparse.Namespace) -> int:
    """Run every fault's drill (or the A/A runs); exit 1 when the gates are blind to a fault or
    cried wolf, 0 otherwise."""
    return run_drill(request_from_options(options, "drill"))
