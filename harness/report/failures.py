"""The failures section: each distinct failure once, with how often it happened, its
screenshot (embedded) and its trace tree."""

from __future__ import annotations

import base64
import io
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from harness.errors import HarnessError
from harness.folder_io import lines
from harness.records import IterationRecord
from harness.report.folder import RunFolder
from harness.report.junit import failure_line
from harness.report.render import Markup, render
from harness.telemetry.otlp_json import SpanRow, read_spans
from harness.telemetry.trace_view import JourneyTrace, build_tree, trace_files
from harness.telemetry.trace_view import render as render_tree

SHOWN = 8  #: distinct failures shown in full; the rest are counted
SCREENSHOT_BOX = (960, 1800)  #: screenshots are scaled down to fit this box (px)
SCREENSHOT_BYTES = 250_000  #: larger PNGs are reduced to a 256-colour palette


def failures_section(run: RunFolder) -> Markup:
    """The failures as HTML: grouped by journey, step, touchpoint and error kind."""
    failed = run.failed_iterations()
    if not failed:
        return render("failures.html", groups=[], no_steps="steps.jsonl" in run.missing)
    groups: dict[tuple[str, str, str, str], list[IterationRecord]] = defaultdict(list)
    for record in failed:
        touchpoint = record.failed_touchpoint.value if record.failed_touchpoint else ""
        kind = record.error_kind.value if record.error_kind else ""
        groups[(record.journey, record.failed_step or "", touchpoint, kind)].append(record)
    ordered = sorted(groups.values(), key=len, reverse=True)
    examples = [_example(records) for records in ordered[:SHOWN]]
    trees = trace_trees(run, {r.trace_id for r in examples if r.trace_id})
    shown = []
    for records, example in zip(ordered[:SHOWN], examples, strict=True):
        by_target: dict[str, int] = defaultdict(int)
        for r in records:
            by_target[r.target] += 1
        shown.append(
            {
                "line": failure_line(example),
                "times": sorted(by_target.items()),
                "trace_id": example.trace_id,
                "artifacts": [_artifact(run, recorded) for recorded in example.artifacts],
                "tree": trees.get(example.trace_id or ""),
            }
        )
    return render(
        "failures.html",
        headline=f"{_plural(len(failed), 'failed iteration')}, "
        f"{_plural(len(groups), 'distinct failure')}",
        groups=shown,
        no_steps=False,
        rest_kinds=max(0, len(ordered) - SHOWN),
        rest=sum(len(r) for r in ordered[SHOWN:]),
    )


def _example(records: list[IterationRecord]) -> IterationRecord:
    """The first record with a screenshot, else the first with a trace, else the first."""
    for test in (lambda r: any(a.endswith(".png") for a in r.artifacts), lambda r: r.trace_id):
        for record in records:
            if test(record):
                return record
    return records[0]


@dataclass(frozen=True)
class Artifact:
    """An artifact of a failed iteration as the report shows it: a screenshot embedded as a
    base64 PNG (empty when unreadable), anything else by its path (`png` None)."""

    name: str
    path: str = ""
    missing: bool = False
    png: str | None = None
    playwright: bool = False


def _artifact(run: RunFolder, recorded: str) -> Artifact:
    path = run.artifact(recorded)
    name = Path(recorded).name
    if path is None:
        return Artifact(name, missing=True)
    if path.suffix != ".png":
        return Artifact(name, str(path), playwright=path.suffix == ".zip")
    data = screenshot_png(path)
    encoded = "" if data is None else base64.b64encode(data).decode("ascii")
    return Artifact(name, str(path), png=encoded)


def screenshot_png(path: Path) -> bytes | None:
    """A PNG of the screenshot scaled to fit `SCREENSHOT_BOX` and, when large, reduced to a
    palette; None when the file is not an image."""
    try:
        with Image.open(path) as image:
            image.load()
            shot = image.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    shot.thumbnail(SCREENSHOT_BOX)
    buffer = io.BytesIO()
    shot.save(buffer, format="PNG", optimize=True)
    if buffer.tell() > SCREENSHOT_BYTES:
        buffer = io.BytesIO()
        shot.quantize(256).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def trace_trees(run: RunFolder, trace_ids: set[str]) -> dict[str, str]:
    """The rendered trace tree of each trace id found in the run's traces.

    Only the lines that mention a wanted id are parsed: a long run's traces.jsonl holds tens
    of megabytes, of which a report needs a handful of traces.
    """
    if not trace_ids:
        return {}
    rows: dict[str, list[SpanRow]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="harness-report-") as scratch:
        wanted = Path(scratch) / "wanted.jsonl"
        wanted_ids = [t.encode() for t in trace_ids]
        with open(wanted, "wb") as out:
            for path in trace_files(run.path):
                try:  # bounded: a damaged line is skipped, a torn last one too
                    for line in lines(path):
                        if any(t in line for t in wanted_ids):
                            out.write(line)
                except HarnessError:
                    continue
        try:
            for row in read_spans(wanted):
                if row.trace_id in trace_ids:
                    rows[row.trace_id].append(row)
        except (ValueError, KeyError):
            return {}
    trees = {}
    for trace_id, spans in rows.items():
        root = build_tree(spans)
        if root is not None:
            trees[trace_id] = "\n".join(render_tree(JourneyTrace(root, len(spans))))
    return trees


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")
