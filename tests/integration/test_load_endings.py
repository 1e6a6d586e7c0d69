"""`harness load` with a journey that never finishes, judged on what the run records and not on
a verdict (so it runs beside other tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.sandbox.process import SandboxUrls
from tests.integration.conftest import only_run_dir, run_cli

pytestmark = [pytest.mark.integration]


NEVER_FINISHES = """
import time
from harness import journey


@journey
def quick(j):
    with j.step("look", on="api"):
        j.api.get("/products")


@journey
def stuck(j):
    with j.step("wait", on="api"):
        time.sleep(60)
"""


def test_a_journey_that_never_finishes_is_listed_with_zero_and_fails_the_load(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "two.py").write_text(NEVER_FINISHES)
    result = run_cli(
        "load", "--target", sandbox.base, "--journeys", "j", "--users", "2", "--duration", "3s",
        "--browser-users", "0", "--results", str(tmp_path / "results"), cwd=tmp_path, html=True,
    )  # fmt: skip
    assert result.code == 1, result.out + result.err
    # its one iteration was still in its step when the load stopped: cut off, not "never ran"
    assert "journey `stuck` finished no iteration (1 cut off by the end of the load)" in result.out
    run_dir = only_run_dir(tmp_path / "results")
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "failed" and run["never_ran"] == ["stuck"] and run["cut_off"] == 1
    assert "| stuck | — | 0 | 0 | 1 | none finished |" in (run_dir / "summary.md").read_text()
    listed = json.loads((run_dir / "summary.json").read_text())["journeys"]
    assert {j["journey"]: (j["iterations"], j["cut_off"]) for j in listed}["stuck"] == (0, 1)
    assert 'message="none finished: 0 iterations, 1 cut off"' in (run_dir / "junit.xml").read_text()
    assert "none finished: 0 iterations, 1 cut off" in (run_dir / "report.html").read_text()
