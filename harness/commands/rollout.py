"""`harness rollout`: a rehearsal whose traffic split changes by stage (the plan is
`harness.run.rollout.Rollout`). Exit 0 promoted, 1 rolled back, 3 a hook failed, 4 held for
want of evidence."""

from __future__ import annotations

import argparse

from harness.commands.requests import request_from_options
from harness.run.rollout import Rollout
from harness.run.session import Session


def run(options: argparse.Namespace) -> int:
    """Run the staged rollout; the exit code says how it ended."""
    request = request_from_options(options, "rollout")
    plan = Rollout(request)
    print(plan.announce(), flush=True)
    return Session(request).run(plan)
