"""The sections of report.html, each a function from the run folder to an HTML fragment."""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from harness.gates.coverage import CoverageRow, coverage_headline
from harness.gates.outcome import Decision, Evidence
from harness.report import charts
from harness.report.folder import Distribution, RunFolder, unfinished_text
from harness.report.junit import failure_line
from harness.report.summary import decision_of
from harness.telemetry.hdr import ITERATION, SeriesKey
from harness.telemetry.spans import url_template
from harness.text import plural

NOT_RECORDED = "<p class=muted>Not recorded for this run{why}.</p>"
MIN_CDF_VALUES = 3  #: a CDF of one or two values (a smoke run) says nothing


def not_recorded(why: str = "") -> str:
    """The placeholder of a section whose data the run folder does not hold."""
    return NOT_RECORDED.format(why=f" ({escape(why)})" if why else "")


def figure(svg: str, caption: str) -> str:
    """An inline chart with its caption."""
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def banner(run: RunFolder) -> str:
    """The decision (rehearsals) or the run status (smoke, load), and why, in plain words."""
    decision = decision_of(run)
    if run.verdict is not None:
        head = decision.upper()
        reasons = run.verdict.reasons
    else:
        head = {"pass": "PASSED", "fail": "FAILED"}.get(decision, run.status.upper())
        reasons = _status_reasons(run)
    items = "".join(f"<li>{escape(r)}</li>" for r in reasons[:6])
    more = f"<li>…and {len(reasons) - 6} more</li>" if len(reasons) > 6 else ""
    return (
        f'<section class="banner {escape(decision)}" id=verdict>'
        f"<div class=decision>{escape(head)}</div>"
        f"<div><p class=what>{escape(run.mode)} run <code>{escape(run.run_id)}</code> · "
        f"status {escape(run.status)}</p><ul>{items}{more}</ul></div></section>"
    )


def _status_reasons(run: RunFolder) -> list[str]:
    if run.mode == "rehearse":
        why = run.missing.get("verdict.json", "not recorded")
        return [f"no verdict: verdict.json {why} (the run ended before its gates)"]
    reasons = []
    for target in run.targets:
        tallies = [run.tally(target, j) for j in run.journeys()]
        iterations = sum(t.iterations for t in tallies)
        failures = sum(t.failures for t in tallies)
        if run.mode == "smoke":
            passed = sum(1 for t in tallies if t.iterations and not t.failures)
            reasons.append(f"{passed}/{plural(len(tallies), 'journey')} passed on {target}")
        else:
            share = failures / iterations if iterations else 0.0
            reasons.append(
                f"{plural(iterations, 'iteration')} on {target}, {failures:,} failed ({share:.2%})"
            )
    for record in run.failed_iterations()[:3]:
        reasons.append(failure_line(record))
    saturated = (run.health or {}).get("summary", {})
    if saturated.get("saturated"):
        reasons.append("the load generator was saturated: " + "; ".join(saturated["reasons"]))
    return reasons or ["nothing recorded"]


def gates(run: RunFolder) -> str:
    """Every gate with its decision and summary; its evidence in an expandable row."""
    if run.verdict is None:
        if run.mode != "rehearse":
            return not_recorded("gates judge rehearsals")
        return not_recorded("verdict.json " + run.missing.get("verdict.json", "not recorded"))
    rows = []
    for gate in run.verdict.gates:
        critical = " <span class=tag>critical</span>" if gate.critical else ""
        evidence = _evidence_table(gate.evidence) if gate.evidence else "<p>no evidence</p>"
        rows.append(
            f"<tr><td><span class='badge {gate.decision.value}'>{gate.decision.value}</span></td>"
            f"<td><details><summary><b>{escape(gate.name)}</b>{critical} "
            f"<span class=muted>({escape(gate.kind)})</span><br>{escape(gate.summary)}"
            f"</summary>{evidence}</details></td></tr>"
        )
    head = "<tr><th>decision</th><th>gate (click for evidence)</th></tr>"
    return f"<table class=gates>{head}{''.join(rows)}</table>" + _coverage_table(
        run.verdict.coverage
    )


