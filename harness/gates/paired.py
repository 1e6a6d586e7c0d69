"""The paired gate (`paired`): typical latency per step from paired differences (per second, or
per iteration for a sparse step: `harness.gates.pairing`), Newey-West errors, Holm's step-down
across steps, and each step's minimum detectable effect."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import Field

from harness.errors import SpecError
from harness.gates.base import GateBase, where_of
from harness.gates.data import RunData
from harness.gates.family import Comparison, Decided, decide, gate_alpha, level_words
from harness.gates.outcome import Decision, Evidence, GateOutcome, needed_to_decide, unjudged
from harness.gates.values import parse_share
from harness.telemetry.hdr import SeriesKey

if TYPE_CHECKING:
    from harness.gates.pairing import PairedUnits

_level = level_words
DECIDED = {
    "pass": Decision.PASS,
    "fail": Decision.FAIL,
    "inconclusive": Decision.INCONCLUSIVE,
}


def _measured(data: RunData) -> str:
    """What the paired values are: "typical latency", or a Web Vital's name ("LCP")."""
    vital = getattr(data, "vital", "")  # `harness.gates.vitals.VitalData`
    return vital.upper() if vital else "typical latency"


def _pct(value: float) -> str:
    return f"{value:+.0%}"


class PairedGate(GateBase):
    """Typical latency per step, paired: both sides run the same iteration with the same person
    at nearly the same time, so each second with values on both sides gives one paired
    difference (log of the candidate's median over the baseline's); a step that seldom runs on
    both sides in one second (a web step of several seconds) gives one per iteration instead
    (`harness.gates.pairing`). Their mean estimates the ratio of typical latencies with the
    noise both sides share (machine load, the person's data) cancelled; its interval uses
    Newey-West errors over a √n bandwidth with a t reference of n/bandwidth degrees of freedom,
    robust to each side drifting on its own for tens of seconds.
    Passes when its interval at `level` lies within `margin` (non-inferiority); fails when the
    step is significantly slower than `fail_margin` (Holm's step-down at the gate's alpha) and
    not shown within the margin (a deterioration test: with the default 0%, any significant
    slowdown that the run cannot show tolerable, so never an estimate under about 60% of the
    margin); reports each step's minimum detectable effect."""

    kind: Literal["paired"] = "paired"
    #: a Web Vital (`lcp`, ...) to judge instead of latency (`harness.gates.vitals`)
    metric: str | None = None
    margin: str | float = "10%"
    fail_margin: str | float = "0%"
    #: "robust": each side may drift on its own for tens of seconds: the drift learned across
    #: all steps (`harness.gates.drift`), else bandwidth n/5 with a 4-df t; "short": only
    #: second-to-second dependence (bandwidth √n, t with n/√n), more power, valid only when
    #: both sides share their drift (one host)
    drift: Literal["robust", "short"] = "robust"
    level: float = 0.95
    #: the share of this gate's alpha spent on a sequential test judged every second of a
    #: rehearsal, which stops the run with FAIL as soon as a step is slower beyond doubt
    #: (`harness.gates.early_stop`); the end-of-run judgement gets the rest. 0: never stop early
    stop_early: float = Field(default=0.0, ge=0.0, lt=1.0)
    comparing: ClassVar[bool] = True

    def evaluate(self, data: RunData) -> GateOutcome:
        """Judge each step in scope on its paired differences (per second or iteration)."""
        refused = self.without_baseline(data)
        if refused is not None:
            return refused
        assert data.baseline is not None
        margin = parse_share(self.margin, what=f"{self.title()}: margin")
        minimum = self.min_samples or 20
        limit = float(np.log1p(margin))
        fail_limit = float(
            np.log1p(parse_share(self.fail_margin, what=f"{self.title()}: fail_margin"))
        )
        if fail_limit > limit:
            raise SpecError(
                f"{self.title()}: fail_margin {self.fail_margin} is above the margin {self.margin}"
            )
        alpha = gate_alpha(self, self.level) * (1.0 - self.stop_early)
        from harness.gates.pairing import paired_units, pool_seconds

        found: list[Evidence | None] = []
        tests: list[tuple[int, Comparison, SeriesKey, PairedUnits]] = []
        for key in self.series(data):
            paired = paired_units(data, key, robust=self.drift == "robust")
            if paired.n < minimum:
                where = where_of(key)
                found.append(
                    unjudged(
                        series=where.label,
                        what=f"paired {_measured(data)} of {where.label}",
                        test=f"paired per-{paired.unit}",
                        n_baseline=paired.n,
                        n_candidate=paired.n,
                        n_needed=minimum,
                        counts=paired.counts,
                        **where.fields(),
                    )
                )
                continue
            tests.append(
                (
                    len(found),
                    Comparison(paired.mean, paired.interval, limit, fail_limit=fail_limit),
                    key,
                    paired,
                )
            )
            found.append(None)
        if self.drift == "robust":
            seconds = [t[3] for t in tests if getattr(t[3], "per_second", True)]
            if min((p.diffs.size for p in seconds), default=0) >= POOLED_MIN_S:
                pool_seconds(seconds)
        decided = decide([t[1] for t in tests], level=self.level, alpha=alpha)
        worst = alpha / max(len(tests), 1)  # Holm's first, most demanding step
        for (index, test, key, paired), outcome in zip(tests, decided, strict=True):
            found[index] = self._evidence(data, key, paired, test, outcome, margin, worst)
        return self.outcome([e for e in found if e is not None])

    def _evidence(
        self,
        data: RunData,
        key: SeriesKey,
        paired: PairedUnits,
        test: Comparison,
        outcome: Decided,
        margin: float,
        worst: float,
    ) -> Evidence:
        from scipy import special

        where = where_of(key)
        label = where.label
        low, high = (float(np.expm1(v)) for v in outcome.interval)
        ratio = float(np.expm1(paired.mean))
        decision = DECIDED[outcome.decision]
        # the smallest true slowdown this run fails with 80% chance, at Holm's strictest step
        reach = float(special.stdtrit(paired.df, 1 - worst) + special.ndtri(0.80)) * paired.se
        mde = float(np.expm1(test.fail_limit + reach))
        needed = None
        if decision is Decision.INCONCLUSIVE:
            needed = needed_to_decide(paired.n, test.estimate, outcome.interval, test.limit)
        what = _measured(data)
        words = (
            f"{what} of {label} {_pct(ratio)} paired over {paired.over()} "
            f"({_level(outcome.level)} CI {_pct(low)} to {_pct(high)}, margin +{margin:.0%}, "
            f"could catch {_pct(mde)})"
            + (f"; about {needed:,} {paired.counts} would decide it" if needed else "")
            + outcome.words()
        )
        return Evidence(
            series=label,
            decision=decision,
            test=f"paired per-{paired.unit} log ratio ({paired.method})",
            n_baseline=paired.n_baseline,
            n_candidate=paired.n_candidate,
            estimate=1.0 + ratio,
            interval=(1.0 + low, 1.0 + high),
            level=outcome.level,
            unit="ratio",
            words=words,
            trace_ids=data.examples(key.target, key.journey, key.step),
            n_needed=needed,
            counts=paired.counts,
            mde=mde,
            **where.fields(),
        )


