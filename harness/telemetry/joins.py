"""Trace joins counted before sampling, and the target's spans cut to the sampled traces.

A run keeps only a share of its journey traces (every failed one, the slowest, and
`--trace-sample` of the rest), but the trace-completeness gate must count every journey trace:
did any of the target's server spans join it? So each span sidecar writes one line per journey
trace it saw, kept or not, to a journey index (`traces/journeys-<pid>.tsv`: trace id, target,
start, kept). At the run's end `settle` reads those indexes and every target span file once:
it notes which traces a server span joined, writes them to `trace-joins.json` (what the
gate reads: every trace sampled at its root, whose `traceparent` asked the target to record it,
and the others too when the targets record such traces anyway), and keeps of the target's spans
only those of kept traces (and the same sampled share of spans outside any journey trace), so
the stored traces stay whole on both sides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from harness.folder_io import lines, parsed, present
from harness.telemetry.otel_env import ratio_bound

INDEX_GLOB = "journeys-*.tsv"
JOINS_FILE = "trace-joins.json"
# The field order of the OTLP JSON lines the harness and the sandbox write: the trace id first,
# then the span id, the parent's id or not, the name and the kind. A regex scan is about 7 times
# faster than parsing the JSON.
_SPAN = re.compile(
    rb'"traceId":"([0-9a-f]{32})","spanId":"[0-9a-f]{16}",(?:"parentSpanId":"[0-9a-f]{16}",)?'
    rb'"name":"(?:[^"\\]|\\.)*","kind":(\d)'
)
_SERVER = b"2"


@dataclass(frozen=True)
class TraceJoin:
    """One journey trace: which target it ran against, when it started, and whether any of the
    target's server spans joined it."""

    target: str
    started_at: float
    joined: bool


@dataclass(frozen=True)
class _Root:
    target: str
    started_at: float
    kept: bool


def index_line(trace_id: int, target: str, start_ns: int, kept: bool) -> str:
    """One journey index line (tab-separated; a target name holds no tab or newline)."""
    clean = target.replace("\t", " ").replace("\n", " ")
    return f"{trace_id:032x}\t{clean}\t{start_ns}\t{int(kept)}\n"


def head_sampled(trace_id: int, bound: int) -> bool:
    """The root sampler's decision (OpenTelemetry's `TraceIdRatioBased`: the trace id's low
    64 bits under `bound`, from `otel_env.ratio_bound`), which `traceparent` carries."""
    return trace_id & 0xFFFFFFFFFFFFFFFF < bound


def sampled(trace_id: bytes, rate: float) -> bool:
    """`head_sampled` for a hex trace id and a rate."""
    return head_sampled(int(trace_id[-16:], 16), ratio_bound(rate))


def _read_indexes(folder: Path) -> dict[bytes, _Root]:
    roots: dict[bytes, _Root] = {}
    for path in sorted(folder.glob(INDEX_GLOB)):
        for line in lines(path):  # bounded; a torn last line of a killed process is skipped
            parts = line.rstrip(b"\n").split(b"\t")
            if len(parts) != 4 or not parts[2].isdigit():
                continue  # damaged
            trace, target, start, kept = parts
            roots[trace] = _Root(target.decode("utf-8", "replace"), int(start) / 1e9, kept == b"1")
    return roots


def has_index(run_dir: Path) -> bool:
    """Whether the run's sidecars wrote journey indexes not yet settled."""
    folder = run_dir / "traces"
    return folder.is_dir() and any(folder.glob(INDEX_GLOB))


def read_joins(run_dir: Path) -> list[TraceJoin] | None:
    """The run's journey traces with their joins: from `trace-joins.json`, or computed from the
    journey indexes and span files of a run that was not settled (killed); None when the run
    has neither (an older run folder: the caller reads the spans)."""
    stored = run_dir / JOINS_FILE
    if present(stored):
        return parsed(stored, _stored_joins)
    if not has_index(run_dir):
        return None
    roots = _read_indexes(run_dir / "traces")
    joined: set[bytes] = set()
    for path in _span_files(run_dir):
        for line in lines(path):
            joined.update(t for t, kind in _SPAN.findall(line) if kind == _SERVER)
    return [TraceJoin(r.target, r.started_at, t in joined) for t, r in roots.items()]


