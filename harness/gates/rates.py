"""Gates on counts rather than latencies: conversion funnels, SLO burn rate, and the
anytime-valid test on how errors split between candidate and baseline."""

from __future__ import annotations

from typing import ClassVar, Literal

from harness.gates.base import EVERYWHERE, GateBase, Where
from harness.gates.data import RunData
from harness.gates.family import Comparison, Decided, decide, gate_alpha, level_words
from harness.gates.outcome import Decision, Evidence, GateOutcome, needed_to_decide, unjudged
from harness.gates.values import parse_share


class FunnelGate(GateBase):
    """Per-step and end-to-end conversion of each journey, candidate vs baseline (or web vs
    mobile journeys on the candidate); fails on a drop beyond `max_drop` percentage points."""

    kind: Literal["funnel"] = "funnel"
    max_drop: str | float = "5pp"
    compare: Literal["baseline", "touchpoints"] = "baseline"
    level: float = 0.95
    comparing: ClassVar[bool] = True

    def evaluate(self, data: RunData) -> GateOutcome:
        """Judge every journey's end-to-end and per-step conversion: one Holm family."""
        if self.compare == "touchpoints":
            return self.outcome(self._touchpoints(data))
        refused = self.without_baseline(data)
        if refused is not None:
            return refused
        assert data.baseline is not None
        rows: list[Row] = []
        for journey, steps in sorted(data.step_order.items()):
            if not self.journey_in_scope(data, journey):
                continue
            nb, fb = data.journeys.get((data.baseline, journey), (0, 0))
            nc, fc = data.journeys.get((data.candidate, journey), (0, 0))
            whole = Where(journey, None, None)
            rows.append((f"`{journey}` end to end", nb - fb, nb, nc - fc, nc, whole))
            for step, touchpoint in steps:
                if (self.step and step != self.step) or not self.in_touchpoints(touchpoint):
                    continue
                b = data.step_counts(data.baseline, journey, step, touchpoint)
                c = data.step_counts(data.candidate, journey, step, touchpoint)
                label = f"`{journey}` › `{step}` ({touchpoint})"
                where = Where(journey, step, touchpoint)
                rows.append((label, b.passed, b.reached, c.passed, c.reached, where))
        return self.outcome(self._judge_all(rows, data))

    def _touchpoints(self, data: RunData) -> list[Evidence]:
        pooled: dict[str, list[int]] = {}
        for journey, steps in data.step_order.items():
            touchpoint = steps[0][1] if steps else "?"
            n, failed = data.journeys.get((data.candidate, journey), (0, 0))
            entry = pooled.setdefault(touchpoint, [0, 0])
            entry[0] += n - failed
            entry[1] += n
        if "web" not in pooled or "mobile" not in pooled:
            return [
                Evidence(
                    series="web vs mobile",
                    decision=Decision.INCONCLUSIVE,
                    test="Newcombe",
                    n_candidate=0,
                    judged=False,
                    words="needs journeys that start on the web and on mobile",
                )
            ]
        web, mobile = pooled["web"], pooled["mobile"]
        return self._judge_all(
            [("mobile vs web journeys", web[0], web[1], mobile[0], mobile[1], None)], data
        )

    def _judge(
        self, label: str, sb: int, nb: int, sc: int, nc: int, data: RunData, where: Where | None
    ) -> Evidence:
        """One series judged alone (a family of one)."""
        return self._judge_all([(label, sb, nb, sc, nc, where)], data)[0]

    def _judge_all(self, rows: list[Row], data: RunData) -> list[Evidence]:
        """Each row's evidence: the drop's Newcombe interval against `max_drop`, fails decided
        together by Holm's step-down at the gate's alpha."""
        from harness.gates.stats import newcombe_difference

        max_drop = parse_share(self.max_drop, what=f"{self.title()}: max_drop")
        minimum = self.min_samples or 30
        found: list[Evidence | None] = []
        tests: list[tuple[int, Comparison, Row]] = []
        for row in rows:
            label, sb, nb, sc, nc, where = row
            if min(nb, nc) < minimum:
                place = where.fields() if where is not None else EVERYWHERE
                found.append(
                    unjudged(
                        series=label,
                        what=f"conversion of {label}",
                        test="Newcombe",
                        n_baseline=nb,
                        n_candidate=nc,
                        n_needed=minimum,
                        counts=_counts(where),
                        **place,
                    )
                )
                continue

            def interval(at: float, c: tuple[int, int, int, int] = (sb, nb, sc, nc)) -> Pair:
                diff = newcombe_difference(*c, level=at)[1]
                return -diff.high, -diff.low  # of the drop

            drop = sb / nb - sc / nc
            tests.append((len(found), Comparison(drop, interval, max_drop), row))
            found.append(None)
        decided = decide(
            [t[1] for t in tests], level=self.level, alpha=gate_alpha(self, self.level)
        )
        for (index, test, row), outcome in zip(tests, decided, strict=True):
            found[index] = self._evidence(row, test, outcome, max_drop, data)
        return [e for e in found if e is not None]

    def _evidence(
        self, row: Row, test: Comparison, outcome: Decided, max_drop: float, data: RunData
    ) -> Evidence:
        label, sb, nb, sc, nc, where = row
        place = where.fields() if where is not None else EVERYWHERE
        journey = place["journey"]
        counts = _counts(where)
        drop, (drop_low, drop_high) = test.estimate, outcome.interval
        decision = {
            "pass": Decision.PASS,
            "fail": Decision.FAIL,
            "inconclusive": Decision.INCONCLUSIVE,
        }[outcome.decision]
        needed = None
        if decision is Decision.INCONCLUSIVE:
            needed = needed_to_decide(min(nb, nc), drop, (drop_low, drop_high), max_drop)
        level = level_words(outcome.level)
        words = (
            f"conversion of {label} {sb / nb:.1%} → {sc / nc:.1%} (drop {drop * 100:+.1f} pp, "
            f"{level} CI {drop_low * 100:+.1f} to {drop_high * 100:+.1f} pp, "
            f"limit {max_drop * 100:.1f} pp, n = {nb:,} / {nc:,})"
            + (f"; about {needed:,} {counts} per side would decide it" if needed else "")
            + outcome.words()
        )
        return Evidence(
            series=label,
            decision=decision,
            test="Newcombe difference",
            n_baseline=nb,
            n_candidate=nc,
            baseline=sb / nb,
            candidate=sc / nc,
            estimate=drop,
            interval=(drop_low, drop_high),
            level=outcome.level,
            unit="pp",
            words=words,
            trace_ids=data.examples(data.candidate, journey) if journey else [],
            n_needed=needed,
            counts=counts,
            **place,
        )


