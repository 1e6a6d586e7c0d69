"""The error-rate series of the `relative` gate (`metric = "error_rate"`): each journey's rate,
candidate against baseline, and the release-wide rate pooled over every journey in scope.

Both sides run the same journey mix, so the pooled rate (failed over run iterations, summed
over the journeys: iteration-weighted) compares like with like, and a regression spread over
every journey shows there with all the run's iterations behind it: at 1,000 iterations a side
on each of 2 journeys, 0.5% → 1.5% gives about 5 against 15 failures per journey, and no test
of one journey catches that 0.9 of the time at any share of a 2.5% verdict (0.60 at the whole
2.5%), while the pooled 10 against 30 reaches 0.90 there. The journeys and the pooled series
are one Holm family at the gate's alpha, so the extra series costs a step of Holm's ladder
and the gate's false-FAIL rate stays at its alpha.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.gates.base import EVERYWHERE, Place, Where
from harness.gates.data import EXAMPLES
from harness.gates.family import Comparison, Decided, decide, gate_alpha, level_words
from harness.gates.outcome import Decision, Evidence, needed_to_decide, unjudged

if TYPE_CHECKING:
    from harness.gates.base import GateBase
    from harness.gates.data import RunData

#: the label of the release-wide series
POOLED = "all journeys (pooled)"
DECIDED = {
    "pass": Decision.PASS,
    "fail": Decision.FAIL,
    "inconclusive": Decision.INCONCLUSIVE,
}
#: (baseline iterations, baseline failed, candidate iterations, candidate failed)
Counts = tuple[int, int, int, int]


def error_rate_evidence(
    gate: GateBase, data: RunData, margin: float, level: float, fail_limit: float
) -> list[Evidence]:
    """Each journey's evidence and, with two or more journeys judged, the pooled series'; the
    fails decided together by Holm's step-down at the gate's alpha."""
    from harness.gates.stats import newcombe_difference

    assert data.baseline is not None
    minimum = gate.min_samples or 100
    found: list[Evidence | None] = []
    series: list[tuple[str | None, Counts]] = []
    for journey in sorted({j for (_, j) in data.journeys}):
        if not gate.journey_in_scope(data, journey):
            continue
        nb, fb = data.journeys.get((data.baseline, journey), (0, 0))
        nc, fc = data.journeys.get((data.candidate, journey), (0, 0))
        if min(nb, nc) < minimum:
            where = Where(journey, None, None)
            found.append(
                unjudged(
                    series=where.label,
                    what=f"error rate of {where.label}",
                    test="Newcombe",
                    n_baseline=nb,
                    n_candidate=nc,
                    n_needed=minimum,
                    counts="iterations",
                    **where.fields(),
                )
            )
            continue
        series.append((journey, (nb, fb, nc, fc)))
    if len(series) >= 2:
        summed = tuple(sum(c[i] for _, c in series) for i in range(4))
        series.append((None, (summed[0], summed[1], summed[2], summed[3])))
    tests: list[tuple[int, Comparison, str | None, Counts]] = []
    for name, (nb, fb, nc, fc) in series:

        def interval(at: float, c: Counts = (fb, nb, fc, nc)) -> tuple[float, float]:
            found_ = newcombe_difference(*c, level=at)[1]
            return found_.low, found_.high

        test = Comparison(fc / nc - fb / nb, interval, margin, fail_limit=fail_limit)
        tests.append((len(found), test, name, (nb, fb, nc, fc)))
        found.append(None)
    decided = decide([t[1] for t in tests], level=level, alpha=gate_alpha(gate, level))
    journeys = [j for j, _ in series if j is not None]
    for (index, test, name, counts), outcome in zip(tests, decided, strict=True):
        of = [name] if name else journeys
        traces = [t for j in of for t in data.examples(data.candidate, j)]
        found[index] = _rate_evidence(name, counts, test, outcome, margin, traces[:EXAMPLES])
    return [e for e in found if e is not None]


def _rate_evidence(
    journey: str | None,
    counts: Counts,
    test: Comparison,
    outcome: Decided,
    margin: float,
    traces: list[str],
) -> Evidence:
    nb, fb, nc, fc = counts
    place: Place = EVERYWHERE if journey is None else Where(journey, None, None).fields()
    label = POOLED if journey is None else Where(journey, None, None).label
    diff, (low, high) = test.estimate, outcome.interval
    decision = DECIDED[outcome.decision]
    needed = None
    if decision is Decision.INCONCLUSIVE:
        needed = needed_to_decide(min(nb, nc), diff, (low, high), margin)
    words = (
        f"error rate of {label} {fb / nb:.2%} → {fc / nc:.2%} ({diff * 100:+.2f} pp, "
        f"{level_words(outcome.level)} CI {low * 100:+.2f} to {high * 100:+.2f} pp, "
        f"margin +{margin * 100:.2f} pp, n = {nb:,} / {nc:,})"
        + (f"; about {needed:,} iterations per side would decide it" if needed else "")
        + outcome.words()
    )
    return Evidence(
        series=label,
        decision=decision,
        test="Newcombe difference of rates" + (", iterations pooled" if journey is None else ""),
        n_baseline=nb,
        n_candidate=nc,
        baseline=fb / nb,
        candidate=fc / nc,
        estimate=diff,
        interval=(low, high),
        level=outcome.level,
        unit="pp",
        words=words,
        trace_ids=traces,
        n_needed=needed,
        counts="iterations",
        **place,
    )
