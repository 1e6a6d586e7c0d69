"""`harness smoke` (and `harness demo`): every selected journey once, in this process (the
session's `smoke`, `harness.run.smoke`)."""

from __future__ import annotations

import argparse

from harness.commands.requests import request_from_options
from harness.run.session import Session


def run(options: argparse.Namespace) -> int:
    """Run the smoke command; returns the exit code."""
    return Session(request_from_options(options, "smoke")).smoke()