#: one funnel series: label, passed and reached on the baseline, on the candidate, where
Row = tuple[str, int, int, int, int, "Where | None"]
Pair = tuple[float, float]


def _counts(where: Where | None) -> str:
    return "iterations" if where is None or where.step is None else "samples"


class BurnRateGate(GateBase):
    """SLO error-budget burn of the candidate's journeys over the run (long window) and its last
    twelfth (short window); both at or above `factor` fails (the 'page' pair of the SRE
    workbook). A burn above 1 over the run is reported as a warning."""

    kind: Literal["burn_rate"] = "burn_rate"
    slo: float = 0.995
    factor: float = 14.4
    short_fraction: float = 1 / 12
    level: float = 0.95

    def evaluate(self, data: RunData) -> GateOutcome:
        """Compute the two burn rates from the candidate's per-second timeline."""
        from harness.gates.stats import burn_rate, wilson_interval

        rows = [r for r in data.timeline if r["target"] == data.candidate]
        minimum = self.min_samples or 100
        total = sum(r["iterations"] for r in rows)
        errors = sum(r["failures"] for r in rows)
        label = f"journeys on {data.candidate}"
        if total < minimum:
            evidence = unjudged(
                series=label,
                what=f"burn rate of {label}",
                test="burn rate",
                n_baseline=None,
                n_candidate=total,
                n_needed=minimum,
                counts="iterations",
            )
            return self.outcome([evidence])
        start, end = rows[0]["t"], rows[-1]["t"] + 1
        cut = end - max(1.0, (end - start) * self.short_fraction)
        short = [r for r in rows if r["t"] >= cut]
        short_errors = sum(r["failures"] for r in short)
        short_total = sum(r["iterations"] for r in short)
        long_burn = burn_rate(errors, total, self.slo)
        short_burn = burn_rate(short_errors, short_total, self.slo)
        # decided on Wilson intervals of both windows' error rates, not on the estimates: fail
        # when both lie at or above the factor, pass when either lies below it
        budget = 1.0 - self.slo
        long_ci = wilson_interval(errors, total, level=self.level)
        short_ci = wilson_interval(short_errors, short_total, level=self.level)
        limit = self.factor * budget
        if long_ci.low >= limit and short_ci.low >= limit:
            decision = Decision.FAIL
        elif long_ci.high < limit or short_ci.high < limit:
            decision = Decision.PASS
        else:
            decision = Decision.INCONCLUSIVE
        warn = "" if long_burn <= 1 else " (over budget: would be a ticket in production)"
        words = (
            f"SLO {self.slo:.1%} burn rate {long_burn:.1f}× over the run "
            f"({level_words(self.level)} CI {long_ci.low / budget:.1f}× to "
            f"{long_ci.high / budget:.1f}×), {short_burn:.1f}× over its last "
            f"{self.short_fraction:.0%} ({short_ci.low / budget:.1f}× to "
            f"{short_ci.high / budget:.1f}×; fails at {self.factor:g}× on both){warn}"
        )
        evidence = Evidence(
            series=label,
            decision=decision,
            test="multi-window burn rate",
            n_candidate=total,
            candidate=errors / total,
            estimate=long_burn,
            unit="×",
            words=words,
        )
        return self.outcome([evidence])