class Paired:
    """The paired differences of one step (per second, or per iteration: `harness.gates.pairing`):
    their mean, Newey-West standard error, and the t interval at any level (log scale).

    Each side may drift on its own (a slower host for half a minute): that does not cancel in
    the pairing, and with a memory of about ten seconds a two-minute run holds only a handful
    of independent stretches. The plug-in lag ⌊4 (n/100)^(2/9)⌋ (4 lags at 120 s) then
    understated the error by 1.7× and an identical candidate failed a step at 12× the nominal
    rate. The variance estimate itself rests on those few stretches, so its t reference needs
    few degrees of freedom (fixed-b inference, Kiefer and Vogelsang 2005): a bandwidth of n/5
    with 4 degrees of freedom keeps a step's false-FAIL rate at or under nominal under the
    bench's strong arm drift (0.07% at a nominal 0.085%); ⌊√n⌋ with n/⌊√n⌋ (`short`) gave
    1.4%, 2.75% at a nominal 0.25%."""

    def __init__(
        self, diffs: np.ndarray, n_baseline: int, n_candidate: int, *, robust: bool = True
    ) -> None:
        self.n = int(diffs.size)
        self.n_baseline = n_baseline
        self.n_candidate = n_candidate
        self.mean = float(diffs.mean()) if self.n else 0.0
        self.diffs = diffs
        self.lags = bandwidth(self.n, robust=robust)
        self.df = ROBUST_DF if robust else max(self.n / max(self.lags, 1), 1.0)
        self.se = _newey_west(diffs, self.lags) if self.n > 1 else float("inf")
        self.method = "Newey-West, fixed-b t" if robust else "Newey-West, lag √n"

    def pool(self, se: float) -> None:
        """Use the error learned with every step's drift (`harness.gates.drift`): a normal
        reference, since the memory was fitted on all the steps' seconds."""
        self.se = se
        self.df = POOLED_DF
        self.method = "drift pooled across steps"

    def interval(self, level: float) -> tuple[float, float]:
        from scipy import special

        t = float(special.stdtrit(self.df, 0.5 + level / 2.0))
        return self.mean - t * self.se, self.mean + t * self.se


#: degrees of freedom of the robust t reference (fixed-b, bandwidth n/5)
ROBUST_DF = 4.0
#: degrees of freedom with the drift pooled across steps (effectively normal)
POOLED_DF = 1000.0
#: fewest paired seconds of every step for the drift learned across steps: in shorter runs a
#: drift of ten seconds' memory hides in each step's own mean (at 45 s the fit found about half
#: of it), and under the bench's strong arm drift the gate failed 4-7% of identical candidates
#: at its 1.04% (1,000 replays); the fixed-b error of each step alone stays valid there
POOLED_MIN_S = 60


def bandwidth(n: int, *, robust: bool = True) -> int:
    """The Newey-West bandwidth for `n` paired seconds: n/5 lags, or ⌊√n⌋ (`robust=False`)."""
    return max(n // 5 if robust else int(math.sqrt(n)), 1)


def _newey_west(diffs: np.ndarray, lags: int) -> float:
    """The standard error of the mean of a series with short-range dependence: Bartlett-weighted
    autocovariances up to `lags` (Newey and West, 1987)."""
    n = diffs.size
    centred = diffs - diffs.mean()
    variance = float(centred @ centred) / n
    for lag in range(1, min(lags, n - 1) + 1):
        weight = 1.0 - lag / (lags + 1)
        variance += 2.0 * weight * float(centred[lag:] @ centred[:-lag]) / n
    return float(np.sqrt(max(variance, 1e-18) / n))
