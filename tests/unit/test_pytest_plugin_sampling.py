"""The pytest plugin's session samples journey traces at the rate `OTEL_TRACES_SAMPLER` sets,
and cuts the target's spans to the same rate when it merges them."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from harness.pytest_plugin.state import HarnessSession


def test_the_merge_of_the_targets_spans_uses_the_sessions_sample_rate(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    config = pytester.parseconfig("--harness", "--harness-target", "http://127.0.0.1:9")
    session = HarnessSession(config)
    assert session.request.tracing.sample_rate == 0.25
    merged: dict[str, Any] = {}

    def merge(run_dir: Path, stack: ExitStack, **options: Any) -> Path:
        merged.update(options)
        return run_dir / "traces" / "sandbox.jsonl"

    import harness.run.evidence
    import harness.run.targets

    monkeypatch.setattr(harness.run.evidence, "merge_traces_on_exit", merge)
    monkeypatch.setattr(harness.run.targets, "check_reachable", lambda target: None)
    session.run_path = tmp_path / "run"
    target = session._resolve_target()
    assert target.web == "http://127.0.0.1:9/"
    assert merged["sample_rate"] == 0.25
