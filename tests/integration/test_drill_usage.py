"""`harness drill`'s usage errors and warnings, which read no verdict and so run beside other
tests: a malformed fault spec, and a target drilled against itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.sandbox.process import SandboxUrls
from tests.integration.conftest import run_cli
from tests.integration.test_drill import PROTOCOL

pytestmark = [pytest.mark.integration]


def test_a_malformed_fault_spec_is_a_usage_error() -> None:
    result = run_cli("drill", "--sandbox", "--fault", "latency:api.orders.create=fast")
    assert result.code == 2
    assert "is not a duration" in result.err and "Example:" in result.err
    assert "Traceback" not in result.err


def test_a_target_drilled_against_itself_warns_when_its_baseline_side_fails(
    tmp_path: Path, sandbox: SandboxUrls
) -> None:
    # One deployment for both sides: both replay the same synthetic people, so accounts collide.
    result = run_cli(
        "drill",
        "--target",
        sandbox.base,
        *PROTOCOL,
        "-k",
        "api_catalog",
        "--duration",
        "6s",
        "--fault",
        "traceparent:*=drop",
        "--results",
        str(tmp_path),
    )
    output = result.out + result.err
    assert "WARNING: the baseline side failed" in output and "--baseline T2" in output
    assert "behind the drill proxy" in output
