"""Trace trees for the terminal: journey → step → request or browser action → the target's
server route → its SQL, with durations and the share of the step each part took."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.folder_io import LineTally, present
from harness.telemetry.otlp_json import SpanRow, read_spans

HARNESS_SCOPE = "journey-harness"  # the instrumentation scope of every harness span


@dataclass
class Node:
    """A span and its children, in start order."""

    span: SpanRow
    children: list[Node] = field(default_factory=list)

    @property
    def is_step(self) -> bool:
        """True for a `step ...` span of the harness."""
        return self.span.scope == HARNESS_SCOPE and self.span.name.startswith("step ")

    def largest_child(self) -> Node | None:
        """The child that took the most time."""
        return max(self.children, key=lambda n: n.span.duration_ms, default=None)


@dataclass
class JourneyTrace:
    """One journey iteration's trace."""

    root: Node
    spans: int

    @property
    def journey(self) -> str:
        """The journey's name."""
        return str(self.root.span.attributes.get("harness.journey", self.root.span.name))

    @property
    def failed(self) -> bool:
        """Whether the iteration failed."""
        return self.root.span.status == "STATUS_CODE_ERROR"

    @property
    def duration_ms(self) -> float:
        """Wall time of the iteration."""
        return self.root.span.duration_ms


def trace_files(run_dir: Path) -> list[Path]:
    """traces.jsonl and any not-yet-merged part files of a run."""
    files = [run_dir / "traces.jsonl"] if present(run_dir / "traces.jsonl") else []
    return files + sorted((run_dir / "traces").glob("*.jsonl"))


def load_traces(run_dir: Path, warnings: list[str] | None = None) -> list[JourneyTrace]:
    """Every journey trace stored in a run folder, target-side spans included; what was skipped
    as damaged is appended to `warnings`. Raises as `harness.folder_io.lines` does."""
    by_trace: dict[str, list[SpanRow]] = defaultdict(list)
    for path in trace_files(run_dir):
        tally = LineTally(path)
        for row in read_spans(path, tally):
            by_trace[row.trace_id].append(row)
        warning = tally.warning()
        if warning is not None and warnings is not None:
            warnings.append(warning)
    traces = []
    for rows in by_trace.values():
        root = build_tree(rows)
        if root is not None:
            traces.append(JourneyTrace(root, len(rows)))
    return sorted(traces, key=lambda t: t.root.span.start_ns)


def build_tree(rows: Iterable[SpanRow]) -> Node | None:
    """The tree under the trace's `journey` root; spans whose parent is missing hang off it."""
    nodes = {row.span_id: Node(row) for row in rows}
    root = next(
        (
            n
            for n in nodes.values()
            if n.span.parent_id is None and n.span.name.startswith("journey ")
        ),
        None,
    )
    if root is None:
        return None
    for node in nodes.values():
        if node is root:
            continue
        parent = nodes.get(node.span.parent_id or "", root)
        parent.children.append(node)
    for node in nodes.values():
        node.children.sort(key=lambda n: n.span.start_ns)
    return root


def select_traces(
    traces: list[JourneyTrace],
    *,
    journey: str | None = None,
    failed: bool = False,
    slowest: int | None = None,
) -> list[JourneyTrace]:
    """Filter by journey, keep failed ones, or the N slowest."""
    chosen = [t for t in traces if journey is None or t.journey == journey]
    if failed:
        chosen = [t for t in chosen if t.failed]
    if slowest is not None:
        chosen = sorted(chosen, key=lambda t: t.duration_ms, reverse=True)[:slowest]
    return chosen


def render(trace: JourneyTrace) -> list[str]:
    """The tree as text lines, with the hot path of the slowest step at the end."""
    span = trace.root.span
    outcome = "FAILED" if trace.failed else "passed"
    lines = [
        f"journey {trace.journey} · {_ms(span.duration_ms)} · {outcome} · trace {span.trace_id}"
    ]
    for index, child in enumerate(trace.root.children):
        _render(child, "", index == len(trace.root.children) - 1, None, lines)
    steps = [n for n in trace.root.children if n.is_step]
    if steps:
        slowest = max(steps, key=lambda n: n.span.duration_ms)
        path = hot_path(slowest)
        if path:
            chain = " › ".join(_label(n) for n in path)
            share = (
                path[-1].span.duration_ms / slowest.span.duration_ms
                if slowest.span.duration_ms
                else 0
            )
            lines.append(
                f"slowest step: {slowest.span.name.removeprefix('step ')} "
                f"({_ms(slowest.span.duration_ms)}); where the time went: {chain} "
                f"({_ms(path[-1].span.duration_ms)}, {share:.0%} of the step)"
            )
    return lines


def hot_path(node: Node) -> list[Node]:
    """From `node`, follow the largest child while it holds at least half of its parent."""
    path: list[Node] = []
    current = node
    while True:
        child = current.largest_child()
        if child is None or child.span.duration_ms < 0.5 * current.span.duration_ms:
            return path
        path.append(child)
        current = child


def _render(node: Node, prefix: str, last: bool, step: Node | None, lines: list[str]) -> None:
    step = node if node.is_step else step
    branch = "└─ " if last else "├─ "
    text = f"{prefix}{branch}{_label(node)} {_ms(node.span.duration_ms)}"
    if step is not None and node is not step and step.span.duration_ms > 0:
        text += f" {node.span.duration_ms / step.span.duration_ms:.0%}"
    if node.span.status == "STATUS_CODE_ERROR":
        text += f" ✗ {node.span.attributes.get('error.type', 'error')}"
    if node.is_step:
        touchpoint = node.span.attributes.get("harness.touchpoint")
        text = text.replace(_label(node), f"{_label(node)} [{touchpoint}]", 1)
    lines.append(text)
    extension = "   " if last else "│  "
    largest = node.largest_child() if node.is_step else None
    for index, child in enumerate(node.children):
        before = len(lines)
        _render(child, prefix + extension, index == len(node.children) - 1, step, lines)
        if child is largest and len(node.children) > 1:
            lines[before] += "  ◀ largest"


def _label(node: Node) -> str:
    span = node.span
    if span.scope == HARNESS_SCOPE:
        return span.name
    route = span.attributes.get("shop.route.name")
    where = f"{span.service}, route {route}" if route else span.service
    return f"{span.name} ({where})"


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"
