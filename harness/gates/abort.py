"""Early abort: gates marked `abort = true` are judged every second on the live run's cumulative
counts (since its start); a breach sustained for the gate's `for` duration stops the run with a
fail verdict. The sequential gate's e-value on cumulative counts is anytime-valid: however often
it is looked at, an identical candidate breaches it at most `alpha` of the time. (A 60-second
sliding window, as before, restarted the evidence every minute: each window was a fresh chance
of a false abort, 3.8% over 30 minutes and 6.3% over 2 hours without the hold.)

Only gates on counts can be judged live (error-rate thresholds and relative gates, the
sequential e-value, burn rate): they need the per-second tallies, not whole histograms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from harness.gates.base import GateBase
from harness.gates.data import RunData
from harness.gates.family import split_alpha
from harness.gates.outcome import Decision, GateOutcome
from harness.gates.rates import BurnRateGate, SequentialGate
from harness.gates.rules import RelativeGate, ThresholdGate
from harness.telemetry.hdr import HdrStore

if TYPE_CHECKING:  # the live aggregator is read, never imported: gates sit above the engine
    from harness.engine.collector import LoadAggregator

ALL = "(all journeys)"


def live_gates(gates: Sequence[GateBase], *, scale: float = 1.0) -> list[GateBase]:
    """The configured gates that can abort a run, with the alpha shares of the verdict they
    would be judged in (`scale`: a rollout look's part, `family.spent`)."""
    found: list[GateBase] = []
    # the same alpha shares as the verdict's: a live fail counts against its family-wise rate
    for gate in split_alpha(gates, scale=scale)[0]:
        if not gate.abort:
            continue
        if isinstance(gate, (SequentialGate, BurnRateGate)) or (
            isinstance(gate, (ThresholdGate, RelativeGate)) and gate.metric == "error_rate"
        ):
            # the live window pools every journey into one (ALL), without steps: a journey or
            # touchpoint scope would leave the gate nothing to judge
            unscoped = dict.fromkeys(("journey", "journeys", "touchpoint", "touchpoints"))
            found.append(gate.model_copy(update=unscoped))
    return found


def window_data(
    aggregator: LoadAggregator,
    baseline: str | None,
    candidate: str,
    window_s: float | None,
    now: float,
) -> RunData:
    """The last `window_s` seconds of a live run as `RunData` (journeys pooled); all of it
    (cumulative counts) when `window_s` is None."""
    start = int(now - window_s) if window_s is not None else -1
    rows: list[dict[str, Any]] = [
        {"target": target, "t": second, "iterations": t.iterations, "failures": t.failures}
        for (target, second), t in sorted(aggregator.seconds.items(), key=lambda kv: kv[0][1])
        if second >= start
    ]
    journeys: dict[tuple[str, str], tuple[int, int]] = {}
    for target in (baseline, candidate):
        if target is not None:
            mine = [r for r in rows if r["target"] == target]
            n = sum(int(r["iterations"]) for r in mine)
            f = sum(int(r["failures"]) for r in mine)
            journeys[(target, ALL)] = (n, f)
    return RunData(
        candidate=candidate,
        baseline=baseline,
        hdr=HdrStore(),
        journeys=journeys,
        step_failures={},
        step_order={},
        windows={},
        failed_traces={},
        slow_traces={},
        timeline=rows,
    )


class Holds:
    """Since when each live gate (by its index) has failed at every look, and whether that has
    lasted the gate's `for` (`GateBase.hold_s`): a look that does not fail starts it over."""

    def __init__(self) -> None:
        self.since: dict[int, float] = {}

    def held_s(self, index: int, failed: bool, now: float, hold_s: float) -> float | None:
        """How long gate `index` has failed at every look, once that is `hold_s` or more."""
        if not failed:
            self.since.pop(index, None)
            return None
        held = now - self.since.setdefault(index, now)
        return held if held >= hold_s else None

    def clear(self) -> None:
        self.since.clear()


class AbortWatch:
    """The `watch` callback of the Locust driver."""

    def __init__(
        self,
        gates: Sequence[GateBase],
        *,
        baseline: str | None,
        candidate: str,
        window_s: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.gates = live_gates(gates)
        self.baseline = baseline
        self.candidate = candidate
        #: None: the run's cumulative counts (anytime-valid with the sequential gate)
        self.window_s = window_s
        self.clock = clock
        self.holds = Holds()

    def __call__(self, aggregator: LoadAggregator, elapsed: float) -> str | None:
        """A reason to stop now, or None."""
        now = (self.clock or time.time)()
        data = window_data(aggregator, self.baseline, self.candidate, self.window_s, now)
        return breach(self.gates, data, self.holds, elapsed)


def breach(gates: Sequence[GateBase], data: RunData, holds: Holds, now: float) -> str | None:
    """Why the first of `gates` whose fail on `data` has held for its `for` stops the run at
    `now` (seconds), or None. A gate that cannot judge yet never stops it."""
    for index, gate in enumerate(gates):
        try:
            outcome: GateOutcome | None = gate.evaluate(data)
        except Exception:  # a live gate that cannot judge yet must never stop the run
            outcome = None
        failed = outcome is not None and outcome.decision is Decision.FAIL
        held = holds.held_s(index, failed, now, gate.hold_s)
        if held is not None and outcome is not None:
            return f"{gate.title()} breached for {held:.0f} s: {outcome.summary}"
    return None
