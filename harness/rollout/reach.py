"""Whether a rollout stage can still reach its series' minimum samples in the looks it has left,
and if not, what would: the stage holds at once, saying so, instead of running out its looks to
no purpose."""

from __future__ import annotations

from harness.durations import format_duration
from harness.gates.data import RunData
from harness.gates.outcome import Decision
from harness.gates.stats import poisson_upper
from harness.gates.verdict import Verdict


def out_of_reach(
    verdict: Verdict,
    data: RunData,
    *,
    share: float,
    spent_s: float,
    looks: int,
    stage_duration_s: float,
    probe: bool = False,
) -> str | None:
    """Why a stage at `share` that has run `spent_s` of its `looks` looks of `stage_duration_s`
    cannot reach some series' minimum samples within them, at the rate its candidate cohort
    reached them so far, with the `--stage-duration` that would; None when every series still
    can.

    Generously: the candidate count's upper bound, or the share of both cohorts' count of the
    series' journey, whichever is larger; a `probe` (early in the first look, while users may
    still be ramping up) allows the rate to double as well."""
    allowed = stage_duration_s * looks
    undecided = verdict.decision is Decision.INCONCLUSIVE or probe
    if not undecided or spent_s <= 0 or allowed <= spent_s:
        return None  # decided, or the last look: holding now or after it is the same
    totals: dict[str, int] = {}
    for (_, journey), (n, _) in data.journeys.items():
        totals[journey] = totals.get(journey, 0) + n
    worst: tuple[float, str, int, int, float] | None = None  # (reach, series, n, needed, ~n)
    for gate in verdict.gates:
        for e in gate.evidence:
            if e.judged or not e.n_needed or e.n_candidate >= e.n_needed:
                continue
            total = totals.get(e.journey or "", 0)
            expected = e.n_candidate or total * share / 100
            upper = max(poisson_upper(e.n_candidate), poisson_upper(total) * share / 100)
            reach = upper * (2.0 if probe else 1.0) * allowed / spent_s / e.n_needed
            if worst is None or reach < worst[0]:
                worst = (reach, e.series, e.n_candidate, e.n_needed, expected)
    if worst is None or worst[0] >= 1.0:
        return None
    _, series, fewest, needed, expected = worst
    rate = max(expected, 1) / spent_s  # candidate samples per second at this share
    per_look = needed / rate / looks
    return (
        f"too few samples reachable at {share:g}%: {series} had {fewest} candidate samples "
        f"in {spent_s:.0f} s, and {needed} need {'at least ' if fewest == 0 else ''}about "
        f"{needed / rate:,.0f} s at this share "
        f"({looks} looks of {stage_duration_s:g} s allow "
        f"{allowed:g} s). Give --stage-duration {format_duration(per_look)} or more, start "
        f"at a larger share than {share:g}%, or scope the gates in harness.toml to the "
        "journeys that reach it (journeys = [...])"
    )
