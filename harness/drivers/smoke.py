"""The smoke driver: every selected journey once, in this process, one after another."""

from __future__ import annotations

from collections.abc import Sequence

from harness.journey import Journey
from harness.records import IterationRecord
from harness.runtime import RunSettings, RunSink, VirtualUser, browser_host_for


def run_smoke(
    journeys: Sequence[Journey],
    settings: RunSettings,
    sink: RunSink,
    *,
    headless: bool = True,
) -> list[IterationRecord]:
    """Run each journey once as its own virtual user (iteration 0); return the iterations.

    One Chromium serves every web journey and is closed at the end, also on errors.
    """
    results: list[IterationRecord] = []
    with browser_host_for(headless=headless) as browser:
        for index, journey in enumerate(journeys):
            user = VirtualUser(index=index, settings=settings, sink=sink, browser=browser)
            try:
                results.append(user.run_iteration(journey, iteration=0))
            finally:
                user.close()
    return results
