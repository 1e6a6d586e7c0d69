"""`harness drill`, as the run layer runs it: rehearse a target against itself with known
faults injected between the harness and the candidate side, and report which gates caught
which fault, how fast, and how often the gates raise false alarms (`--aa`).

Each fault is drilled in its own rehearsal, so every gate that trips can be put down to it: the
baseline side reaches the target through a proxy with no fault (or directly, with
`--direct-baseline`), the candidate side through a proxy with the fault. With `--sandbox` each
side gets its own sandbox of the same release (journeys create accounts, and both sides replay
the same synthetic people). The run is never stopped early, so that recovery after a fault's
window can be seen; the gates are judged once the run folder is complete (spans included), then
replayed on windows of it for the times to detect and to recover.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from harness.drill.findings import (
    AaRun,
    DrillRecord,
    FaultFinding,
    GateHit,
    conclusion,
    unhealthy_baseline,
)
from harness.drill.knobs import check_knob, knob
from harness.drill.report import aa_lines, fault_lines, matrix_lines, write_report
from harness.drill.report import summary_markdown as drill_markdown
from harness.engine.collector import LoadAggregator
from harness.engine.outcome import LoadOutcome
from harness.engine.summary import Health
from harness.errors import UsageError
from harness.exitcodes import ExitCode
from harness.faults.process import ProxyProcess
from harness.faults.spec import Fault, parse_faults
from harness.gates.config import Gate, ScoreGate
from harness.gates.data import RunData
from harness.gates.outcome import Decision
from harness.gates.verdict import Verdict, evaluate, summary_markdown
from harness.results import RUN_FILE, RunDirectory, new_run_id, replace_file
from harness.run.evidence import publish_reports
from harness.run.plan import BasePlan
from harness.run.rehearsal import start_sandbox
from harness.run.request import DrillSettings, RunRequest
from harness.run.session import Session
from harness.run.targets import check_allowed, check_reachable, resolve_named_target
from harness.targets import Target, without_userinfo

STATUS = {"pass": "passed", "fail": "failed", "inconclusive": "inconclusive", "error": "error"}


def run_drill(request: RunRequest) -> int:
    """Run every fault's drill (or the A/A runs); exit 1 when the gates are blind to a fault or
    cried wolf, 0 otherwise."""
    drill = _check(request)
    faults = parse_faults(drill.faults)
    if not request.sides.sandbox:
        _check_upstreams(request)
    root = request.results_root
    drill_id = new_run_id("drill")
    folder = root / drill_id
    folder.mkdir(parents=True, exist_ok=True)
    gates = request.gates()
    target_name = "sandbox" if request.sides.sandbox else str(request.sides.target)
    record = DrillRecord(drill_id=drill_id, target=target_name, gates=[g.title() for g in gates])
    print(f"journey-harness drill {drill_id} · {target_name} · results in {folder}", flush=True)
    each = request.with_results(folder)
    if drill.aa:
        for index in range(drill.runs):
            print(f"\n== A/A run {index + 1} of {drill.runs}", flush=True)
            outcome = _drill_run(each, folder, None, gates)
            if outcome is None:
                return ExitCode.HARNESS_ERROR
            aa = _aa_run(*outcome)
            record = record.model_copy(update={"aa": [*record.aa, aa]})
            failed = f": failed {', '.join(aa.failed)}" if aa.failed else ""
            print(f"A/A run {index + 1}: {aa.decision}{failed} ({aa.run_id})", flush=True)
            _write(folder, record)
    for fault in faults:
        print(f"\n== fault {fault.spec}", flush=True)
        outcome = _drill_run(each, folder, fault, gates)
        if outcome is None:
            return ExitCode.HARNESS_ERROR
        finding = _finding(fault, list(drill.expect), gates, *outcome, step_s=drill.replay_step_s)
        record = record.model_copy(update={"faults": [*record.faults, finding]})
        print("\n".join(fault_lines(finding)), flush=True)
        _write(folder, record)
    return _conclude(folder, record)


def _check(request: RunRequest) -> DrillSettings:
    """The drill's settings, refused (exit 2) when they cannot make a drill."""
    drill = request.drill
    assert drill is not None, "a drill's request has its settings"
    parse_faults(drill.faults)
    if request.distribution.worker:
        raise UsageError("a drill drives its own load; it does not run as a --worker")
    if not request.sides.sandbox and not request.sides.target:
        raise UsageError(
            "give a target: --target NAME|URL (both sides hit it), or --sandbox for the "
            "bundled shop; e.g. harness drill --sandbox --fault 'errors:api.orders.create=2%'"
        )
    if drill.aa == bool(drill.faults):
        raise UsageError(
            "give faults to drill (--fault SPEC, repeatable, e.g. --fault "
            "'latency:api.orders.create=+300ms@10%') or --aa --runs N for false alarms, not both"
        )
    for fault in parse_faults(drill.faults):
        check_knob(fault, sandbox=request.sides.sandbox)
    if drill.runs < 1:
        raise UsageError(f"--runs must be at least 1 (got {drill.runs})")
    if not 0.1 <= drill.replay_step_s <= 60:
        raise UsageError(
            f"--replay-step {drill.replay_step_s:g}: give 0.1 to 60 seconds (the grid on which "
            "times to detect and to recover are found), e.g. --replay-step 1"
        )
    return drill


