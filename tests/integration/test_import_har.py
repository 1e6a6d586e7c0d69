"""`harness import har` end to end: a HAR that Playwright records (`record_har_path`, real
Chromium) while the sample `browse_and_buy` journey runs against the sandbox becomes a module
that passes `ruff check` and `harness smoke --sandbox`, the same bytes on a second import.
(Think time at load is checked in `test_workload_replay.py`, on the same budget.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.sandbox.process import SandboxUrls
from tests.integration.conftest import REPO, only_run_dir, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.browser]

RUFF = Path(sys.executable).with_name("ruff")


@pytest.fixture(scope="module")
def recorded(sandbox: SandboxUrls, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One HAR of `browse_and_buy` against the session's sandbox."""
    har = tmp_path_factory.mktemp("har") / "browse_and_buy.har"
    done = subprocess.run(
        [sys.executable, str(REPO / "tests/integration/record_har.py"), sandbox.base, str(har)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return har


def test_a_recorded_journey_imports_and_runs_as_it_stands(recorded: Path, tmp_path: Path) -> None:
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    module = journeys / "bought.py"
    result = run_cli("import", "har", str(recorded), "--name", "bought", "-o", str(module))
    assert result.code == 0, result.out + result.err
    first = module.read_bytes()
    again = run_cli("import", "har", str(recorded), "--name", "bought", "-o", str(module))
    assert again.code == 0 and module.read_bytes() == first

    source = first.decode()
    assert "j.user.email" in source and "j.synth.card.number" in source
    assert "j.vars['orders_id']" in source  # the order the checkout created, not a constant
    lint = subprocess.run(
        [str(RUFF), "check", "--no-cache", str(module)], capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr

    smoked = tmp_path / "smoke"
    smoke = run_cli("smoke", "--sandbox", "--journeys", str(journeys), "--results", str(smoked))
    assert smoke.code == 0, smoke.out + smoke.err
    passed = [r for r in _records(smoked) if r["kind"] == "step" and r["outcome"] == "passed"]
    assert len(passed) >= 6


def _records(results: Path) -> list[dict[str, object]]:
    lines = (only_run_dir(results) / "steps.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]