def _coverage_table(rows: list[CoverageRow]) -> str:
    """Per journey, step and touchpoint: the gates that judged it, and those that could not
    (n per side against the n needed)."""
    if not rows:
        return ""
    body = []
    for row in rows:
        judged = ", ".join(row.judged_by) or "—"
        missing = "; ".join(f"{c.gate}: {c.why()}" for c in row.unjudged)
        marked = f"<span class=notjudged>{escape(missing)}</span>" if missing else "—"
        name = escape(row.label) if row.gates else f"{escape(row.label)} <i>(no gate)</i>"
        body.append(f"<tr><td>{name}</td><td>{escape(judged)}</td><td>{marked}</td></tr>")
    head = (
        "<tr><th>journey › step (touchpoint)</th><th>judged by</th>"
        "<th>not judged: n per side of n needed</th></tr>"
    )
    return (
        f"<details class=coverage><summary>{escape(coverage_headline(rows))}</summary>"
        f"<table class=coverage>{head}{''.join(body)}</table></details>"
    )


def _evidence_table(evidence: list[Evidence]) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "series",
            "decision",
            "test",
            "n (base / cand)",
            "estimate",
            "interval",
            "finding",
        )
    )
    rows = []
    for e in evidence:
        interval = ""
        if e.interval is not None:
            level = f" ({e.level:.2%})" if e.level else ""
            interval = f"{_num(e.interval[0])} to {_num(e.interval[1])}{level}"
        n = f"{_count(e.n_baseline)} / {_count(e.n_candidate)}"
        if e.n_needed is not None:
            n += f"<br><span class=muted>of {e.n_needed:,} {escape(e.counts)} needed</span>"
        traces = (
            f"<br><span class=muted>traces {escape(', '.join(t[:12] for t in e.trace_ids))}</span>"
            if e.trace_ids
            else ""
        )
        rows.append(
            f"<tr><td>{escape(e.series)}</td>"
            f"<td><span class='badge {e.decision.value}'>{e.decision.value}</span></td>"
            f"<td>{escape(e.test)}</td><td class=num>{n}</td>"
            f"<td class=num>{_num(e.estimate)} {escape(e.unit)}</td><td class=num>{interval}</td>"
            f"<td>{escape(e.words)}{traces}</td></tr>"
        )
    return f"<table class=evidence><tr>{head}</tr>{''.join(rows)}</table>"


def latency(run: RunFolder) -> str:
    """A percentile table per journey and step, and CDFs with the targets overlaid. With a
    verdict, each row says which gates judged it: a change is red only where a gate failed,
    and a row a gate could not judge is marked with its n against the n needed."""
    series = run.series()
    if not series:
        return not_recorded("no step was measured")
    targets = run.targets
    coverage = _coverage(run)
    cols = "".join(f"<th>{escape(t)} n</th><th>p50</th><th>p95</th><th>p99</th>" for t in targets)
    delta = "<th>p95 change</th>" if len(targets) > 1 else ""
    judged = "<th>gates</th>" if coverage else ""
    rows = [f"<tr><th>journey / step</th><th>touchpoint</th>{cols}{delta}{judged}</tr>"]
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
                    span = 4 * len(targets) + (len(targets) > 1)
                    rows.append(
                        f"<tr class=unrun><td><b>{escape(journey)}</b></td><td>—</td>"
                        f"<td colspan={span}>{escape(unfinished_text(run, journey))}</td></tr>"
                    )
                continue
            label = f"<b>{escape(journey)}</b>" if step == ITERATION else f"› {escape(step)}"
            row = coverage.get(
                (journey, None, None) if step == ITERATION else (journey, step, touchpoint)
            )
            cells = ""
            for t in targets:
                d = dists.get(t)
                if d is None:
                    cells += "<td></td>" * 4
                    continue
                cells += f"<td class=num>{d.total:,}</td>" + "".join(
                    f"<td class=num>{_ms(d.percentile(p))}</td>" for p in (50.0, 95.0, 99.0)
                )
            if len(targets) > 1:
                cells += _change(dists.get(targets[0]), dists.get(targets[-1]), row)
            if coverage:
                cells += _judged_cell(row)
            rows.append(f"<tr><td>{label}</td><td>{escape(touchpoint or '—')}</td>{cells}</tr>")
            title = "whole journey" if step == ITERATION else f"{step} [{touchpoint}]"
            if max(d.total for d in dists.values()) >= MIN_CDF_VALUES:
                panels.append((title, dists))
        if panels:
            svg = charts.latency_cdfs(panels)
            figures.append(figure(svg, f"{journey}: latency CDF per step (log scale)"))
    return f"<table class=latency>{''.join(rows)}</table>" + "".join(figures)