def _check_upstreams(request: RunRequest) -> None:
    """The real deployments behind the drill proxies, checked before any request as every other
    mode checks its targets: loopback unless `allow_load`, `production = true` only with
    `--allow-production NAME` (each under its own name), and answering at all (exit 3)."""
    sides, config = request.sides, request.config
    assert sides.target is not None
    upstreams = [resolve_named_target(sides.target, config)]
    if sides.baseline:
        upstreams.append(resolve_named_target(sides.baseline, config, role="baseline"))
    for upstream in upstreams:
        check_allowed(upstream, sides.allow_production)
    for upstream in upstreams:
        check_reachable(upstream)


@dataclass
class _Run:
    """What one drill run left behind for the analysis."""

    run_dir: Path | None = None
    proxies: list[ProxyProcess] = field(default_factory=list)
    wall_s: float = 0.0


class DrillRun(BasePlan):
    """One rehearsal through the drill proxies: never stopped early, judged by the drill once
    the folder is complete (its reports rendered after that verdict)."""

    mode = "rehearse"  # a rehearsal in every respect; run.json says which drill and fault
    reports = False

    def __init__(self, request: RunRequest, fault: Fault | None) -> None:
        super().__init__(request)
        self.fault = fault
        self.state = _Run()

    def targets(self, request: RunRequest, stack: ExitStack, run_path: Path) -> list[Target]:
        self.state.run_dir = run_path
        base, cand = _deployments(request, stack, run_path, knob(self.fault))
        if self.fault is not None and knob(self.fault):
            print(f"candidate: {self.fault.spec} as its sandbox's knob {knob(self.fault)[0]}")
        names = {"baseline": base.name, "candidate": cand.name}  # as harness.toml names them
        base = base.model_copy(update={"name": "baseline"})
        cand = cand.model_copy(update={"name": "candidate"})
        specs = [self.fault.spec] if self.fault is not None and not knob(self.fault) else []
        assert request.drill is not None
        keep = request.drill.preserve_host
        state, seed = self.state, request.seed
        if not request.drill.direct_baseline:
            base = _through_proxy(base, [], stack, state, seed=seed, keep_host=keep, names=names)
        # a knob fault is in the candidate's sandbox, not its proxy: say so on the proxy's line
        note = ""
        if self.fault is not None and knob(self.fault):
            note = f" (no proxy fault: {self.fault.spec} is the sandbox's knob)"
        return [
            base,
            _through_proxy(
                cand, specs, stack, state, seed=seed, keep_host=keep, names=names, note=note
            ),
        ]

    def judge(
        self, run: RunDirectory, aggregator: LoadAggregator, outcome: LoadOutcome, health: Health
    ) -> int:
        run.finish(
            "judging",
            iterations=aggregator.iterations,
            failed=aggregator.failures,
            elapsed_s=round(outcome.elapsed_s, 3),
        )
        return ExitCode.PASSED


