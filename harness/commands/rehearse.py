"""`harness rehearse`: baseline and candidate driven at once with the same journeys and the
same synthetic people, interleaved; then the gates and a verdict (plans in
`harness.run.rehearsal`). `harness gates` and `harness compare`, which judge stored runs, are in
`harness.commands.stored`."""

from __future__ import annotations

import argparse

from harness.commands.requests import request_from_options
from harness.run.rehearsal import FlagMatrix, Rehearsal
from harness.run.session import Session


def run(options: argparse.Namespace) -> int:
    """Run the rehearsal (or `--flag-matrix`); the exit code is the verdict's."""
    request = request_from_options(options, "rehearse")
    plan = FlagMatrix(request) if request.sides.flag_matrix else Rehearsal(request)
    return Session(request).run(plan)
