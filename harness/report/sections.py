"""The sections of report.html, each a function from the run folder to an HTML fragment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from harness.gates.coverage import CoverageRow, coverage_headline
from harness.gates.outcome import Decision
from harness.report import charts, time_charts
from harness.report.folder import Distribution, RunFolder, unfinished_text
from harness.report.junit import failure_line
from harness.report.render import Markup, render, trusted_svg
from harness.report.summary import decision_of
from harness.results.liveness import KILLED
from harness.telemetry.hdr import ITERATION, SeriesKey
from harness.telemetry.latency import SHOWN, failure_rate
from harness.telemetry.spans import url_template
from harness.text import plural

MIN_CDF_VALUES = 3  #: a CDF of one or two values (a smoke run) says nothing


def not_recorded(why: str = "") -> Markup:
    """The placeholder of a section whose data the run folder does not hold."""
    return render("not_recorded.html", why=why)


def figure(svg: str, caption: str) -> Markup:
    """An inline chart (an SVG document from `harness.report.charts`) with its caption."""
    return render("figure.html", svg=trusted_svg(svg), caption=caption)


def banner(run: RunFolder) -> Markup:
    """The decision (rehearsals) or the run status (smoke, load), and why, in plain words."""
    decision = decision_of(run)
    if run.verdict is not None:
        head = decision.upper()
        reasons = run.verdict.reasons
    else:
        head = {"pass": "PASSED", "fail": "FAILED"}.get(decision, run.status.upper())
        reasons = _status_reasons(run)
    return render(
        "banner.html",
        decision=decision,
        head=head,
        mode=run.mode,
        run_id=run.run_id,
        status=run.status,
        reasons=reasons[:6],
        more=max(0, len(reasons) - 6),
    )


def _status_reasons(run: RunFolder) -> list[str]:
    ended = [run.reason] if run.status == KILLED and run.reason else []
    if run.mode == "rehearse":
        why = run.missing.get("verdict.json", "not recorded")
        return [*ended, f"no verdict: verdict.json {why} (the run ended before its gates)"]
    reasons = ended
    for target in run.targets:
        tallies = [run.tally(target, j) for j in run.journeys()]
        iterations = sum(t.iterations for t in tallies)
        failures = sum(t.failures for t in tallies)
        if run.mode == "smoke":
            passed = sum(1 for t in tallies if t.iterations and not t.failures)
            reasons.append(f"{passed}/{plural(len(tallies), 'journey')} passed on {target}")
        else:
            share = failure_rate(failures, iterations)
            reasons.append(
                f"{plural(iterations, 'iteration')} on {target}, {failures:,} failed ({share:.2%})"
            )
    for record in run.failed_iterations()[:3]:
        reasons.append(failure_line(record))
    saturated = (run.health or {}).get("summary", {})
    if saturated.get("saturated"):
        reasons.append("the load generator was saturated: " + "; ".join(saturated["reasons"]))
    return reasons or ["nothing recorded"]


def gates(run: RunFolder) -> Markup:
    """Every gate with its decision and summary; its evidence in an expandable row. Below,
    per journey, step and touchpoint: the gates that judged it, and those that could not
    (n per side against the n needed)."""
    if run.verdict is None:
        if run.mode != "rehearse":
            return not_recorded("gates judge rehearsals")
        return not_recorded("verdict.json " + run.missing.get("verdict.json", "not recorded"))
    coverage = run.verdict.coverage
    return render(
        "gates.html",
        gates=run.verdict.gates,
        coverage=coverage,
        headline=coverage_headline(coverage) if coverage else "",
    )


@dataclass(frozen=True)
class JudgedCell:
    """Which gates judged a latency row: failed ones by name, and for a row a gate could not
    judge, the fewest samples per side against the most needed."""

    gates: int
    judged: int
    failed: list[str]
    unjudged: bool
    n: int = 0
    needed: int | None = None
    why: str = ""


def latency(run: RunFolder) -> Markup:
    """A percentile table per journey and step, and CDFs with the targets overlaid. With a
    verdict, each row says which gates judged it: a change is red only where a gate failed,
    and a row a gate could not judge is marked with its n against the n needed."""
    series = run.series()
    if not series:
        return not_recorded("no step was measured")
    targets = run.targets
    coverage = _coverage(run)
    rows: list[dict[str, Any]] = []
    figures = []
    for journey in run.journeys():
        keys = [(ITERATION, ""), *run.step_order(journey)]
        panels = []
        for step, touchpoint in keys:
            dists = {t: run.distribution(SeriesKey(t, journey, step, touchpoint)) for t in targets}
            dists = {t: d for t, d in dists.items() if d.total}
            if not dists:
                # a journey keeps its own row, so that its steps never read as another's
                ran = len(keys) > 1 or any(run.tally(t, journey).cut_off for t in targets)
                selected = journey in run.meta.get("selected_journeys", [])
                if step == ITERATION and (ran or selected):
                    rows.append(
                        {
                            "unrun": True,
                            "journey": journey,
                            "span": 4 * len(targets) + (len(targets) > 1),
                            "text": unfinished_text(run, journey),
                        }
                    )
                continue
            row = coverage.get(
                (journey, None, None) if step == ITERATION else (journey, step, touchpoint)
            )
            cells = [
                None
                if (d := dists.get(t)) is None
                else (d.total, *(d.percentile(p) for p in SHOWN))
                for t in targets
            ]
            rows.append(
                {
                    "unrun": False,
                    "journey": journey,
                    "step": "" if step == ITERATION else step,
                    "touchpoint": touchpoint,
                    "cells": cells,
                    "change": _change(dists.get(targets[0]), dists.get(targets[-1]), row),
                    "judged": _judged_cell(row),
                }
            )
            title = "whole journey" if step == ITERATION else f"{step} [{touchpoint}]"
            if max(d.total for d in dists.values()) >= MIN_CDF_VALUES:
                panels.append((title, dists))
        if panels:
            svg = charts.latency_cdfs(panels)
            figures.append(figure(svg, f"{journey}: latency CDF per step (log scale)"))
    return render(
        "latency.html", targets=targets, with_gates=bool(coverage), rows=rows, figures=figures
    )


RowKey = tuple[str, str | None, str | None]


def _coverage(run: RunFolder) -> dict[RowKey, CoverageRow]:
    if run.verdict is None:
        return {}
    return {(r.journey, r.step, r.touchpoint): r for r in run.verdict.coverage}


def _change(
    base: Distribution | None, cand: Distribution | None, row: CoverageRow | None
) -> tuple[str, str] | None:
    """The p95 change and its cell's class: red only when a gate failed on the row, muted when
    no gate judged it (a change no gate could test is not a finding); None when there is no
    change to show."""
    if base is None or cand is None or not base.total or not cand.total:
        return None
    before, after = base.percentile(95.0), cand.percentile(95.0)
    if before <= 0:
        return None
    change = after / before - 1
    cls = "num"
    if row is not None and row.failed:
        cls = "num worse"
    elif row is not None and row.unjudged:
        cls = "num unjudged"
    return cls, f"{change:+.0%}"


def _judged_cell(row: CoverageRow | None) -> JudgedCell | None:
    """Which gates judged a row (None: no gate): failed ones named, a row a gate could not
    judge marked `not judged: 8/100` (the fewest per side against the most needed)."""
    if row is None or not row.gates:
        return None
    failed = [c.gate for c in row.gates if c.decision is Decision.FAIL]
    cell = JudgedCell(
        gates=len(row.gates), judged=0 if failed else len(row.judged_by), failed=failed,
        unjudged=False,
    )  # fmt: skip
    missing = row.unjudged
    if not missing:
        return cell
    worst = max(missing, key=lambda c: c.n_needed or 0)
    return JudgedCell(
        gates=cell.gates,
        judged=cell.judged,
        failed=failed,
        unjudged=True,
        n=min(x for x in (worst.n_baseline, worst.n_candidate) if x is not None),
        needed=worst.n_needed,
        why="; ".join(f"{c.gate}: {c.why()}" for c in missing),
    )


def throughput(run: RunFolder) -> Markup:
    """Iterations and failures per second, per target."""
    if not run.timeline:
        return not_recorded("timeline.json: load runs and rehearsals only")
    start = min(float(r["t"]) for r in run.timeline)
    per_target: dict[str, tuple[list[float], list[float], list[float]]] = {}
    for row in run.timeline:
        t, iterations, failures = per_target.setdefault(str(row["target"]), ([], [], []))
        t.append(float(row["t"]) - start)
        iterations.append(float(row.get("iterations", 0)))
        failures.append(float(row.get("failures", 0)))
    return figure(time_charts.timeline(per_target), "Iterations and failed iterations per second")


def funnels(run: RunFolder) -> Markup:
    """Per journey, how many iterations reached and passed each step, per target."""
    parts = []
    failed_at = _failed_steps(run)
    for journey in run.journeys():
        per_target = {}
        for target in run.targets:
            rows = []
            for step, touchpoint in run.step_order(journey):
                reached = run.count(SeriesKey(target, journey, step, touchpoint))
                failed = failed_at.get((target, journey, step, touchpoint), 0)
                rows.append(charts.FunnelStep(step, touchpoint, reached, reached - failed))
            if any(r.reached for r in rows):
                per_target[target] = rows
        if per_target:
            parts.append(figure(charts.funnel(journey, per_target), f"{journey}: step funnel"))
    return Markup("").join(parts) or not_recorded("no step was measured")


def _failed_steps(run: RunFolder) -> dict[tuple[str, str, str, str], int]:
    found: dict[tuple[str, str, str, str], int] = {}
    if run.counts is not None:
        for e in run.counts.get("errors", []):
            key = (e["target"], e["journey"], e["step"], e["touchpoint"])
            found[key] = found.get(key, 0) + int(e["count"])
        return found
    for s in run.steps:
        if s.outcome.value == "failed":
            key = (s.target, s.journey, s.step, s.touchpoint.value)
            found[key] = found.get(key, 0) + 1
    return found


_HEALTH_FACTS = ("cpu_median", "cpu_max", "browser_cpu_max", "lag_p95_ms", "late", "dropped")


def generator_health(run: RunFolder) -> Markup:
    """The load generator's CPU, Chromium CPU and lag over time, and the saturation call."""
    if not run.health or not run.health.get("samples"):
        return not_recorded("health.json: load runs and rehearsals only")
    summary = run.health.get("summary", {})
    warned = summary.get("warnings")  # memory growth: a warning, not a saturation
    return render(
        "health.html",
        saturated=bool(summary.get("saturated")),
        reasons=[str(r) for r in summary.get("reasons", [])],
        fact={k: str(summary.get(k, "?")) for k in _HEALTH_FACTS},
        warnings=[str(w) for w in warned] if isinstance(warned, list) else [],
        svg=trusted_svg(charts.health(run.health["samples"])),
    )


