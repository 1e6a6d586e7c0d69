"""The stages of a rollout (`--stages 1,5,25,50,100`) and the records of what each one decided.

A stage is judged at its end on its own window: the candidate cohort against the baseline
cohort over the iterations that started during the stage. `rollout.json` in the run folder is
one `RolloutRecord`; the report's stage timeline reads it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import SpecError
from harness.gates.outcome import GateOutcome
from harness.results.schema import ROLLOUT_FILE as ROLLOUT_FILE  # re-exported

_EXAMPLE = "--stages 1,5,25,50,100"


def parse_shares(text: str) -> list[float]:
    """`1,5,25,50,100` → candidate shares in percent: rising, above 0, ending at 100 (the
    promotion). Raises `SpecError` naming the bad value, with an example."""
    shares: list[float] = []
    for part in (p.strip().rstrip("%") for p in text.split(",") if p.strip()):
        try:
            share = float(part)
        except ValueError:
            raise SpecError(
                f"--stages {text!r}: {part!r} is not a percentage; give the candidate's share "
                f"of traffic per stage, rising to 100, e.g. {_EXAMPLE}"
            ) from None
        if not 0 < share <= 100 or (shares and share <= shares[-1]):
            raise SpecError(
                f"--stages {text!r}: shares must rise strictly, each above 0 and at most 100 "
                f"(got {part}); e.g. {_EXAMPLE}"
            )
        shares.append(share)
    if len(shares) < 2 or shares[-1] != 100:
        raise SpecError(
            f"--stages {text!r}: give at least one judged share below 100 and end at 100 (the "
            f"promotion), e.g. {_EXAMPLE}"
        )
    return shares


class StageDecision(StrEnum):
    """What the rollout did at the end of a stage's window."""

    START = "start"  #: the rollout began at the first share
    WIDEN = "widen"  #: the gates passed: on to the next share
    EXTEND = "extend"  #: not enough evidence yet: the stage runs for another stage duration
    HOLD = "hold"  #: still not enough evidence after every extension: stop at this share
    ROLLBACK = "rollback"  #: a gate failed: all traffic back to the baseline, stop
    PROMOTE = "promote"  #: the last judged stage passed: the candidate takes 100%
    STOP = "stop"  #: a hook failed: all traffic back to the baseline, stop


class Cohort(BaseModel):
    """Iterations and failures of one side in a stage's window."""

    model_config = ConfigDict(frozen=True)

    iterations: int = 0
    failed: int = 0


class GateLine(BaseModel):
    """One gate's outcome at a stage, in a line."""

    model_config = ConfigDict(frozen=True)

    name: str
    decision: str
    summary: str


class StageRecord(BaseModel):
    """One look at one stage: its window, both cohorts, every gate and the decision."""

    model_config = ConfigDict(frozen=True)

    stage: int  #: 1-based position in the plan
    share: float  #: the candidate's share of people during the window, in percent
    look: int  #: 1 at the stage's planned end, 2 after its first extension, ...
    started_s: float  #: since the rollout started
    ended_s: float
    baseline: Cohort
    candidate: Cohort
    min_candidate_samples: int  #: the fewest candidate samples of any series judged
    judge_s: float = 0.0  #: how long the gates took (the old share ran on meanwhile)
    early: bool = False  #: decided before the stage's end, by a live gate (`abort = true`)
    decision: StageDecision
    next_share: float
    reasons: list[str] = Field(default_factory=list)
    gates: list[GateLine] = Field(default_factory=list)
    evidence: list[GateOutcome] = Field(default_factory=list)


class HookCall(BaseModel):
    """One call of a hook: which, what it ran, and how it ended."""

    model_config = ConfigDict(frozen=True)

    hook: str  #: on_stage, on_promote, on_rollback
    action: str  #: the shell command or URL
    event: dict[str, Any]
    ok: bool
    detail: str  #: exit code or HTTP status, and the tail of the output
    elapsed_s: float


class RolloutOutcome(StrEnum):
    """How the rollout ended."""

    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    HELD = "held"
    STOPPED = "stopped"  #: a hook failed
    UNFINISHED = "unfinished"  #: the run ended (interrupted or out of time) before a decision


class RolloutRecord(BaseModel):
    """`rollout.json`: the plan, every stage look, the hooks called and how it ended."""

    shares: list[float]
    stage_duration_s: float
    max_extensions: int
    min_samples: int | None
    outcome: RolloutOutcome = RolloutOutcome.UNFINISHED
    final_share: float = 0.0
    reasons: list[str] = Field(default_factory=list)
    stages: list[StageRecord] = Field(default_factory=list)
    hooks: list[HookCall] = Field(default_factory=list)
    started_at: float = 0.0  #: epoch seconds
    decided_at: float | None = None
    first_effect_at: float | None = None  #: when the candidate's regression first acted
    first_effect_source: str | None = None
    detection_s: float | None = None  #: from the first effect to the rollback decision
