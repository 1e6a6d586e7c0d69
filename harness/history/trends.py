"""What the history shows: the table of `harness history`, and the trend report of
`harness history --html FILE` (p95 per step across runs and releases, the verdict timeline,
monitor uptime, flaky journeys), both from `harness.history.query`."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from harness.history.query import RunRow, SeriesPoint
from harness.telemetry.latency import format_ms

#: how many times a journey's checks must flip (pass → fail or back) to be called flaky
FLAKY_FLIPS = 2


def when(value: datetime | None) -> str:
    """A start time as the table shows it (UTC, to the second)."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "—"


def _ms(value: float | None) -> str:
    return format_ms(value) if value is not None else "—"


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(c) for c in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *rows)
    ]


def runs_table(runs: list[RunRow]) -> list[str]:
    """One line a run: start, id, mode, targets, decision, iterations, failures."""
    header = ["started (UTC)", "run", "mode", "targets", "decision", "iterations", "failures"]
    rows = [
        [
            when(r.started_at),
            r.run_id,
            r.mode,
            ",".join(r.targets) or "—",
            r.decision,
            f"{r.iterations:,}",
            f"{r.failures:,}",
        ]
        for r in runs
    ]
    return _columns(header, rows)


def series_table(points: list[SeriesPoint]) -> list[str]:
    """One line a run and matching series: where, counts, p50/p95/p99."""
    header = ["started (UTC)", "run", "target", "journey", "step", "n", "failed"]
    header += ["p50", "p95", "p99"]
    rows = [
        [
            when(p.started_at),
            p.run_id,
            p.target,
            p.journey,
            p.step or "(iteration)",
            f"{p.iterations:,}",
            f"{p.failures:,}",
            _ms(p.p50_ms),
            _ms(p.p95_ms),
            _ms(p.p99_ms),
        ]
        for p in points
    ]
    return _columns(header, rows)


@dataclass(frozen=True)
class StepTrend:
    """p95 of one (journey, step) across runs, in run order."""

    journey: str
    step: str
    points: list[tuple[str, str, str, float | None]]  #: (run id, label, start, p95)


@dataclass(frozen=True)
class Uptime:
    """A target's monitor checks: how many, how many passed."""

    target: str
    checks: int
    passed: int

    @property
    def share(self) -> float:
        """Passed checks over all checks (0 without checks)."""
        return self.passed / self.checks if self.checks else 0.0


@dataclass(frozen=True)
class Flaky:
    """A journey whose outcome flipped between consecutive checks."""

    target: str
    journey: str
    flips: int
    outcomes: str  #: `✓✗✓…`, oldest first


def step_trends(points: list[SeriesPoint]) -> list[StepTrend]:
    """p95 per step across runs (whole iterations left out)."""
    found: dict[tuple[str, str], list[tuple[str, str, str, float | None]]] = defaultdict(list)
    for p in points:
        if p.step:
            found[(p.journey, p.step)].append((p.run_id, p.label, when(p.started_at), p.p95_ms))
    return [StepTrend(j, s, pts) for (j, s), pts in found.items()]


def uptime(runs: list[RunRow]) -> list[Uptime]:
    """Per target, the share of monitor checks that passed, each check counted once: a retry
    (attempt 2 and up) replaces the failed attempt before it."""
    checks: dict[str, list[bool]] = defaultdict(list)
    for r in runs:
        if r.mode == "monitor":
            for target in r.targets:
                if r.attempt > 1 and checks[target]:
                    checks[target].pop()
                checks[target].append(r.decision == "pass")
    return [Uptime(t, len(c), sum(c)) for t, c in sorted(checks.items())]


def flaky(points: list[SeriesPoint]) -> list[Flaky]:
    """Journeys whose smoke or monitor checks flip at least `FLAKY_FLIPS` times."""
    outcomes: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for p in points:
        if not p.step and p.mode in ("smoke", "monitor"):
            outcomes[(p.target, p.journey)].append(p.failures == 0)
    found = []
    for (target, journey), seen in sorted(outcomes.items()):
        flips = sum(a != b for a, b in itertools.pairwise(seen))
        if flips >= FLAKY_FLIPS:
            found.append(Flaky(target, journey, flips, "".join("✓" if s else "✗" for s in seen)))
    return found


def write_html(path: Path, runs: list[RunRow], points: list[SeriesPoint], title: str) -> Path:
    """The trend report, one self-contained page (the report's style and escaping)."""
    from harness.history.trend_chart import p95_chart
    from harness.report.render import render, trusted_svg
    from harness.results import replace_file

    trends = step_trends(points)
    page = render(
        "history.html",
        title=title,
        chart=trusted_svg(p95_chart(trends)),
        runs=[
            {
                "run_id": r.run_id,
                "when": when(r.started_at),
                "mode": r.mode,
                "targets": ", ".join(r.targets),
                "decision": r.decision,
            }
            for r in runs
        ],
        trends=[
            {
                "journey": t.journey,
                "step": t.step,
                "points": [
                    {"run": run, "label": label, "when": at, "p95": _ms(p95)}
                    for run, label, at, p95 in t.points
                ],
            }
            for t in trends
        ],
        uptime=[
            {"target": u.target, "checks": u.checks, "passed": u.passed, "share": u.share}
            for u in uptime(runs)
        ],
        flaky=[vars(f) for f in flaky(points)],
    )
    replace_file(path, str(page) + "\n")
    return path