RowKey = tuple[str, str | None, str | None]


def _coverage(run: RunFolder) -> dict[RowKey, CoverageRow]:
    if run.verdict is None:
        return {}
    return {(r.journey, r.step, r.touchpoint): r for r in run.verdict.coverage}


def _change(base: Distribution | None, cand: Distribution | None, row: CoverageRow | None) -> str:
    """The p95 change: red only when a gate failed on the row, muted when no gate judged it
    (a change no gate could test is not a finding)."""
    if base is None or cand is None or not base.total or not cand.total:
        return "<td></td>"
    before, after = base.percentile(95.0), cand.percentile(95.0)
    if before <= 0:
        return "<td></td>"
    change = after / before - 1
    cls = "num"
    if row is not None and row.failed:
        cls = "num worse"
    elif row is not None and row.unjudged:
        cls = "num unjudged"
    return f"<td class='{cls}'>{change:+.0%}</td>"


def _judged_cell(row: CoverageRow | None) -> str:
    """Which gates judged a row: failed ones named in red, a row a gate could not judge
    marked `not judged: 8/100` (the fewest per side against the most needed)."""
    if row is None or not row.gates:
        return "<td class=muted>no gate</td>"
    parts = []
    failed = [c.gate for c in row.gates if c.decision is Decision.FAIL]
    if failed:
        parts.append(f"<span class=bad>failed: {escape(', '.join(failed))}</span>")
    missing = row.unjudged
    if missing:
        worst = max(missing, key=lambda c: c.n_needed or 0)
        n = min(x for x in (worst.n_baseline, worst.n_candidate) if x is not None)
        need = f"/{worst.n_needed:,}" if worst.n_needed is not None else ""
        why = "; ".join(f"{c.gate}: {c.why()}" for c in missing)
        parts.append(f"<span class=notjudged title='{escape(why)}'>not judged: {n:,}{need}</span>")
    judged = len(row.judged_by)
    if judged and not failed:
        parts.append(f"<span class=muted>judged by {judged} of {len(row.gates)}</span>")
    return f"<td>{' '.join(parts)}</td>"


def throughput(run: RunFolder) -> str:
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
    return figure(charts.timeline(per_target), "Iterations and failed iterations per second")


def funnels(run: RunFolder) -> str:
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
    return "".join(parts) or not_recorded("no step was measured")


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


def generator_health(run: RunFolder) -> str:
    """The load generator's CPU, Chromium CPU and lag over time, and the saturation call."""
    if not run.health or not run.health.get("samples"):
        return not_recorded("health.json: load runs and rehearsals only")
    summary = run.health.get("summary", {})
    words = (
        "<p class=bad>Saturated: " + escape("; ".join(summary.get("reasons", []))) + "</p>"
        if summary.get("saturated")
        else "<p>The generator kept up.</p>"
    )
    warned = summary.get("warnings")  # memory growth: a warning, not a saturation
    if isinstance(warned, list):
        words += "".join(f"<p class=bad>Warning: {escape(str(w))}</p>" for w in warned)
    fact = {k: escape(str(summary.get(k, "?"))) for k in _HEALTH_FACTS}  # from a file: escaped
    facts = (
        f"<p class=muted>CPU median {fact['cpu_median']}% (max {fact['cpu_max']}%), Chromium max "
        f"{fact['browser_cpu_max']}%, lag p95 {fact['lag_p95_ms']} ms, late starts "
        f"{fact['late']}, dropped {fact['dropped']}</p>"
    )
    return words + facts + figure(charts.health(run.health["samples"]), "Load generator health")


def impact(run: RunFolder) -> str:
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


def metadata(run: RunFolder) -> str:
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
    table = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(str(v or '—'))}</td></tr>" for k, v in rows
    )
    targets = "".join(
        f"<tr><td>{escape(role)}</td><td>{escape(str(t.get('name', '')))}</td>"
        + "".join(
            f"<td><code>{escape(str(t.get(tp) or '—'))}</code></td>"
            for tp in ("web", "api", "mobile")
        )
        + "</tr>"
        for role, t in (meta.get("targets") or {}).items()
        if isinstance(t, dict)
    )
    head = "<tr><th>role</th><th>name</th><th>web</th><th>api</th><th>mobile</th></tr>"
    return f"<table class=meta>{table}</table><h3>Targets</h3><table>{head}{targets}</table>"


def _ms(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"
