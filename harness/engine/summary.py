"""What a load run shows people: the live progress line, generator health and the closing
table (its rows are summary.md's too, rendered from the folder by `harness.report.summary_md`).
Reads only the aggregator (or a stored run's histograms)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.engine.collector import LoadAggregator, Tally
from harness.engine.memory import trends
from harness.markdown import md_text
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey
from harness.telemetry.latency import SHOWN, failure_rate, format_ms, rank_at
from harness.text import plural

CPU_SATURATED = 90.0  # percent of one core, for a single-threaded Python generator
LAG_SATURATED_MS = 100.0


@dataclass(frozen=True)
class Health:
    """Generator health over a run: per-process CPU, loop lag and late starts, and the verdict."""

    samples: int
    cpu_median: float
    cpu_max: float
    browser_cpu_max: float
    lag_p95_ms: float
    lag_max_ms: float
    late: int
    dropped: int
    saturated: bool
    reasons: tuple[str, ...]
    rss_max_mb: float = 0.0  #: the largest resident memory of one load process
    rss_growth_mb: float = 0.0  #: the largest growth of one process over the run (fitted)
    rss_slope_mb_per_min: float = 0.0  #: that process's growth rate
    memory_growing: bool = False
    #: what a reader should know without it making the run inconclusive (memory growth)
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON form for run.json."""
        return {**self.__dict__, "reasons": list(self.reasons), "warnings": list(self.warnings)}


def assess_health(aggregator: LoadAggregator, total_iterations: int) -> Health:
    """Judge whether the generator kept up: a saturated generator cannot vouch for latencies."""
    samples = aggregator.health[2:] or aggregator.health  # skip start-up samples
    cpus = [float(s["cpu"]) for s in samples] or [0.0]
    lags = sorted(float(s["lag_ms"]) for s in samples) or [0.0]
    lag_p95 = lags[rank_at(95.0, len(lags)) - 1]  # the one rank rule (telemetry/latency.py)
    reasons = []
    cpu_median = statistics.median(cpus)
    if cpu_median >= CPU_SATURATED:
        reasons.append(f"generator CPU median {cpu_median:.0f}% of a core (≥ {CPU_SATURATED:.0f}%)")
    if lag_p95 >= LAG_SATURATED_MS:
        reasons.append(f"event-loop lag p95 {lag_p95:.0f} ms (≥ {LAG_SATURATED_MS:.0f} ms)")
    late_share = aggregator.late / total_iterations if total_iterations else 0.0
    if late_share > 0.05:
        reasons.append(f"{plural(aggregator.late, 'iteration')} ({late_share:.0%}) started late")
    if aggregator.dropped:
        reasons.append(f"{aggregator.dropped} scheduled iterations were dropped")
    memory = trends(aggregator.health)
    worst = max(memory, key=lambda m: m.growth_mb, default=None)
    return Health(
        samples=len(samples),
        cpu_median=round(cpu_median, 1),
        cpu_max=round(max(cpus), 1),
        browser_cpu_max=round(
            max((float(s.get("browser_cpu", 0)) for s in samples), default=0.0), 1
        ),
        lag_p95_ms=round(lag_p95, 2),
        lag_max_ms=round(lags[-1], 2),
        late=aggregator.late,
        dropped=aggregator.dropped,
        saturated=bool(reasons),
        reasons=tuple(reasons),
        # every sample, not only the trend's: a run too short for a trend still has a size
        rss_max_mb=max(
            (float(s["rss_mb"]) for s in aggregator.health if "rss_mb" in s), default=0.0
        ),
        rss_growth_mb=worst.growth_mb if worst else 0.0,
        rss_slope_mb_per_min=worst.slope_mb_per_min if worst else 0.0,
        memory_growing=any(m.growing for m in memory),
        warnings=tuple(m.warning() for m in memory if m.growing),
    )


