"""What a drill found: per fault, which gates tripped and how fast; per A/A run, which gates
cried wolf. `drill.json` holds one `DrillRecord`; the coverage matrix is drawn from it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
        """Faults no expected gate caught."""
        return [f for f in self.faults if not f.caught]

    def false_alarm_rate(self, gate: str | None = None) -> float:
        """Share of A/A runs that failed (the verdict, or one `gate`)."""
        if not self.aa:
            return 0.0
        if gate is None:
            return sum(r.decision == "fail" for r in self.aa) / len(self.aa)
        return sum(gate in r.failed for r in self.aa) / len(self.aa)
