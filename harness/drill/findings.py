"""What a drill found: per fault, which gates tripped and how fast; per A/A run, which gates
cried wolf. `drill.json` holds one `DrillRecord`; the coverage matrix is drawn from it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from harness.exitcodes import ExitCode
from harness.gates.data import RunData


class GateHit(BaseModel):
    """One gate's result in one drill run."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    decision: str
    summary: str
    detected_after_s: float | None = None  #: from the fault's onset to the gate's first fail
    recovered_after_s: float | None = None  #: from the window's end until it passed again


class FaultFinding(BaseModel):
    """One fault drilled in its own run: the verdict, each gate, and whether it was caught."""

    model_config = ConfigDict(frozen=True)

    fault: str
    run_id: str
    decision: str
    caught: bool
    caught_by: list[str]
    expected: list[str] = Field(default_factory=list)  #: gates (names or kinds) that must trip
    gates: list[GateHit]
    onset_s: float  #: seconds from the run's first record to the fault's onset
    window_s: float | None = None  #: how long the fault lasted (None: to the end)
    run_s: float
    wall_s: float
    proxy_requests: int = 0
    proxy_applied: int = 0  #: requests the fault was applied to
    #: why this run cannot tell whether the gates caught the fault (a baseline that failed most
    #: of its iterations); None when it can
    unjudgeable: str | None = None

    @property
    def detected_after_s(self) -> float | None:
        """The fastest detection among the gates that tripped."""
        times = [g.detected_after_s for g in self.gates if g.detected_after_s is not None]
        return min(times) if times else None


class AaRun(BaseModel):
    """One A/A run: the baseline against itself."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    decision: str
    failed: list[str]
    inconclusive: list[str]
    wall_s: float
    unjudgeable: str | None = None  #: as in `FaultFinding`


class DrillRecord(BaseModel):
    """The whole drill: its faults or its A/A runs, and the gates it judged with."""

    model_config = ConfigDict(frozen=True)

    drill_id: str
    target: str
    gates: list[str]
    faults: list[FaultFinding] = Field(default_factory=list)
    aa: list[AaRun] = Field(default_factory=list)

    @property
    def blind(self) -> list[FaultFinding]:
        """Faults no expected gate caught, on a run that could tell."""
        return [f for f in self.faults if not f.caught and f.unjudgeable is None]

    @property
    def unjudgeable(self) -> list[str]:
        """Why some runs could not tell anything (fault or A/A runs)."""
        found = [f.unjudgeable for f in self.faults] + [r.unjudgeable for r in self.aa]
        return [why for why in found if why is not None]

    def false_alarm_rate(self, gate: str | None = None) -> float:
        """Share of A/A runs that failed (the verdict, or one `gate`)."""
        if not self.aa:
            return 0.0
        if gate is None:
            return sum(r.decision == "fail" for r in self.aa) / len(self.aa)
        return sum(gate in r.failed for r in self.aa) / len(self.aa)


#: a baseline side failing more than this share of its iterations cannot show a fault's effect
UNHEALTHY_BASELINE = 0.5


def unhealthy_baseline(data: RunData) -> str | None:
    """A drill compares against a healthy baseline: warn when the baseline side failed often
    (on one deployment, both sides replay the same synthetic people and collide), and return
    why the run is inconclusive when it failed most of its iterations (a dead target)."""
    assert data.baseline is not None
    runs = [v for (target, _), v in data.journeys.items() if target == data.baseline]
    iterations, failed = sum(n for n, _ in runs), sum(f for _, f in runs)
    if not iterations:
        return "the baseline side finished no iteration: the drill cannot tell what a fault did"
    share = failed / iterations
    if share <= 0.05:
        return None
    print(
        f"WARNING: the baseline side failed {failed:,} of {iterations:,} iterations "
        f"({share:.0%}), so gates may trip for reasons other than the fault. "
        "Against one deployment both sides replay the same synthetic people (accounts "
        "collide): give --baseline T2, a second deployment of the same release.",
        flush=True,
    )
    if share <= UNHEALTHY_BASELINE:
        return None
    return (
        f"the baseline side failed {failed:,} of {iterations:,} iterations ({share:.0%}): "
        "the drill cannot tell a fault's effect from a broken target"
    )


def conclusion(record: DrillRecord) -> tuple[ExitCode, str]:
    """The drill's exit code and closing line: FAIL when the gates were blind to a fault or
    cried wolf, INCONCLUSIVE when a run could not tell, else PASS."""
    blind = record.blind
    alarms = [r for r in record.aa if r.decision == "fail"]
    if blind:
        return ExitCode.FAILED, f"FAIL: the gates are blind to {', '.join(f.fault for f in blind)}"
    if alarms:
        wolves = ", ".join(sorted({g for r in alarms for g in r.failed}))
        return (
            ExitCode.FAILED,
            f"FAIL: {len(alarms)} of {len(record.aa)} A/A runs failed (false alarms: {wolves})",
        )
    if record.unjudgeable:
        return ExitCode.INCONCLUSIVE, f"INCONCLUSIVE: {record.unjudgeable[0]}"
    if record.faults:
        return ExitCode.PASSED, f"PASS: every fault was caught ({len(record.faults)})"
    return ExitCode.PASSED, f"PASS: no false alarm in {len(record.aa)} A/A runs"