def _stored_joins(data: Any) -> list[TraceJoin]:
    """The rows of trace-joins.json (see `_write_joins`), checked."""
    targets = data["targets"]
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise TypeError("`targets` is not a list of names")
    found = []
    for target, started, joined in data["joins"]:
        if not isinstance(target, int) or not 0 <= target < len(targets):
            raise ValueError(f"target {str(target)[:20]} is not an index into `targets`")
        if isinstance(started, bool) or not isinstance(started, int | float):
            raise TypeError("a start time is not a number")
        found.append(TraceJoin(targets[target], float(started), bool(joined)))
    return found


def settle(run_dir: Path, sample_rate: float) -> int:
    """Count the journey traces' joins into `trace-joins.json` (those the targets were asked to
    record, `_expected_to_join`), cut the target's span files (`traces/*.jsonl`) to the
    kept traces, and remove the indexes; returns the journey traces counted (0, doing nothing,
    when no sidecar wrote an index)."""
    folder = run_dir / "traces"
    if not has_index(run_dir):
        return 0
    roots = _read_indexes(folder)
    joined: set[bytes] = set()
    for part in sorted(folder.glob("*.jsonl")):
        cut = part.with_name(part.name + ".cut")
        with part.open("rb") as source, cut.open("wb") as out:
            for line in source:
                if not line.endswith(b"\n"):
                    continue
                spans = _SPAN.findall(line)
                joined.update(t for t, kind in spans if kind == _SERVER)
                if all(_keep(t, roots, sample_rate) for t, _ in spans):
                    out.write(line)
                else:
                    kept = _cut_line(line, roots, sample_rate)
                    if kept is not None:
                        out.write(kept)
        cut.replace(part)
    counted = _expected_to_join(roots, joined, ratio_bound(sample_rate))
    _write_joins(run_dir / JOINS_FILE, counted, joined)
    for index in folder.glob(INDEX_GLOB):
        index.unlink()
    return len(counted)


def _expected_to_join(
    roots: dict[bytes, _Root], joined: set[bytes], bound: int
) -> dict[bytes, _Root]:
    """The journey traces a target was asked to record. A trace whose `traceparent` said "not
    sampled" was not the target's to record, unless the targets record such traces anyway (as
    the bundled sandbox does): when any of them joined one, every trace counts, on both sides
    alike, so a side that lost its `traceparent` cannot hide its unjoined traces."""
    unsampled = {t for t in roots if not head_sampled(int(t, 16), bound)}
    if not unsampled or not unsampled.isdisjoint(joined):
        return roots
    return {t: r for t, r in roots.items() if t not in unsampled}


def _keep(trace: bytes, roots: dict[bytes, _Root], rate: float) -> bool:
    root = roots.get(trace)
    return root.kept if root is not None else sampled(trace, rate)


def _cut_line(line: bytes, roots: dict[bytes, _Root], rate: float) -> bytes | None:
    """An OTLP JSON line with only the spans of kept traces; None when none is left."""
    data = json.loads(line)
    resources = []
    for resource in data.get("resourceSpans", []):
        scopes = []
        for scope in resource.get("scopeSpans", []):
            spans = [
                s
                for s in scope.get("spans", [])
                if _keep(str(s.get("traceId", "")).encode(), roots, rate)
            ]
            if spans:
                scopes.append({**scope, "spans": spans})
        if scopes:
            resources.append({**resource, "scopeSpans": scopes})
    if not resources:
        return None
    return (json.dumps({"resourceSpans": resources}, separators=(",", ":")) + "\n").encode()


def _write_joins(path: Path, roots: dict[bytes, _Root], joined: set[bytes]) -> None:
    targets: dict[str, int] = {}
    rows: list[list[Any]] = []
    for trace, root in roots.items():
        index = targets.setdefault(root.target, len(targets))
        rows.append([index, round(root.started_at, 3), int(trace in joined)])
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        _dump({"targets": list(targets), "joins": rows}, out)
    tmp.replace(path)


def _dump(data: dict[str, Any], out: IO[str]) -> None:
    out.write('{"targets":' + json.dumps(data["targets"]) + ',"joins":[')
    out.write(",".join(json.dumps(row, separators=(",", ":")) for row in data["joins"]))
    out.write("]}\n")


def _span_files(run_dir: Path) -> Iterator[Path]:
    if present(run_dir / "traces.jsonl"):
        yield run_dir / "traces.jsonl"
    yield from sorted((run_dir / "traces").glob("*.jsonl"))


def join_counts(joins: Iterable[TraceJoin], target: str) -> tuple[int, int]:
    """(joined, journey traces) of one target."""
    mine = [j for j in joins if j.target == target]
    return sum(j.joined for j in mine), len(mine)
