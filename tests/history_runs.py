"""Run folders for the run history's tests, written by the real writer (`RunDirectory`):
smoke and monitor checks of given outcomes, and rehearsals with a verdict."""

from __future__ import annotations

import json
from pathlib import Path

from harness.errors import ErrorKind
from harness.gates.outcome import Decision, GateOutcome
from harness.gates.verdict import Verdict
from harness.records import IterationRecord, Outcome, StepRecord, Touchpoint
from harness.results import RunDirectory

T0 = 1_796_000_000.0
STEPS = (("list products", "api"), ("pay", "api"))


def check_folder(
    root: Path,
    run_id: str,
    *,
    started_at: str,
    target: str = "shop",
    mode: str = "smoke",
    journeys: dict[str, float] | None = None,
    failed: frozenset[str] = frozenset(),
) -> Path:
    """A smoke (or monitor) run's folder: each journey once, its steps `ms` each; the journeys
    in `failed` fail at their last step."""
    run = RunDirectory(root, run_id)
    run.start(mode=mode, target={"target": {"name": target}}, seed=11, config={})
    for number, (journey, ms) in enumerate((journeys or {"browse": 10.0}).items()):
        fails = journey in failed
        for index, (step, touchpoint) in enumerate(STEPS):
            last = index == len(STEPS) - 1
            run.step_finished(
                StepRecord(
                    run_id=run_id, target=target, journey=journey, step=step, index=index,
                    touchpoint=Touchpoint(touchpoint), worker=0, user=0, iteration=number,
                    started_at=T0 + number, duration_ms=ms * (index + 1),
                    outcome=Outcome.FAILED if fails and last else Outcome.PASSED,
                    error_kind=ErrorKind.ASSERTION if fails and last else None,
                    message="declined" if fails and last else None,
                )
            )  # fmt: skip
        run.iteration_finished(
            IterationRecord(
                run_id=run_id, target=target, journey=journey, worker=0, user=0,
                iteration=number, started_at=T0 + number, duration_ms=ms * 3,
                outcome=Outcome.FAILED if fails else Outcome.PASSED,
                steps_passed=1 if fails else 2, steps_total=2,
            )
        )  # fmt: skip
    run.close()
    run.meta["started_at"] = started_at
    run.finish("failed" if failed else "passed")
    return run.path


def rehearsal_folder(root: Path, run_id: str, *, started_at: str, decision: Decision) -> Path:
    """A rehearsal's folder (baseline `old`, candidate `new`) with a verdict of two gates."""
    run = RunDirectory(root, run_id)
    run.start(
        mode="rehearse",
        target={"baseline": {"name": "old"}, "candidate": {"name": "new"}},
        seed=5,
        config={},
    )
    for side, ms in (("old", 10.0), ("new", 14.0)):
        run.iteration_finished(
            IterationRecord(
                run_id=run_id, target=side, journey="browse", worker=0, user=0, iteration=0,
                started_at=T0, duration_ms=ms, outcome=Outcome.PASSED, steps_passed=0,
                steps_total=0,
            )
        )  # fmt: skip
    run.close()
    gates = [
        GateOutcome(name="p95 latency", kind="relative", decision=decision, summary="p95 +40%"),
        GateOutcome(name="errors", kind="threshold", decision=Decision.PASS, summary="0 errors"),
    ]
    verdict = Verdict(
        decision=decision, reasons=[], run_id=run_id, baseline={"name": "old"},
        candidate={"name": "new"}, seed=5, config_hash="abc", decided_at=started_at,
        evaluation_s=0.1, gates=gates,
    )  # fmt: skip
    (run.path / "verdict.json").write_text(verdict.model_dump_json(), encoding="utf-8")
    run.meta["started_at"] = started_at
    run.finish("failed" if decision is Decision.FAIL else "passed")
    return run.path


def sample_history(root: Path) -> list[Path]:
    """Five runs: three smoke checks of `shop` (the second failing `checkout`), one against
    `staging`, and a rehearsal; their start times a day apart from 2026-12-01."""
    folders = [
        check_folder(
            root,
            f"2026120{day}-000000-smoke-000{day}",
            started_at=f"2026-12-0{day}T00:00:00+00:00",
            journeys={"browse": 10.0 * day, "checkout": 20.0},
            failed=failed,
        )
        for day, failed in ((1, frozenset()), (2, frozenset({"checkout"})), (3, frozenset()))
    ]
    folders.append(
        check_folder(
            root,
            "20261204-000000-smoke-0004",
            started_at="2026-12-04T00:00:00+00:00",
            target="staging",
        )
    )
    folders.append(
        rehearsal_folder(
            root,
            "20261205-000000-rehearse-0005",
            started_at="2026-12-05T00:00:00+00:00",
            decision=Decision.FAIL,
        )
    )
    return folders


def read_json(path: Path) -> object:
    """A JSON file's contents."""
    return json.loads(path.read_text(encoding="utf-8"))
