"""The trace-completeness gate: span files written as the harness writes them, read back into
journey traces, and judged candidate against baseline."""

from __future__ import annotations

import json
from pathlib import Path

from harness.gates.config import DEFAULT_GATES, parse_gates
from harness.gates.data import RunData
from harness.gates.outcome import Decision
from harness.gates.traces import TraceCompletenessGate, TraceJoin, read_trace_joins
from harness.telemetry.hdr import HdrStore


def _span(
    trace: str, name: str, kind: int, start: int, target: str | None = None, parent: str = ""
) -> dict:
    attributes = [{"key": "user_agent.synthetic.type", "value": {"stringValue": "test"}}]
    if target is not None:
        attributes.append({"key": "harness.target", "value": {"stringValue": target}})
    ids = {"traceId": trace, "spanId": "0123456789abcdef"}
    if parent:  # the span writers differ on where the parent's id goes: before the name here
        ids["parentSpanId"] = parent
    return {
        **ids,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 1000),
        "attributes": attributes,
        "status": {"code": 0},
    }


def _line(spans: list[dict]) -> str:
    message = {
        "resourceSpans": [
            {
                "resource": {"attributes": []},
                "scopeSpans": [{"scope": {"name": "x", "version": ""}, "spans": spans}],
            }
        ]
    }
    return json.dumps(message, separators=(",", ":")) + "\n"


def test_read_trace_joins_from_the_run_file_and_unmerged_parts(tmp_path: Path) -> None:
    harness_spans = [
        _span(f"{i:032x}", "journey api_catalog", 1, 1_700_000_000 * 10**9 + i, "baseline")
        for i in range(4)
    ]
    (tmp_path / "traces.jsonl").write_text(_line(harness_spans) + '{"torn": ')
    (tmp_path / "traces").mkdir()
    server = [_span(f"{0:032x}", "POST /api/v1/orders", 2, 1)]  # parent's id at the end
    server[0]["parentSpanId"] = "fedcba9876543210"
    server.append(_span(f"{2:032x}", "GET /api/v1/orders", 2, 1, parent="fedcba9876543210"))
    (tmp_path / "traces" / "sandbox-baseline.jsonl").write_text(_line(server))
    joins = sorted(read_trace_joins(tmp_path), key=lambda j: j.started_at)
    assert [j.joined for j in joins] == [True, False, True, False]
    assert {j.target for j in joins} == {"baseline"}
    assert abs(joins[0].started_at - 1_700_000_000) < 1e-3


def _data(joins: list[TraceJoin]) -> RunData:
    return RunData(
        candidate="candidate",
        baseline="baseline",
        hdr=HdrStore(),
        journeys={},
        step_failures={},
        step_order={},
        windows={},
        failed_traces={},
        slow_traces={},
        timeline=[],
        trace_joins=joins,
    )


def _joins(target: str, n: int, joined: int) -> list[TraceJoin]:
    return [TraceJoin(target, float(i), i < joined) for i in range(n)]


def test_dropped_traceparent_fails_and_identical_sides_pass() -> None:
    gate = TraceCompletenessGate()
    dropped = gate.evaluate(_data(_joins("baseline", 500, 500) + _joins("candidate", 500, 0)))
    assert dropped.decision is Decision.FAIL
    assert "100.0% → 0.0%" in dropped.summary
    same = gate.evaluate(_data(_joins("baseline", 500, 497) + _joins("candidate", 500, 495)))
    assert same.decision is Decision.PASS


def test_too_few_traces_is_inconclusive_and_an_uninstrumented_target_is_not_judged() -> None:
    gate = TraceCompletenessGate()
    few = gate.evaluate(_data(_joins("baseline", 20, 20) + _joins("candidate", 20, 0)))
    assert few.decision is Decision.INCONCLUSIVE
    dark = gate.evaluate(_data(_joins("baseline", 500, 0) + _joins("candidate", 500, 0)))
    assert dark.decision is Decision.PASS and "not applicable" in dark.summary
    nothing = gate.evaluate(_data([]))
    assert nothing.decision is Decision.PASS and "no journey traces" in nothing.summary


def test_it_is_a_default_gate() -> None:
    kinds = [g.kind for g in parse_gates(DEFAULT_GATES)]
    assert "trace_completeness" in kinds
