"""An unreachable OTLP endpoint (refused, or a socket that never answers) cannot hold a run: the
run ends within its bound, and the local trace file keeps every span. Run alone: the bound is on
wall time, which a test beside it would stretch."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from harness.sandbox.process import SandboxUrls
from harness.telemetry.otlp_json import read_spans
from tests.integration.conftest import only_run_dir, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.alone]


@pytest.mark.parametrize("endpoint", ["refused", "silent"])
def test_an_unreachable_otlp_endpoint_cannot_hold_the_run(
    endpoint: str, sandbox: SandboxUrls, tmp_path: Path
) -> None:
    # "refused": nothing listens (connection refused at once, retried with backoff by the SDK);
    # "silent": a socket that accepts connections and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"http://127.0.0.1:{silent.getsockname()[1] if endpoint == 'silent' else 1}"
        started = time.monotonic()
        result = run_cli(
            "load", "--target", sandbox.base, "-k", "api_catalog", "--users", "2",
            "--duration", "4s", "--browser-users", "0", "--results", str(tmp_path),
            "--otlp-endpoint", url, timeout=120,
        )  # fmt: skip
        took = time.monotonic() - started
    assert result.code == 0, result.out + result.err
    assert took < 4 + 15, f"the run took {took:.0f} s"
    run_dir = only_run_dir(tmp_path)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["spans"]["otlp_unsent"] > 0 and run["spans"]["otlp_sent"] == 0
    assert "Spans not sent:" in (run_dir / "summary.md").read_text()
    assert "spans were not sent to the OTLP endpoint" in result.out
    # The local file has every kept span regardless.
    roots = [s for s in read_spans(run_dir / "traces.jsonl") if s.name.startswith("journey ")]
    assert len(roots) == run["spans"]["kept"]