def _drill_run(
    request: RunRequest, folder: Path, fault: Fault | None, gates: list[Gate]
) -> tuple[_Run, Verdict, RunData] | None:
    """One rehearsal through the proxies; then the verdict on the complete run folder."""
    request = request.for_next_run()  # each run its own people, unless --seed fixed them
    plan = DrillRun(request, fault)
    state = plan.state
    started = time.perf_counter()
    code = Session(request).run(plan)
    state.wall_s = time.perf_counter() - started
    if code != ExitCode.PASSED or state.run_dir is None:
        return None
    data = RunData.load(state.run_dir)
    verdict = evaluate(data, gates, elapsed_s=None)
    unhealthy = unhealthy_baseline(data)
    if unhealthy is not None:
        verdict = verdict.model_copy(
            update={"decision": Decision.INCONCLUSIVE, "reasons": [unhealthy, *verdict.reasons]}
        )
    drilled = {"drill_id": folder.name, "fault": fault.spec if fault is not None else None}
    _publish(state.run_dir, verdict, drilled)
    return state, verdict, data


def _deployments(
    request: RunRequest, stack: ExitStack, run_path: Path, candidate_knob: tuple[str, ...] = ()
) -> tuple[Target, Target]:
    """The deployments behind the baseline and candidate sides: two sandboxes of the same
    release (with `--regression` knobs on both, and a `cpu:` fault's knob on the candidate),
    or the target (twice, or `--baseline` for the baseline side)."""
    sides, config = request.sides, request.config
    if sides.sandbox:
        base, cand = (
            start_sandbox(
                role, (*sides.regressions, *extra), request, stack, run_path, release="baseline"
            )
            for role, extra in (("baseline", ()), ("candidate", candidate_knob))
        )
        return base, cand
    assert sides.target is not None
    target = resolve_named_target(sides.target, config)
    baseline = (
        resolve_named_target(sides.baseline, config, role="baseline") if sides.baseline else target
    )
    return baseline, target


def _through_proxy(
    target: Target,
    specs: list[str],
    stack: ExitStack,
    state: _Run,
    *,
    seed: int | None,
    keep_host: bool = False,
    names: dict[str, str] | None = None,
    note: str = "",
) -> Target:
    """`target` with each of its origins behind a drill proxy carrying `specs`. The proxies
    reach the origins with the target's connection settings (`[targets.NAME.http]`: proxy, CA,
    `verify`, client certificate; `names` maps the side to NAME); the journeys reach the proxies
    on loopback directly, sending the target's headers, which the proxies forward."""
    urls = {touchpoint.value: url for touchpoint, url in target.urls.items()}
    origins: dict[str, dict[str, str]] = {}
    for touchpoint, url in urls.items():
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        origins.setdefault(origin, {})[parts.path.rstrip("/") or "/"] = touchpoint
    rewritten = dict(urls)
    for origin, touchpoints in origins.items():
        proxy = ProxyProcess(
            origin,
            specs,
            touchpoints=touchpoints,
            seed=seed,
            preserve_host=keep_host,
            http=target.http,
            name=(names or {}).get(target.name, target.name),
        )
        proxy.start()
        stack.callback(proxy.stop)
        state.proxies.append(proxy)
        for touchpoint, url in urls.items():
            if url.startswith(origin):
                rewritten[touchpoint] = proxy.url + url[len(origin) :]
    label = f" with {', '.join(specs)}" if specs else (note or " (no fault)")
    web = without_userinfo(target.web)
    print(f"{target.name}: {web} behind the drill proxy {rewritten['web']}{label}")
    return target.model_copy(update={**rewritten, "http": target.http.reached_directly()})


def _publish(run_dir: Path, verdict: Verdict, drilled: dict[str, str | None]) -> None:
    """verdict.json and summary.md of one drill run, run.json's status, and its reports."""
    replace_file(run_dir / "verdict.json", verdict.model_dump_json(indent=2) + "\n")
    summary = run_dir / "summary.md"
    previous = summary.read_text(encoding="utf-8") if summary.is_file() else ""
    replace_file(summary, summary_markdown(verdict) + "\n" + previous)
    meta = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    meta.update(status=STATUS[verdict.decision.value], verdict=verdict.decision.value)
    meta["drill"] = drilled
    replace_file(run_dir / RUN_FILE, json.dumps(meta, indent=2) + "\n")
    publish_reports(run_dir)


