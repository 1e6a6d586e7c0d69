"""Terminal output: a live line per step and the closing table of a smoke run."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from harness.markdown import md_code, md_text
from harness.records import IterationRecord, Outcome, StepRecord
from harness.text import plural


def _supports_color(stream: TextIO) -> bool:
    return stream.isatty()


class ConsoleSink:
    """Prints each finished step as it happens (a `RunSink`)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.color = _supports_color(self.stream)

    def _paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def step_finished(self, record: StepRecord) -> None:
        """Print `✓ journey > step  touchpoint  123 ms` (and the failure, when it failed)."""
        ok = record.outcome is Outcome.PASSED
        mark = self._paint("✓", "32") if ok else self._paint("✗", "31")
        label = f"{record.journey} › {record.step}"
        line = f"  {mark} {label:<52} {record.touchpoint.value:<7}{_ms(record.duration_ms):>9}"
        if not ok:
            line += f"\n      {record.error_kind}: {record.message}"
            for artifact in record.artifacts:
                kind = "screenshot" if artifact.endswith(".png") else "trace"
                line += f"\n      {kind}: {artifact}"
        print(line, file=self.stream, flush=True)

    def iteration_finished(self, record: IterationRecord) -> None:
        """Print a failure that happened outside any step (steps print themselves)."""
        if record.outcome is Outcome.FAILED and record.failed_touchpoint is None:
            mark = self._paint("✗", "31")
            print(
                f"  {mark} {record.journey} › {record.failed_step}\n"
                f"      {record.error_kind}: {record.message}",
                file=self.stream,
                flush=True,
            )


def closing_table(iterations: Sequence[IterationRecord]) -> list[str]:
    """Rows of the smoke summary: journey, steps passed, duration, failure."""
    width = max([len("journey"), *(len(i.journey) for i in iterations)])
    rows = [f"{'journey':<{width}}  {'steps':>5}  {'duration':>9}  result"]
    for it in iterations:
        steps = f"{it.steps_passed}/{it.steps_total}"
        if it.outcome is Outcome.PASSED:
            result = "PASS"
        else:
            where = f"`{it.failed_step}`"
            if it.failed_touchpoint is not None:
                where += f" [{it.failed_touchpoint.value}]"
            result = f"FAIL at {where} {it.error_kind}: {_clip(it.message or '', 90)}"
        rows.append(f"{it.journey:<{width}}  {steps:>5}  {_ms(it.duration_ms):>9}  {result}")
    return rows


def summary_markdown(title: str, iterations: Sequence[IterationRecord], run_path: str) -> str:
    """summary.md of a smoke run, fit for a CI job summary."""
    failed = [i for i in iterations if i.outcome is Outcome.FAILED]
    verdict = "PASS" if not failed else "FAIL"
    lines = [
        f"# {title}: {verdict}",
        "",
        f"{len(iterations) - len(failed)} of {plural(len(iterations), 'journey')} passed. "
        f"Run folder: {md_code(run_path)}.",
        "",
        "| journey | steps passed | duration | result |",
        "|---|---|---|---|",
    ]
    for it in iterations:
        if it.outcome is Outcome.PASSED:
            result = "pass"
        else:
            tp = f" on {it.failed_touchpoint.value}" if it.failed_touchpoint else ""
            result = (
                f"**fail** at {md_code(it.failed_step)}{tp} ({md_text(it.error_kind)}): "
                f"{md_text(it.message or '')}"
            )
            for artifact in it.artifacts:
                result += f"<br>{md_code(artifact)}"
        steps = f"{it.steps_passed}/{it.steps_total}"
        lines.append(f"| {md_code(it.journey)} | {steps} | {_ms(it.duration_ms)} | {result} |")
    return "\n".join(lines) + "\n"


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
