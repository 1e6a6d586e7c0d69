"""The plan of `harness load` (`Load`): one target, and how it decides its exit code: the
error-rate limit, every selected journey finishing an iteration, and the `threshold` gates of
harness.toml (as k6 users expect of thresholds). Relative and baseline gates need a second side
and do not apply to a plain load.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from harness.engine.collector import LoadAggregator
from harness.engine.outcome import LoadOutcome
from harness.engine.summary import Health
from harness.errors import HarnessError
from harness.exitcodes import ExitCode
from harness.gates.config import Gate
from harness.gates.data import RunData
from harness.gates.outcome import Decision
from harness.gates.verdict import Verdict, evaluate, summary_lines, summary_markdown
from harness.results import RunDirectory, replace_file
from harness.run.plan import BasePlan
from harness.run.request import RunRequest, configured_gates
from harness.run.targets import resolve_target
from harness.targets import Target
from harness.text import plural

THRESHOLD = "threshold"
_STATUS = {
    Decision.PASS: "passed",
    Decision.FAIL: "failed",
    Decision.INCONCLUSIVE: "inconclusive",
    Decision.ERROR: "error",
}


def load_gates(request: RunRequest) -> tuple[list[Gate], list[Gate]]:
    """The gates of harness.toml that a plain load judges (`threshold`) and those it cannot
    (they compare against a baseline). No `[[gates]]`: none of either."""
    if not request.config.gates:
        return [], []
    gates = configured_gates(request.config, request.config_source or Path("harness.toml"), None)
    return (
        [g for g in gates if g.kind == THRESHOLD],
        [g for g in gates if g.kind != THRESHOLD],
    )


class Load(BasePlan):
    """`harness load`: one target (or the sandbox), judged on errors, coverage and thresholds."""

    mode = "load"

    def targets(self, request: RunRequest, stack: ExitStack, run_path: Path) -> list[Target]:
        """`--target` or the bundled sandbox."""
        traces = run_path / "traces" / "sandbox.jsonl" if request.tracing.traces else None
        return [
            resolve_target(
                request.config,
                stack,
                sandbox=request.sides.sandbox,
                target=request.sides.target,
                regressions=request.sides.regressions,
                sandbox_traces=traces,
            )
        ]

    def judge(
        self, run: RunDirectory, aggregator: LoadAggregator, outcome: LoadOutcome, health: Health
    ) -> int:
        """Exit 1 when more than `--max-error-rate` percent of iterations failed, a selected
        journey finished none, a worker was lost, or a threshold gate failed; 4 when a threshold
        gate could not be judged (too few samples) and nothing failed; 3 when the gates could
        not be evaluated. With threshold gates, writes verdict.json."""
        thresholds, others = load_gates(self.request)
        limit = self.request.shape.max_error_rate
        iterations, failed = aggregator.iterations, aggregator.failures
        error_rate = 100.0 * failed / iterations if iterations else 0.0
        never = sorted({journey for _, journey in aggregator.never_ran()})
        problems = []
        if iterations == 0:
            problems.append("no iteration finished")
        if error_rate > limit:
            problems.append(f"{error_rate:.2f}% of iterations failed (limit {limit:g}%)")
        if outcome.missing_finals:
            problems.append(f"lost workers {', '.join(outcome.missing_finals)}")
        for journey in never:
            cut = sum(t.cut_off for (_, j), t in aggregator.journeys.items() if j == journey)
            why = (
                f"finished no iteration ({cut:,} cut off by the end of the load)"
                if cut
                else "never ran (0 iterations)"
            )
            problems.append(f"journey `{journey}` {why}")
            print(f"\nFAIL: journey `{journey}` {why}")
        verdict = _thresholds(run, thresholds, others, outcome, problems)
        decision = verdict.decision if verdict is not None else Decision.PASS
        if problems and decision is not Decision.ERROR:
            decision = Decision.FAIL
        run.finish(
            _STATUS[decision],
            iterations=iterations,
            failed=failed,
            elapsed_s=round(outcome.elapsed_s, 3),
            missing_workers=outcome.missing_finals,
            never_ran=never,
            cut_off=aggregator.cut_off,
            **({"verdict": verdict.decision.value} if verdict is not None else {}),
        )
        head = {
            Decision.PASS: "PASS",
            Decision.FAIL: "FAIL",
            Decision.INCONCLUSIVE: "INCONCLUSIVE",
            Decision.ERROR: "ERROR",
        }[decision]
        print(
            f"\n{head}: {plural(iterations, 'iteration')}, {failed:,} failed "
            f"({error_rate:.2f}%, limit {limit:g}%) in {outcome.elapsed_s:.1f} s "
            f"· results in {run.path}"
        )
        return int(
            {
                Decision.PASS: ExitCode.PASSED,
                Decision.FAIL: ExitCode.FAILED,
                Decision.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
                Decision.ERROR: ExitCode.HARNESS_ERROR,
            }[decision]
        )


def _thresholds(
    run: RunDirectory,
    thresholds: list[Gate],
    others: list[Gate],
    outcome: LoadOutcome,
    problems: list[str],
) -> Verdict | None:
    """Judge the threshold gates on the stored run; write verdict.json and put the verdict at
    the top of summary.md. None when there are none."""
    if others:
        names = ", ".join(sorted({g.kind for g in others}))
        print(
            f"\n  gates: not judged in a plain load, which has no baseline to compare with: "
            f"{plural(len(others), 'gate')} of harness.toml ({names}); see harness rehearse"
        )
    if not thresholds:
        return None
    print(f"  gates: judging {plural(len(thresholds), 'threshold gate')} of harness.toml")
    try:
        data = RunData.load(run.path)
        verdict = evaluate(data, thresholds, elapsed_s=round(outcome.elapsed_s, 3))
    except (OSError, ValueError, HarnessError) as exc:
        print(f"ERROR: the threshold gates could not be judged: {exc}")
        return Verdict(
            decision=Decision.ERROR,
            reasons=[f"the threshold gates could not be judged: {exc}"],
            run_id=run.run_id,
            baseline=None,
            candidate={},
            seed=run.meta.get("seed"),
            config_hash="",
            decided_at="",
            evaluation_s=0.0,
            gates=[],
        )
    if problems and verdict.decision is not Decision.ERROR:
        # the load's own failures are the verdict's too, so that verdict.json, summary.json and
        # the report agree with the exit code
        reasons = [*problems, *(r for r in verdict.reasons if verdict.decision is Decision.FAIL)]
        verdict = verdict.model_copy(update={"decision": Decision.FAIL, "reasons": reasons})
    replace_file(run.path / "verdict.json", verdict.model_dump_json(indent=2) + "\n")
    summary = run.path / "summary.md"
    previous = summary.read_text(encoding="utf-8") if summary.is_file() else ""
    replace_file(summary, summary_markdown(verdict) + "\n" + previous)
    print()
    print("\n".join(summary_lines(verdict)))
    return verdict
