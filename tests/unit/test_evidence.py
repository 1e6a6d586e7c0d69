"""The evidence a verdict rests on: every journey trace counted before sampling, the target's
spans cut to the kept traces, OTLP delivery bounded and counted, step records written whole."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from harness.engine.collector import REQUESTS_SHOWN, LoadCollector
from harness.gates.traces import read_trace_joins
from harness.records import Outcome, RequestRecord, StepRecord, Touchpoint, record_json
from harness.telemetry.joins import JOINS_FILE, index_line, settle
from harness.telemetry.otlp_shipper import OtlpShipper
from harness.telemetry.spool import EndedSpan

# At a rate of 0.5, A and B are sampled at the root (their low 64 bits under 2**63), the rest not.
HIGH = 1 << 63
A, B, C, D, E, ORPHAN = (
    f"{n:032x}" for n in (0xA1, 0xB2, HIGH | 0xC3, HIGH | 0xD4, HIGH | 0xE5, (1 << 64) - 1)
)


def _span(trace: str, kind: int, name: str = "GET /x") -> dict[str, object]:
    return {
        "traceId": trace,
        "spanId": "1" * 16,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": "1",
        "endTimeUnixNano": "2",
    }


def _line(*spans: dict[str, object]) -> str:
    scope = {"scope": {"name": "shop"}, "spans": list(spans)}
    resource = {"resource": {"attributes": []}, "scopeSpans": [scope]}
    return json.dumps({"resourceSpans": [resource]}, separators=(",", ":")) + "\n"


def test_every_journey_trace_is_counted_before_the_targets_spans_are_cut(tmp_path: Path) -> None:
    traces = tmp_path / "traces"
    traces.mkdir()
    # Five journeys: A and B kept by the sampler, C, D and E dropped; the target's server spans
    # joined A, C and D (B's request lost its traceparent), plus an orphan trace of its own.
    # C and D were not sampled at their root, yet joined: the target records every trace, so E
    # counts too, unjoined.
    (traces / "journeys-1.tsv").write_text(
        index_line(int(A, 16), "baseline", 1_000_000_000, True)
        + index_line(int(B, 16), "candidate", 2_000_000_000, True)
        + index_line(int(C, 16), "baseline", 3_000_000_000, False)
        + index_line(int(D, 16), "candidate", 4_000_000_000, False)
        + index_line(int(E, 16), "candidate", 5_000_000_000, False)
        + "torn"
    )
    (traces / "sandbox.jsonl").write_text(
        _line(_span(A, 2), _span(C, 2), _span(C, 3, "SELECT"))
        + _line(_span(D, 2))
        + _line(_span(ORPHAN, 2))
    )
    assert settle(tmp_path, sample_rate=0.5) == 5

    joins = sorted(read_trace_joins(tmp_path), key=lambda j: j.started_at)
    assert [(j.target, j.joined) for j in joins] == [
        ("baseline", True),
        ("candidate", False),
        ("baseline", True),
        ("candidate", True),
        ("candidate", False),
    ]
    kept = [json.loads(line) for line in (traces / "sandbox.jsonl").read_text().splitlines()]
    ids = [s["traceId"] for d in kept for r in d["resourceSpans"] for sc in r["scopeSpans"]
           for s in sc["spans"]]  # fmt: skip
    assert ids == [A]  # C's and D's spans went with their dropped traces; the orphan unsampled
    assert not list(traces.glob("journeys-*.tsv")) and (tmp_path / JOINS_FILE).is_file()


def test_joins_are_read_from_an_unsettled_run_too(tmp_path: Path) -> None:
    # A run killed before its end leaves the indexes: the gate still counts every trace.
    traces = tmp_path / "traces"
    traces.mkdir()
    (traces / "journeys-7.tsv").write_text(
        index_line(int(A, 16), "baseline", 1, False) + index_line(int(B, 16), "baseline", 2, True)
    )
    (traces / "sandbox.jsonl").write_text(_line(_span(A, 2)))
    assert sorted(j.joined for j in read_trace_joins(tmp_path)) == [False, True]


class _Exporter(SpanExporter):
    def __init__(self, result: SpanExportResult, delay_s: float = 0.0) -> None:
        self.result, self.delay_s, self.calls = result, delay_s, 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        time.sleep(self.delay_s)
        return self.result

    def shutdown(self) -> None:
        pass


def _rows(n: int) -> list[EndedSpan]:
    return [EndedSpan(1, i + 1, 0, "s", 1, 0, 1, {}, 0, None, ()) for i in range(n)]


def _build(row: EndedSpan) -> ReadableSpan:
    return ReadableSpan(name=row.name)


def test_a_failing_endpoint_is_given_up_after_a_few_tries_and_every_span_counted() -> None:
    exporter = _Exporter(SpanExportResult.FAILURE)
    shipper = OtlpShipper(exporter, _build)
    for _ in range(10):
        shipper.put(_rows(5))
        time.sleep(0.01)
    shipper.close(grace_s=2.0)
    assert (shipper.sent, shipper.unsent) == (0, 50)
    assert exporter.calls == 3 and shipper.error


def test_a_hanging_endpoint_cannot_hold_the_end_of_a_run() -> None:
    exporter = _Exporter(SpanExportResult.SUCCESS, delay_s=30.0)
    shipper = OtlpShipper(exporter, _build)
    shipper.put(_rows(4))
    shipper.put(_rows(6))
    started = time.monotonic()
    shipper.close(grace_s=0.5)
    assert time.monotonic() - started < 2.0
    assert (shipper.sent, shipper.unsent) == (0, 10)
    assert "0.5 s" in (shipper.error or "")


def test_a_working_endpoint_gets_every_span() -> None:
    exporter = _Exporter(SpanExportResult.SUCCESS)
    shipper = OtlpShipper(exporter, _build)
    threads = [threading.Thread(target=shipper.put, args=(_rows(3),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shipper.close()
    assert (shipper.sent, shipper.unsent, shipper.error) == (12, 0, None)


def _step_record() -> StepRecord:
    return StepRecord(
        run_id="r",
        target="t",
        journey="j",
        step="s",
        index=0,
        touchpoint=Touchpoint.API,
        worker=0,
        user=1,
        iteration=2,
        started_at=1.5,
        duration_ms=3.0,
        outcome=Outcome.PASSED,
        requests=(
            RequestRecord(method="GET", url="http://x/", status=200, duration_ms=2.0),
            RequestRecord(method="GET", url="http://x/", status=None, duration_ms=5.0),
        ),
    )


def test_a_step_line_leaves_out_what_is_empty_and_reads_back_the_same() -> None:
    record = _step_record()
    line = record_json(record)
    assert "null" not in line and "artifacts" not in line and '"kind":"step"' in line
    assert '"outcome":"passed"' in line  # what stream readers match on
    assert StepRecord.model_validate_json(line) == record
    assert len(line) < len(record.model_dump_json()) * 0.85


def test_a_load_lists_a_passing_steps_requests_only_until_it_has_examples() -> None:
    collector = LoadCollector()
    base = _step_record()
    for i in range(REQUESTS_SHOWN + 10):
        collector.step_finished(base.model_copy(update={"iteration": i}))
        if i % 7 == 0:  # deltas go out now and then: the count is per process, not per delta
            collector.take_delta()
    failed = base.model_copy(update={"outcome": Outcome.FAILED, "iteration": 99})
    collector.step_finished(failed)
    collector2 = LoadCollector()
    for i in range(REQUESTS_SHOWN + 10):
        collector2.step_finished(base.model_copy(update={"iteration": i}))
    collector2.step_finished(failed)
    lines = collector2.take_delta()["lines"]
    records = [StepRecord.model_validate_json(line) for line in lines]
    assert len(records) == REQUESTS_SHOWN + 11  # every step has its line
    assert [bool(r.requests) for r in records] == [True] * REQUESTS_SHOWN + [False] * 10 + [True]
    assert sum(bool(json.loads(line).get("requests")) for line in lines) == REQUESTS_SHOWN + 1
    kept = collector.take_delta()["lines"]
    assert json.loads(kept[-1])["requests"]  # the failed one, after 30 passed ones
    assert not json.loads(kept[-2]).get("requests")


def test_a_target_that_honours_the_flag_is_judged_on_the_sampled_traces(tmp_path: Path) -> None:
    traces = tmp_path / "traces"
    traces.mkdir()
    # A sampled and joined; B sampled, its traceparent lost; C and E not sampled at the root and
    # (as their traceparent asked) not recorded by the target: not counted as missing.
    sides = [(A, "baseline"), (B, "candidate"), (C, "baseline"), (E, "candidate")]
    (traces / "journeys-1.tsv").write_text(
        "".join(
            index_line(int(t, 16), side, n * 1_000_000_000, t in (A, B))
            for n, (t, side) in enumerate(sides)
        )
    )
    (traces / "sandbox.jsonl").write_text(_line(_span(A, 2)))
    assert settle(tmp_path, sample_rate=0.5) == 2
    joins = sorted(read_trace_joins(tmp_path), key=lambda j: j.started_at)
    assert [(j.target, j.joined) for j in joins] == [("baseline", True), ("candidate", False)]