class SequentialGate(GateBase):
    """Anytime-valid test on how failed iterations split between candidate and baseline: a
    Beta(1,1)-mixture e-value against the split the traffic shares predict; fails at 1/alpha.
    Valid however often it is looked at (during a run, at every stage)."""

    kind: Literal["sequential"] = "sequential"
    comparing: ClassVar[bool] = True
    anytime_valid: ClassVar[bool] = True

    def evaluate(self, data: RunData) -> GateOutcome:
        """Compute the e-value over all journeys."""
        from harness.gates.stats import sequential_error_split

        refused = self.without_baseline(data)
        if refused is not None:
            return refused
        nb = sum(n for (t, _), (n, _) in data.journeys.items() if t == data.baseline)
        nc = sum(n for (t, _), (n, _) in data.journeys.items() if t == data.candidate)
        fb = sum(f for (t, _), (_, f) in data.journeys.items() if t == data.baseline)
        fc = sum(f for (t, _), (_, f) in data.journeys.items() if t == data.candidate)
        if nb == 0 or nc == 0:
            evidence = unjudged(
                series="all journeys",
                what="error split",
                test="Beta-mixture e-value",
                n_baseline=nb,
                n_candidate=nc,
                n_needed=1,
                counts="iterations",
            )
            return self.outcome([evidence])
        share = nc / (nb + nc)
        e_value = sequential_error_split(fc, fb, share)
        alpha = gate_alpha(self, 0.98)  # alone: 0.01, as before the verdict split alpha
        failed = e_value >= 1 / alpha and fc / max(nc, 1) > fb / max(nb, 1)
        words = (
            f"failed iterations split {fb} baseline / {fc} candidate at a {share:.0%} candidate "
            f"share: e-value {e_value:,.1f} (fails at {1 / alpha:,.0f})"
        )
        evidence = Evidence(
            series="all journeys",
            decision=Decision.FAIL if failed else Decision.PASS,
            test="Beta-mixture e-value (anytime-valid)",
            n_baseline=nb,
            n_candidate=nc,
            baseline=fb,
            candidate=fc,
            estimate=e_value,
            unit="e",
            words=words,
        )
        return self.outcome([evidence])
