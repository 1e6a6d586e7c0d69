"""Chromium keeps its sandbox where this process and kernel allow it, falls back without it
when a sandboxed launch fails, and run.json says which happened. Real Chromium."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.sandbox.process import SandboxUrls
from harness.touchpoints.chromium_sandbox import SandboxChoice, decide, user_namespaces
from harness.touchpoints.web import BrowserHost
from tests.integration.conftest import REPO, only_run_dir, run_cli

pytestmark = pytest.mark.integration


def test_smoke_records_whether_chromium_ran_with_its_sandbox(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    result = run_cli(
        "smoke", "--target", sandbox.base, "--journeys", str(REPO / "journeys"),
        "-k", "browse_and_buy", "--results", str(tmp_path), timeout=120,
    )  # fmt: skip
    assert result.code == 0, result.out + result.err
    run = json.loads((only_run_dir(tmp_path) / "run.json").read_text())
    # on this machine as root the sandbox is off ("running as root"); as a user, on
    assert run["browser"] == decide(os.geteuid(), user_namespaces()).as_dict()


@pytest.mark.skipif(os.geteuid() != 0, reason="a sandboxed launch fails only as root here")
def test_a_sandboxed_launch_that_fails_is_retried_without_the_sandbox() -> None:
    host = BrowserHost(sandbox=SandboxChoice(True, "told to try"))
    try:
        host.start()
        assert host.started
    finally:
        host.close()
    assert host.sandbox.sandbox is False
    assert "could not start its sandbox" in host.sandbox.reason
    assert "sandbox" in host.sandbox.reason.split("(", 1)[1]
