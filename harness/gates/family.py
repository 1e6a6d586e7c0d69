"""Error rates of many tests at once: Holm's step-down within a gate, and the split of the
verdict's family-wise false-FAIL rate across its gates.

A verdict fails when any gate fails, and a gate fails when any of its series fails: a union of
tests, whose false-FAIL rate adds up. So each gate gets a share `alpha` of the verdict's
`FAMILY_ALPHA` (Bonferroni across gates), and within the gate a series fails only when Holm's
step-down rejects "within the margin" for it at that gate's `alpha` (one-sided). A pass needs
every series to pass (an intersection-union test), which needs no correction: each series
passes only when its interval at the gate's `level` lies within the margin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.gates.base import GateBase

#: the verdict's family-wise false-FAIL rate: how often an identical candidate may fail
FAMILY_ALPHA = 0.025


def holm(clears: Callable[[int, float], bool], tests: int, alpha: float) -> dict[int, float]:
    """Holm's step-down over `tests` one-sided tests at family-wise `alpha`: `clears(i, a)`
    says whether test i rejects at level a. Returns the rejected tests, each with the level it
    was rejected at (alpha/m for the first, growing as tests are rejected)."""
    rejected: dict[int, float] = {}
    while len(rejected) < tests:
        level = alpha / (tests - len(rejected))
        found = [i for i in range(tests) if i not in rejected and clears(i, level)]
        if not found:
            break
        rejected.update(dict.fromkeys(found, level))
    return rejected


def spent(look: int, looks: int) -> float:
    """The share of a family-wise alpha that look `look` (1-based) of `looks` planned looks at
    growing data may spend: `(2k - 1) / K²`, the increments of the quadratic spending function
    `(k / K)²` (close to O'Brien-Fleming's: little early, most at the last look). The shares
    add up to 1, so a candidate judged at every planned look fails at most alpha of the time."""
    looks = max(looks, 1)
    look = min(max(look, 1), looks)
    return (2 * look - 1) / looks**2


def split_alpha(
    gates: Sequence[Any], family: float = FAMILY_ALPHA, *, scale: float = 1.0
) -> tuple[list[Any], float | None]:
    """The gates with `alpha` set on every comparing gate that has none: an equal share of
    what `family` leaves after the gates that set their own. Returns the gates and the
    family-wise false-FAIL rate they add up to at this look (None: no comparing gate). A gate
    that judges the candidate alone (threshold, burn rate) takes no share: it fails on its own
    limit. `scale` multiplies every share (a look's part of the alpha spent over planned looks,
    `spent`) but that of an anytime-valid gate: its test on the growing data is valid at every
    look at once, so it keeps its whole share at each (as the live abort watch judges it)."""
    comparing = [g for g in gates if getattr(g, "comparing", False)]
    if not comparing:
        return list(gates), None
    fixed = sum(g.alpha for g in comparing if g.alpha is not None)
    open_ = [g for g in comparing if g.alpha is None]
    share = max(family - fixed, 0.0) / len(open_) if open_ else 0.0
    if open_ and share <= 0.0:
        share = family / len(open_)

    def alpha(gate: Any) -> float:
        whole = share if gate.alpha is None else gate.alpha
        return whole if getattr(gate, "anytime_valid", False) else whole * scale

    out = [
        g.model_copy(update={"alpha": alpha(g)}) if getattr(g, "comparing", False) else g
        for g in gates
    ]
    return out, sum(alpha(g) for g in comparing)


def gate_alpha(gate: GateBase, level: float | None) -> float:
    """A gate's one-sided false-FAIL rate: its `alpha`, else that of its two-sided `level`."""
    if gate.alpha is not None:
        return gate.alpha
    return (1.0 - level) / 2.0 if level is not None else FAMILY_ALPHA


class Comparison:
    """One series' test against its limit, larger being worse: `interval(level)` gives the
    two-sided interval of the estimate at any level (so Holm can ask at several)."""

    def __init__(
        self,
        estimate: float,
        interval: Callable[[float], tuple[float, float]],
        limit: float,
        *,
        can_pass: bool = True,
        fail_limit: float | None = None,
    ) -> None:
        self.estimate = estimate
        self.interval = interval
        self.limit = limit
        #: False when the series has fewer samples than a pass needs (it can still fail)
        self.can_pass = can_pass
        #: what a fail must show the series beyond: the limit (the default: the regression is
        #: beyond the margin), or no change (a deterioration test: significantly worse, and not
        #: shown within the margin)
        self.fail_limit = limit if fail_limit is None else fail_limit


class Decided:
    """A series' decision, with the interval (and its level) it was made on."""

    def __init__(
        self,
        decision: str,
        interval: tuple[float, float],
        level: float,
        fail_level: float | None = None,
    ) -> None:
        self.decision = decision
        self.interval = interval
        self.level = level
        #: set when the interval at `level` lies beyond the limit but a fail needed this level
        #: (Holm's step-down over the gate's tests) and the interval there did not
        self.fail_level = fail_level

    def words(self) -> str:
        """`; beyond the margin at 95%, not at the 99.97% a fail needs (Holm)`, or nothing."""
        if self.fail_level is None:
            return ""
        return (
            f"; beyond the margin at {level_words(self.level)}, not at the "
            f"{level_words(self.fail_level)} a fail of this gate needs (Holm)"
        )


def decide(tests: Sequence[Comparison], *, level: float, alpha: float) -> list[Decided]:
    """Each test's decision: "pass" when its interval at `level` lies within the limit (and it
    has the samples to pass); else "fail" when Holm at one-sided `alpha` over all `tests` puts
    its interval's low end beyond its fail limit; else "inconclusive" (or "short": too few
    samples to pass, and no fail). A pass is checked first: with a fail limit below the limit
    (a deterioration test), a series shown within the margin passes even when significantly
    worse; the fails are a subset of Holm's rejections, so they keep its family-wise rate."""
    failed = holm(
        lambda i, a: tests[i].interval(1.0 - 2.0 * a)[0] > tests[i].fail_limit, len(tests), alpha
    )
    out = []
    for i, test in enumerate(tests):
        if test.fail_limit < test.limit and test.can_pass:
            interval = test.interval(level)
            if interval[1] <= test.limit:
                out.append(Decided("pass", interval, level))
                continue
        if i in failed:
            at = 1.0 - 2.0 * failed[i]
            out.append(Decided("fail", test.interval(at), at))
            continue
        interval = test.interval(level)
        if not test.can_pass:
            out.append(Decided("short", interval, level))
        elif interval[1] <= test.limit:
            out.append(Decided("pass", interval, level))
        else:
            last = alpha / (len(tests) - len(failed))
            beyond = interval[0] > test.limit
            out.append(
                Decided("inconclusive", interval, level, 1.0 - 2.0 * last if beyond else None)
            )
    return out


def level_words(level: float) -> str:
    """`95%`, or `99.81%` for a level Holm or the alpha split made uneven."""
    return f"{level:.0%}" if round(level, 2) == level else f"{level:.2%}"