def progress_line(
    aggregator: LoadAggregator,
    elapsed: float,
    total: float,
    users: int,
    sides: Mapping[str, str] | None = None,
) -> str:
    """`  12s/30s  users 20  41.5 it/s  1,204 it  0 failed  p95 api 12 ms · web 1.9 s`. The clock
    stops at the planned duration (then reads `stopping`, while the last iterations finish).
    With `sides` (target name → `baseline`/`candidate`), the p95s are labelled by side."""
    iterations = aggregator.iterations
    failed = aggregator.failures
    share = failure_rate(failed, iterations)
    by_target: dict[str, list[str]] = {}
    for key in aggregator.hdr:
        if key.is_iteration:
            p95 = f"{_short(key.journey)} {_ms(aggregator.hdr.percentile(key, 95.0))}"
            by_target.setdefault(key.target, []).append(p95)
    if sides:
        order = {name: i for i, name in enumerate(sides)}
        parts = [
            f"{sides.get(target, target)}: " + " · ".join(values)
            for target, values in sorted(by_target.items(), key=lambda kv: order.get(kv[0], 99))
        ]
        latency = " | ".join(parts)
    else:
        latency = " · ".join(v for values in by_target.values() for v in values)
    clock = f"{min(elapsed, total):4.0f}s/{total:.0f}s" + (" stopping" if elapsed > total else "")
    return (
        f"  {clock}  users {users:<4} {aggregator.rate():7.1f} it/s  "
        f"{iterations:,} it  {failed:,} failed ({share:.1%})  p95 " + latency
    )


def latency_rows(store: HdrStore, journeys: dict[tuple[str, str], Tally]) -> list[list[str]]:
    """Rows: series, count, failed, cut off, p50, p95, p99, max — each journey's row first,
    its own steps below it; with several targets (a rehearsal) each journey's rows are grouped
    by target. A journey always has its row, so its steps are never shown under another: one
    whose iterations were all cut off by the end of the load reads "none finished", one that
    never started an iteration "never ran"."""
    several = len({k.target for k in store} | {t for t, _ in journeys}) > 1
    head = ["journey / step", "touchpoint", "count", "failed", "cut off"]
    head += ["p50", "p95", "p99", "max"]
    rows = [(["target"] if several else []) + head]
    groups: dict[tuple[str, str], list[SeriesKey]] = {key: [] for key in journeys}
    for key in store:
        groups.setdefault((key.target, key.journey), [])
        if not key.is_iteration:
            groups[(key.target, key.journey)].append(key)
    for target, journey in sorted(groups, key=lambda g: (g[1], g[0])):
        tally = journeys.get((target, journey), Tally())
        iteration = SeriesKey(target, journey, ITERATION, "")
        counts = [str(tally.failures), str(tally.cut_off)]
        if store.count(iteration):
            s = store.summary(iteration)
            cells = [journey, "—", f"{s.count:,}", *counts]
            cells += [*(_ms(s.p(p)) for p in SHOWN), _ms(s.max_ms)]
        else:
            started = tally.cut_off or groups[(target, journey)]
            cells = [journey, "—", "0", *counts]
            cells += ["none finished" if started else "never ran", "-", "-", "-"]
        rows.append(([target] if several else []) + cells)
        for key in sorted(groups[(target, journey)], key=lambda k: k.step):
            s = store.summary(key)
            cells = [f"  › {key.step}", key.touchpoint or "—", f"{s.count:,}", "", ""]
            cells += [*(_ms(s.p(p)) for p in SHOWN), _ms(s.max_ms)]
            rows.append(([target] if several else []) + cells)
    return rows


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Align rows into text columns (first column left, the rest right)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    return out


def markdown_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """The same rows as a Markdown table, every cell escaped (names come from the journeys)."""
    head, *body = rows
    lines = ["| " + " | ".join(md_text(c) for c in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(md_text(c) for c in r) + " |" for r in body]
    return lines


_ms = format_ms  #: the terminal, summary.md and report.html show a latency alike


def _short(name: str, limit: int = 18) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
