"""The smoke driver: every selected journey once, in this process, one after another."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from harness.journey import Journey
from harness.records import IterationRecord
from harness.runtime import RunSettings, RunSink
from harness.virtual_user import VirtualUser, browser_host_for

if TYPE_CHECKING:
    from harness.touchpoints.chromium_sandbox import SandboxChoice
    from harness.touchpoints.web import BrowserHost


def run_smoke(
    journeys: Sequence[Journey],
    settings: RunSettings,
    sink: RunSink,
    *,
    headless: bool = True,
    browser_seen: Callable[[SandboxChoice], None] | None = None,
) -> list[IterationRecord]:
    """Run each journey once as its own virtual user (iteration 0); return the iterations.

    One Chromium serves every web journey and is closed at the end, also on errors. Once it has
    been launched, `browser_seen` is told whether it ran with its sandbox.
    """
    results: list[IterationRecord] = []
    hosts: list[BrowserHost] = []
    with browser_host_for(headless=headless) as browser:

        def tracked() -> BrowserHost:
            host = browser()
            if not hosts:
                hosts.append(host)
            return host

        try:
            for index, journey in enumerate(journeys):
                user = VirtualUser(index=index, settings=settings, sink=sink, browser=tracked)
                try:
                    results.append(user.run_iteration(journey, iteration=0))
                finally:
                    user.close()
        finally:
            if browser_seen is not None and hosts and hosts[0].started:
                browser_seen(hosts[0].sandbox)
    return results
