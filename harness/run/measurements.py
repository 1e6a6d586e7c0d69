"""What a `harness load` writes into its run folder once its users have stopped (histograms,
timeline, counts, health, summary.md, span counts and incomplete evidence in run.json) and
what it prints about them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.engine.collector import LoadAggregator
from harness.engine.outcome import LoadOutcome
from harness.engine.summary import Health, assess_health, latency_rows, table
from harness.markdown import md_text
from harness.report.summary_md import load_summary
from harness.report.vitals import vitals_rows
from harness.results import RUN_FILE, RunDirectory
from harness.results.reader import read_folder
from harness.results.schema import VITALS
from harness.targets import Target
from harness.touchpoints.chromium_sandbox import summarise

if TYPE_CHECKING:
    from harness.telemetry.tracing import Telemetry


def write_results(
    run: RunDirectory,
    aggregator: LoadAggregator,
    outcome: LoadOutcome,
    chosen: list[Target],
    describe: str,
) -> Health:
    """Histograms, health and summary.md into the run folder; the generator's health (assessed
    from the aggregator alone when the folder cannot be written)."""
    try:
        health = write_measurements(run, aggregator)
        # rendered by report/ from the folder just written, through the one reader
        summary = load_summary(
            read_folder(run.path),
            target=" vs ".join(t.name for t in chosen),
            plan_text=describe,
            elapsed_s=outcome.elapsed_s,
        )
        blocked = run.meta.get("browser_blocked")
        if blocked:
            summary += (
                f"\n**Blocked requests:** {blocked:,} browser requests refused by the targets' "
                "`block` patterns\n"
            )
        run.write_text("summary.md", summary)
    except OSError as exc:
        run.failed_to_write("the run's measurements", exc)
        health = assess_health(aggregator, aggregator.iterations)
    return health


def print_measured(
    run: RunDirectory, aggregator: LoadAggregator, outcome: LoadOutcome, health: Health
) -> None:
    """The latency table, the generator's health and lost or refused workers."""
    print()
    for line in table(latency_rows(aggregator.hdr, aggregator.journeys)):
        print(line)
    vitals = vitals_rows(aggregator.vitals)
    if vitals:
        print("\n  Web Vitals (per web step; CLS unitless)")
        for line in table(vitals):
            print(f"  {line}")
    print(
        f"\n  generator: CPU median {health.cpu_median:.0f}% (max {health.cpu_max:.0f}%), "
        f"Chromium max {health.browser_cpu_max:.0f}%, loop lag p95 {health.lag_p95_ms:.1f} ms, "
        f"late {health.late}, dropped {health.dropped}, "
        + (f"RSS max {health.rss_max_mb:.0f} MB" if health.rss_max_mb else "RSS not sampled")
    )
    if run.meta.get("browser_blocked"):
        print(f"  browser: {run.meta['browser_blocked']:,} requests refused by `block` patterns")
    if health.saturated:
        print(f"  WARNING: the generator was saturated: {'; '.join(health.reasons)}")
    for warning in health.warnings:
        print(f"  WARNING: {warning}")
    if outcome.refused:
        run.meta["refused_workers"] = outcome.refused
    if outcome.missing_finals:
        print(
            f"  WARNING: lost workers {', '.join(outcome.missing_finals)}: no final report; "
            "their measurements up to their last report are included, so the run fails"
        )


def record_evidence(run: RunDirectory, telemetry: Telemetry, missing: list[str]) -> None:
    """Span counts, OTLP delivery and any evidence that could not be completed, into run.json
    (and said on the terminal)."""
    missing = [*telemetry.missing, *missing]
    counts = dict(telemetry.counts)
    if counts:
        run.meta["spans"] = counts
    if counts.get("otlp_unsent"):
        line = (
            f"traces: {counts['otlp_unsent']:,} spans were not sent to the OTLP endpoint "
            f"({counts.get('otlp_error') or 'unknown error'}); traces.jsonl has them all"
        )
        print(line, flush=True)
        summary = run.path / "summary.md"
        if summary.is_file():
            with summary.open("a", encoding="utf-8") as out:
                out.write(f"\n**Spans not sent:** {md_text(line.removeprefix('traces: '))}\n")
    if missing:
        run.meta["incomplete_evidence"] = missing
        for part in missing:
            print(f"WARNING: incomplete evidence: {part}", flush=True)
    try:
        run.write_json(RUN_FILE, run.meta)
    except OSError as exc:
        run.failed_to_write(RUN_FILE, exc)


def write_measurements(run: RunDirectory, aggregator: LoadAggregator) -> Health:
    """histograms/ (merged and per source), timeline.json and health.json."""
    aggregator.hdr.write(run.path / "histograms")
    if len(aggregator.vitals):
        aggregator.vitals.write(run.path / VITALS)
    for index, (source, totals) in enumerate(sorted(aggregator.sources.items())):
        totals.hdr.write(run.path / "histograms" / "by-source" / f"{index}")
        run.meta.setdefault("sources", {})[str(index)] = source
    run.write_json("timeline.json", aggregator.timeline())
    run.write_json("counts.json", aggregator.counts())
    health = assess_health(aggregator, aggregator.iterations)
    run.write_json("health.json", {"summary": health.as_dict(), "samples": aggregator.health})
    run.meta["generator"] = health.as_dict()
    browser = summarise([s["browser_sandbox"] for s in aggregator.health if "browser_sandbox" in s])
    if browser is not None:
        run.meta["browser"] = browser
    blocked = blocked_requests(aggregator.health)
    if blocked:
        run.meta["browser_blocked"] = blocked
    run.meta["workers"] = {k: v.iterations for k, v in aggregator.sources.items()}
    return health


def blocked_requests(samples: list[dict[str, Any]]) -> int:
    """Browser requests refused by `block` patterns over all load processes: each process's
    health samples carry its running total."""
    last: dict[str, int] = {}
    for sample in samples:
        if "browser_blocked" in sample:
            source = str(sample.get("source", ""))
            last[source] = max(last.get(source, 0), int(sample["browser_blocked"]))
    return sum(last.values())