def _finding(
    fault: Fault,
    expected: list[str],
    gates: list[Gate],
    state: _Run,
    verdict: Verdict,
    data: RunData,
    *,
    step_s: float,
) -> FaultFinding:
    """Which gates tripped, whether the expected ones did, and when."""
    from harness.drill.replay import StoredRun, detection_times, recovery_times

    assert state.run_dir is not None
    stored = StoredRun.read(state.run_dir, data)
    proxy = state.proxies[-1]  # the candidate's proxies are started last
    onset = max(proxy.clock + fault.after_s, stored.start)
    ends = None if fault.ends_s is None else proxy.clock + fault.ends_s
    failed_names = {o.name for o in verdict.gates if o.decision is Decision.FAIL}
    from harness.gates.family import split_alpha  # the verdict's shares, spent over the looks

    shared = split_alpha(gates)[0]
    tripped = [g for g in shared if g.title() in failed_names and not isinstance(g, ScoreGate)]
    detected = detection_times(stored, tripped, onset, step_s=step_s)
    recovered: dict[str, float | None] = {}
    if ends is not None and ends < stored.end:
        recovered = recovery_times(stored, tripped, ends, step_s=step_s)
    hits = [
        GateHit(
            name=o.name,
            kind=o.kind,
            decision=o.decision.value,
            summary=o.summary,
            detected_after_s=detected.get(o.name),
            recovered_after_s=recovered.get(o.name),
        )
        for o in verdict.gates
    ]
    failed = [h for h in hits if h.decision == "fail"]
    caught_by = [h.name for h in failed if not expected or h.name in expected or h.kind in expected]
    unjudgeable = verdict.reasons[0] if _is_unjudgeable(verdict) else None
    if unjudgeable is not None:
        caught_by = []
    applied = sum(p.counts.get(fault.spec, 0) for p in state.proxies)
    requests = sum(p.counts.get("requests", 0) for p in state.proxies if fault.spec in p.faults)
    return FaultFinding(
        fault=fault.spec,
        run_id=state.run_dir.name,
        decision=verdict.decision.value,
        caught=bool(caught_by),
        caught_by=caught_by,
        expected=list(expected),
        gates=hits,
        onset_s=round(onset - stored.start, 1),
        window_s=fault.for_s,
        run_s=round(stored.end - stored.start, 1),
        wall_s=round(state.wall_s, 1),
        proxy_requests=requests,
        proxy_applied=applied,
        unjudgeable=unjudgeable,
    )


def _is_unjudgeable(verdict: Verdict) -> bool:
    """Whether the verdict was made inconclusive by an unhealthy baseline side."""
    reasons = verdict.reasons
    return (
        verdict.decision is Decision.INCONCLUSIVE
        and bool(reasons)
        and reasons[0].startswith("the baseline side")
    )


def _aa_run(state: _Run, verdict: Verdict, data: RunData) -> AaRun:
    assert state.run_dir is not None
    return AaRun(
        run_id=state.run_dir.name,
        decision=verdict.decision.value,
        failed=[g.name for g in verdict.gates if g.decision is Decision.FAIL],
        inconclusive=[g.name for g in verdict.gates if g.decision is Decision.INCONCLUSIVE],
        wall_s=round(state.wall_s, 1),
        unjudgeable=verdict.reasons[0] if _is_unjudgeable(verdict) else None,
    )


def _write(folder: Path, record: DrillRecord) -> None:
    replace_file(folder / "drill.json", record.model_dump_json(indent=2) + "\n")
    replace_file(folder / "summary.md", drill_markdown(record))
    write_report(folder, record)


def _conclude(folder: Path, record: DrillRecord) -> int:
    print()
    for line in [*matrix_lines(record), *aa_lines(record)]:
        print(line)
    print(f"\ndrill: {folder / 'drill.json'} · report: {folder / 'report.html'}")
    code, line = conclusion(record)
    print(f"\n{line}")
    return code