def impact(run: RunFolder) -> Markup:
    """Which endpoints each step of each journey calls."""
    edges: dict[tuple[str, str, str], set[str]] = {}
    for s in run.steps:
        called = edges.setdefault((s.journey, s.step, s.touchpoint.value), set())
        for request in s.requests:
            called.add(f"{request.method} {url_template(urlsplit(request.url).path)}")
    if not edges:
        return not_recorded("no step records")
    order = {j: i for i, j in enumerate(run.journeys())}
    steps = {j: run.step_order(j) for j in order}
    ranked = sorted(edges, key=lambda k: (order[k[0]], _index(steps[k[0]], (k[1], k[2]))))
    ordered = {k: edges[k] for k in ranked}
    count = len(set().union(*edges.values()))
    caption = (
        f"{plural(len(order), 'journey')} → {plural(len(edges), 'step')} → "
        f"{plural(count, 'endpoint')}"
    )
    return figure(charts.impact_map(ordered), caption)


def _index(items: list[tuple[str, str]], item: tuple[str, str]) -> int:
    return items.index(item) if item in items else len(items)


def metadata(run: RunFolder) -> Markup:
    """Targets, versions, seed, config hash, git revision, timing and the command."""
    meta = run.meta
    if not meta:
        return not_recorded("run.json " + run.missing.get("run.json", "not recorded"))
    rows = [
        ("run id", run.run_id),
        ("mode", run.mode),
        ("status", run.status),
        ("started", meta.get("started_at")),
        ("ended", meta.get("ended_at")),
        ("seed", meta.get("seed")),
        ("config hash", run.config_hash),
        ("git revision", meta.get("git_revision")),
        ("host", meta.get("host")),
        ("command", " ".join(str(a) for a in meta.get("command") or [])),
    ]
    if run.verdict is not None:
        rows.append(("time to decision", f"{run.verdict.time_to_decision_s or 0:.1f} s"))
    drill = meta.get("drill") or {}
    if drill:  # a run of `harness drill`: its coverage matrix is in the drill's folder
        fault = drill.get("fault") or "none (A/A)"
        rows.append(
            (
                "failure drill",
                f"{drill.get('drill_id')} · fault {fault} · coverage in ../report.html",
            )
        )
    plan = (meta.get("config") or {}).get("plan") or {}
    if plan:
        keys = ("shape", "users", "spawn_rate", "duration_s", "browser_users", "workers", "rate")
        rows.append(("plan", ", ".join(f"{k} {plan[k]}" for k in keys if k in plan)))
    versions = ", ".join(f"{k} {v}" for k, v in (meta.get("versions") or {}).items())
    rows.append(("versions", versions))
    targets = [
        (role, str(t.get("name", "")), [str(t.get(tp) or "") for tp in ("web", "api", "mobile")])
        for role, t in (meta.get("targets") or {}).items()
        if isinstance(t, dict)
    ]
    return render("metadata.html", rows=rows, targets=targets)
