"""Which gates judged each journey × step × touchpoint of a run, and where one could not, why:
the coverage table of the verdict (verdict.json, summary.md, report.html)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from harness.gates.data import RunData
from harness.gates.outcome import Decision, Evidence, GateOutcome, minutes
from harness.markdown import md_text

#: The worst decision of several series of one gate on one row (p95 and p99 of one step).
_WORST = (Decision.ERROR, Decision.FAIL, Decision.INCONCLUSIVE, Decision.PASS)


class CoverageCell(BaseModel):
    """One gate on one row: its decision, and when it could not judge the row, n per side
    against the n it needs."""

    model_config = ConfigDict(frozen=True)

    gate: str
    decision: Decision
    judged: bool
    n_baseline: int | None = None
    n_candidate: int = 0
    n_needed: int | None = None
    counts: str = "samples"
    minutes_needed: float | None = None

    def why(self) -> str:
        """`8 / 8 of 100 per side (≈ 12 min)`: why the gate could not judge the row."""
        n = (
            f"{self.n_candidate:,}"
            if self.n_baseline is None
            else (f"{self.n_baseline:,} / {self.n_candidate:,}")
        )
        what = "" if self.counts == "samples" else f" {self.counts}"
        need = f" of {self.n_needed:,}{what}" if self.n_needed is not None else what
        side = " per side" if self.n_baseline is not None and self.n_needed is not None else ""
        time = f" ({minutes(self.minutes_needed)})" if self.minutes_needed is not None else ""
        return f"{n}{need}{side}{time}"


class CoverageRow(BaseModel):
    """One journey × step × touchpoint (step None: the journey as a whole) and its gates."""

    model_config = ConfigDict(frozen=True)

    journey: str
    step: str | None = None
    touchpoint: str | None = None
    gates: list[CoverageCell] = Field(default_factory=list)

    @property
    def judged_by(self) -> list[str]:
        """The gates that judged this row."""
        return [c.gate for c in self.gates if c.judged]

    @property
    def unjudged(self) -> list[CoverageCell]:
        """The gates in whose scope the row is but which could not judge it."""
        return [c for c in self.gates if not c.judged]

    @property
    def failed(self) -> bool:
        """Whether a gate failed on this row."""
        return any(c.decision is Decision.FAIL for c in self.gates)

    @property
    def label(self) -> str:
        """`checkout › pay (web)`, or `checkout` for the whole journey."""
        if self.step is None:
            return self.journey
        return f"{self.journey} › {self.step} ({self.touchpoint})"


def coverage_table(data: RunData, outcomes: Sequence[GateOutcome]) -> list[CoverageRow]:
    """A row for every journey and every step the run measured (on either side), in step
    order, each with the gates whose evidence is about it. A row no gate's scope covers has no
    cells; series of every journey at once (burn rate, error split) have no row."""
    rows: dict[tuple[str, str | None, str | None], list[CoverageCell]] = {}
    for journey in sorted({k.journey for k in data.hdr} | {j for _, j in data.journeys}):
        rows[(journey, None, None)] = []
        measured = {
            (k.step, k.touchpoint) for k in data.hdr if k.journey == journey and not k.is_iteration
        }
        ordered = [s for s in data.step_order.get(journey, []) if s in measured]
        for step, touchpoint in ordered + sorted(measured - set(ordered)):
            rows[(journey, step, touchpoint)] = []
    for outcome in outcomes:
        by_row: dict[tuple[str, str | None, str | None], list[Evidence]] = {}
        for e in outcome.evidence:
            if e.journey is not None:
                by_row.setdefault((e.journey, e.step, e.touchpoint), []).append(e)
        for key, evidence in by_row.items():
            rows.setdefault(key, []).append(_cell(outcome.name, evidence))
    return [
        CoverageRow(journey=journey, step=step, touchpoint=touchpoint, gates=cells)
        for (journey, step, touchpoint), cells in rows.items()
    ]


def _cell(gate: str, evidence: list[Evidence]) -> CoverageCell:
    decision = next(d for d in _WORST if any(e.decision is d for e in evidence))
    missing = [e for e in evidence if not e.judged]
    if not missing:
        return CoverageCell(
            gate=gate,
            decision=decision,
            judged=True,
            n_baseline=evidence[0].n_baseline,
            n_candidate=evidence[0].n_candidate,
        )
    worst = max(missing, key=lambda e: (e.n_needed or 0, e.minutes_needed or 0.0))
    return CoverageCell(
        gate=gate,
        decision=decision,
        judged=False,
        n_baseline=worst.n_baseline,
        n_candidate=worst.n_candidate,
        n_needed=worst.n_needed,
        counts=worst.counts,
        minutes_needed=worst.minutes_needed,
    )


def coverage_markdown(rows: Sequence[CoverageRow]) -> str:
    """The coverage table in Markdown: per row the gates that judged it and those that could
    not (with n per side against the n needed)."""
    if not rows:
        return ""
    lines = [
        "| journey › step (touchpoint) | judged by | not judged: n per side of n needed |",
        "|---|---|---|",
    ]
    for row in rows:
        judged = ", ".join(row.judged_by) or "—"
        if not row.gates:
            judged = "no gate in scope"
        missing = "; ".join(f"{c.gate}: {c.why()}" for c in row.unjudged) or "—"
        lines.append(f"| {_cell_text(row.label)} | {_cell_text(judged)} | {_cell_text(missing)} |")
    return f"### {coverage_headline(rows)}\n\n" + "\n".join(lines) + "\n"


def coverage_headline(rows: Sequence[CoverageRow]) -> str:
    """`Coverage: 14 of 16 rows in the gates' scope judged by every gate`."""
    covered = [r for r in rows if r.gates]
    judged = sum(1 for r in covered if not r.unjudged)
    return f"Coverage: {judged} of {len(covered)} rows in the gates' scope judged by every gate"


def _cell_text(text: str) -> str:
    return md_text(text)
