"""Chromium dies in the middle of a web step: that iteration fails as a browser error (recorded
like any other failure), and the next iteration gets a freshly launched Chromium."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from harness import journey
from harness.journey import journeys_in
from harness.records import Outcome
from harness.runtime import RunSettings
from harness.sandbox.process import SandboxUrls
from harness.targets import Target
from harness.testing import RecordingSink
from harness.touchpoints.web import BrowserHost
from harness.virtual_user import VirtualUser, browser_host_for


def _kill_chromium() -> int:
    doomed = [p for p in psutil.Process().children(recursive=True) if "chrom" in p.name().lower()]
    for process in doomed:
        process.send_signal(signal.SIGKILL)
    psutil.wait_procs(doomed, timeout=10)
    time.sleep(0.5)  # let Playwright notice the disconnection
    return len(doomed)


@journey
def crash_midway(j):
    with j.step("open", on="web"):
        j.web.goto("/")
    with j.step("after the crash", on="web"):
        assert _kill_chromium() > 0
        j.web.goto("/")


@journey
def browse(j):
    with j.step("open", on="web"):
        j.web.goto("/")
        j.web.expect_visible("[data-testid=product-link]")


def test_a_crashed_chromium_fails_its_iteration_and_is_launched_again(
    sandbox: SandboxUrls,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    # a Chromium killed outright leaves its profile's lock folder (org.chromium.Chromium.*)
    # in the temporary folder: this test's own, removed after it (a short path: Chromium's
    # lock socket must fit a Unix socket's 108 characters, and tmp_path's does not)
    scratch = tempfile.mkdtemp(prefix="crash-")
    monkeypatch.setenv("TMPDIR", scratch)  # Playwright's driver and Chromium inherit it
    request.addfinalizer(lambda: shutil.rmtree(scratch, ignore_errors=True))
    sink = RecordingSink()
    settings = RunSettings(
        run_id="crash",
        target=Target.from_base_url(sandbox.base, name="sandbox"),
        artifacts_dir=tmp_path,
        action_timeout=3.0,
        navigation_timeout=5.0,
    )
    with browser_host_for() as browser:
        host: Callable[[], BrowserHost] = browser
        user = VirtualUser(index=0, settings=settings, sink=sink, browser=host)
        crashed = user.run_iteration(journeys_in({"j": crash_midway})[0], 0)
        after = user.run_iteration(journeys_in({"j": browse})[0], 1)
        restarts = host().restarts
    assert crashed.outcome is Outcome.FAILED
    assert crashed.failed_step == "after the crash" and crashed.error_kind == "browser", (
        crashed.message
    )
    assert [s.outcome for s in sink.steps[:2]] == [Outcome.PASSED, Outcome.FAILED]
    assert after.outcome is Outcome.PASSED, after.message
    assert restarts == 1


def test_closing_the_host_cancels_actions_still_waiting_on_the_browser() -> None:
    # An iteration cut off at the run's end leaves an action waiting on the browser loop; the
    # host's close cancels it, where the loop used to be closed over the pending task ("Task was
    # destroyed but it is pending!" at every demo's exit).
    import asyncio

    host = BrowserHost()
    host.start()
    try:
        assert host._loop is not None
        stuck = asyncio.run_coroutine_threadsafe(asyncio.sleep(3600), host._loop)
    finally:
        host.close()
    assert stuck.cancelled()
