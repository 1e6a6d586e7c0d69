"""The trace-completeness gate: in what share of journey traces did the target's own server spans
join the client's trace, candidate against baseline.

A proxy, load balancer or release that drops the W3C `traceparent` header leaves the target's
spans in traces of their own: every dashboard still looks healthy while the journeys can no
longer be followed into the target. This gate catches that. It reads the run's span files
(`trace-joins.json`, counted before the traces were sampled; for older folders `traces.jsonl` and
`traces/*.jsonl` not yet merged): a journey trace is a root span
`journey <name>` with its `harness.target`; it joined when any span of that trace id is a server
span. When the baseline's traces never join (a target that exports no spans to the run, or a run
without traces) there is nothing to compare and the gate passes, saying so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar, Literal

from harness.folder_io import lines, present
from harness.gates.base import GateBase
from harness.gates.data import RunData
from harness.gates.family import gate_alpha, level_words
from harness.gates.outcome import Decision, Evidence, GateOutcome, needed_to_decide, unjudged
from harness.gates.values import parse_share
from harness.telemetry.joins import TraceJoin, join_counts, read_joins

# The field order of the OTLP JSON lines the harness and the sandbox write (ids, the parent's id
# before or after the name, then kind and start): a regex scan is about 7 times faster than
# parsing 150 MB of JSON.
_IDS = rb'"traceId":"([0-9a-f]{32})","spanId":"[0-9a-f]{16}",(?:"parentSpanId":"[0-9a-f]{16}",)?'
_JOURNEY = re.compile(
    _IDS + rb'"name":"journey [^"]*","kind":\d,"startTimeUnixNano":"(\d+)"'
    rb'[^\]]*?"harness\.target","value":\{"stringValue":"([^"]*)"'
)
_SERVER = re.compile(_IDS + rb'"name":"[^"]*","kind":2,')


def read_trace_joins(run_dir: Path) -> list[TraceJoin]:
    """Every journey trace of a run folder with whether the target's spans joined it: counted
    before sampling (`trace-joins.json`, or the journey indexes of a run that was not
    settled); for a folder from before those, read from its span files."""
    counted = read_joins(run_dir)
    if counted is not None:
        return counted
    files = [run_dir / "traces.jsonl", *sorted((run_dir / "traces").glob("*.jsonl"))]
    roots: dict[bytes, tuple[str, float]] = {}
    joined: set[bytes] = set()
    for path in files:
        if not present(path):
            continue
        for line in lines(path):  # bounded; a torn last line of a killed process is skipped
            for match in _SERVER.finditer(line):
                joined.add(match.group(1))
            if b'"name":"journey ' in line:
                for match in _JOURNEY.finditer(line):
                    roots[match.group(1)] = (
                        match.group(3).decode("utf-8", "replace"),
                        int(match.group(2)) / 1e9,
                    )
    return [TraceJoin(target, start, trace in joined) for trace, (target, start) in roots.items()]


def joins_of(data: RunData) -> list[TraceJoin]:
    """The journey traces of `data`: given with it (a window of a run), or read from its run
    folder once and kept."""
    if data.trace_joins is None:
        data.trace_joins = read_trace_joins(data.run_dir) if data.run_dir is not None else []
    return list(data.trace_joins)


def shares(joins: Iterable[TraceJoin], target: str) -> tuple[int, int]:
    """(joined, journey traces) of one target."""
    return join_counts(joins, target)


class TraceCompletenessGate(GateBase):
    """Share of the candidate's journey traces joined by the target's server spans, against the
    baseline's; fails on a drop beyond `max_drop` percentage points (Newcombe interval)."""

    kind: Literal["trace_completeness"] = "trace_completeness"
    max_drop: str | float = "5pp"
    level: float = 0.99
    comparing: ClassVar[bool] = True

    def evaluate(self, data: RunData) -> GateOutcome:
        """Judge the candidate's share of joined journey traces against the baseline's."""
        from harness.gates.stats import newcombe_difference

        refused = self.without_baseline(data)
        if refused is not None:
            return refused
        assert data.baseline is not None
        label = "journey traces joined by the target's spans"
        incomplete = [part for part in data.meta.get("incomplete_evidence", []) if "span" in part]
        if incomplete:
            return self.outcome(
                [
                    Evidence(
                        series=label,
                        decision=Decision.INCONCLUSIVE,
                        test="Newcombe",
                        n_candidate=0,
                        judged=False,
                        words=f"{label}: not judged, the spans are incomplete: "
                        + "; ".join(incomplete),
                    )
                ]
            )
        joins = joins_of(data)
        sb, nb = shares(joins, data.baseline)
        sc, nc = shares(joins, data.candidate)
        minimum = self.min_samples or 50
        if nb and sb == 0:
            return self.outcome(
                [
                    Evidence(
                        series=label,
                        decision=Decision.PASS,
                        test="not applicable",
                        n_baseline=nb,
                        n_candidate=nc,
                        words=f"not applicable: none of the baseline's {nb:,} journey traces holds "
                        "a span of the target (it exports none to this run)",
                    )
                ]
            )
        if not nb and not nc:
            return self.outcome(
                [
                    Evidence(
                        series=label,
                        decision=Decision.PASS,
                        test="not applicable",
                        n_candidate=0,
                        words="not applicable: the run recorded no journey traces",
                    )
                ]
            )
        if min(nb, nc) < minimum:
            return self.outcome(
                [
                    unjudged(
                        series=label,
                        what=label,
                        test="Newcombe",
                        n_baseline=nb,
                        n_candidate=nc,
                        n_needed=minimum,
                        counts="traces",
                    )
                ]
            )
        max_drop = parse_share(self.max_drop, what=f"{self.title()}: max_drop")
        level = self.level
        diff, interval = newcombe_difference(sb, nb, sc, nc, level=self.level)
        drop, low, high = -diff, -interval.high, -interval.low
        fail_level = 1.0 - 2.0 * gate_alpha(self, self.level)
        strict = newcombe_difference(sb, nb, sc, nc, level=fail_level)[1]
        needed = None
        if -strict.high > max_drop:  # beyond the limit at the gate's alpha
            decision, low, high, level = Decision.FAIL, -strict.high, -strict.low, fail_level
        elif high <= max_drop:  # within it on the evidence, not on the estimate alone
            decision = Decision.PASS
        else:
            decision = Decision.INCONCLUSIVE
            needed = needed_to_decide(min(nb, nc), drop, (low, high), max_drop)
        words = (
            f"{label}: {sb / nb:.1%} → {sc / nc:.1%} (drop {drop * 100:+.1f} pp, "
            f"{level_words(level)} CI {low * 100:+.1f} to {high * 100:+.1f} pp, limit "
            f"{max_drop * 100:.1f} pp, n = {nb:,} / {nc:,})"
            + (f"; about {needed:,} traces per side would decide it" if needed else "")
        )
        return self.outcome(
            [
                Evidence(
                    series=label,
                    decision=decision,
                    test="Newcombe difference",
                    n_baseline=nb,
                    n_candidate=nc,
                    baseline=sb / nb,
                    candidate=sc / nc,
                    estimate=drop,
                    interval=(low, high),
                    level=level,
                    unit="pp",
                    words=words,
                    n_needed=needed,
                    counts="traces",
                )
            ]
        )
