"""Looking more than once: the abort watch on cumulative counts (anytime-valid) and rollout
looks that spend their alpha across the planned looks (issue 22). Fakes only, no sockets."""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import pytest

from harness.engine.collector import Tally
from harness.gates.abort import AbortWatch
from harness.gates.config import parse_gates


class FakeAggregator:
    def __init__(self) -> None:
        self.seconds: dict[tuple[str, int], Tally] = defaultdict(Tally)


def test_a_chance_cluster_of_errors_does_not_abort_an_identical_candidate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ten minutes at 20 iterations a second per side, one failure every 10 s on each side; in
    # one 10-second stretch the candidate's errors cluster (12 of them, none on the baseline).
    # A 60-second window saw 12 to 0 (e-value 315, over 1/alpha = 40) for most of a minute and
    # aborted; the run's cumulative counts say 42 to 30, nowhere near.
    gates = parse_gates([{"kind": "sequential", "abort": True}])
    start = 1_800_000_000
    now = [float(start)]
    monkeypatch.setattr(time, "time", lambda: now[0])
    watch = AbortWatch(gates, baseline="baseline", candidate="candidate")
    aggregator = FakeAggregator()
    reasons = []
    for t in range(600):
        second = start + t
        base_fail = int(t % 10 == 0 and not 250 <= t < 330)
        cand_fail = int(t % 10 == 5) + (12 if t == 300 else 0)
        aggregator.seconds[("baseline", second)].add(Tally(20, base_fail))
        aggregator.seconds[("candidate", second)].add(Tally(20, cand_fail))
        now[0] = second + 1.0
        reasons.append(watch(aggregator, float(t)))  # type: ignore[arg-type]
    assert not any(reasons), next(r for r in reasons if r)


def test_the_abort_watch_still_stops_a_real_regression(monkeypatch: pytest.MonkeyPatch) -> None:
    gates = parse_gates([{"kind": "sequential", "abort": True}])
    start = 1_800_000_000
    now = [float(start)]
    monkeypatch.setattr(time, "time", lambda: now[0])
    watch = AbortWatch(gates, baseline="baseline", candidate="candidate")
    aggregator = FakeAggregator()
    rng = np.random.default_rng(1)
    stopped = None
    for t in range(300):
        aggregator.seconds[("baseline", start + t)].add(Tally(20, int(rng.binomial(20, 0.005))))
        aggregator.seconds[("candidate", start + t)].add(Tally(20, int(rng.binomial(20, 0.05))))
        now[0] = start + t + 1.0
        stopped = watch(aggregator, float(t))  # type: ignore[arg-type]
        if stopped:
            break
    assert stopped is not None and "breached" in stopped
    assert t < 120  # within two minutes of a tenfold error rate


def test_rollout_looks_at_the_margin_roll_back_no_more_than_nominal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 4 journeys whose candidate error rate is exactly at the 1 pp margin (1% → 2%), a stage of
    # up to 3 looks at its growing window: judged at the full level each look, with no Holm
    # across journeys, this rolled back about 24% of the time against 2.5% nominal.
    import harness.rollout.controller as controller_module
    from harness.rollout.controller import RolloutController
    from harness.rollout.stages import RolloutOutcome
    from harness.targets import Target
    from tests.unit.test_gates_rules import make_data

    gates = parse_gates(
        [{"kind": "relative", "metric": "error_rate", "margin": "1pp", "critical": True}]
    )
    rng = np.random.default_rng(8)
    values = np.full(10, 20.0)
    looks: list[object] = []
    monkeypatch.setattr(controller_module, "window_data", lambda *a, **k: looks[-1])
    runs = 300
    rolled_back = 0
    for _ in range(runs):
        counts = {j: [0, 0, 0, 0] for j in range(4)}  # nb, fb, nc, fc

        def grow(counts: dict[int, list[int]] = counts) -> None:
            data = make_data(values, values)
            data.journeys.clear()
            for j, c in counts.items():
                c[0] += 1500
                c[1] += int(rng.binomial(1500, 0.01))
                c[2] += 1500
                c[3] += int(rng.binomial(1500, 0.02))
                data.journeys[("baseline", f"j{j}")] = (c[0], c[1])
                data.journeys[("candidate", f"j{j}")] = (c[2], c[3])
            looks.append(data)

        grow()
        controller = RolloutController(
            shares=[10, 100],
            stage_duration_s=0.0,
            max_extensions=2,
            gates=gates,
            baseline=Target.from_base_url("http://127.0.0.1:1", name="baseline"),
            candidate=Target.from_base_url("http://127.0.0.1:2", name="candidate"),
            set_share=lambda share: None,
            hooks={},
        )
        controller.start()
        for _look in range(3):
            if controller(None, 0) is not None:  # type: ignore[arg-type]
                break
            grow()
        rolled_back += controller.record.outcome is RolloutOutcome.ROLLED_BACK
    assert rolled_back / runs <= 0.025 + 0.02, rolled_back / runs


def _alphas_seen_by_the_drill_replay(*, anytime_valid: bool) -> list[float]:
    """The alpha a gate of alpha 1% is judged at, at each of the replay's 10 looks."""
    from typing import ClassVar, Literal

    from harness.drill.replay import detection_times
    from harness.gates.base import GateBase
    from harness.gates.outcome import Decision, GateOutcome

    seen: list[float] = []

    class Recorder(GateBase):
        kind: Literal["recorder"] = "recorder"
        comparing: ClassVar[bool] = True

        def evaluate(self, data: object) -> GateOutcome:  # type: ignore[override]
            seen.append(float(self.alpha or 0.0))
            return GateOutcome(
                name="r", kind="recorder", decision=Decision.INCONCLUSIVE, summary="-"
            )

    class AnytimeRecorder(Recorder):
        anytime_valid: ClassVar[bool] = True

    class Run:
        start, end = 0.0, 9.0

        def window(self, start: float, end: float) -> object:
            return None

    gate = (AnytimeRecorder if anytime_valid else Recorder)(alpha=0.01)
    found = detection_times(Run(), [gate], 0.0)  # type: ignore[arg-type, list-item]
    assert found == {"recorder": None}
    return seen


def test_the_drill_replay_spends_each_gates_alpha_over_its_looks() -> None:
    # judging the growing run every second at the full alpha made Kayenta's judge false-alarm
    # 9.2% of the time instead of 2.5%: the replay now spends (2k - 1)/K² at look k of K
    seen = _alphas_seen_by_the_drill_replay(anytime_valid=False)
    looks = len(seen)
    assert looks == 10
    assert seen == pytest.approx([0.01 * (2 * k - 1) / looks**2 for k in range(1, looks + 1)])
    assert sum(seen) == pytest.approx(0.01)


def test_the_drill_replay_judges_an_anytime_valid_gate_at_its_whole_alpha() -> None:
    # the e-value on cumulative counts is valid however often it is looked at: spending its
    # alpha over the replay's seconds would time a detection later than the live abort makes it
    assert _alphas_seen_by_the_drill_replay(anytime_valid=True) == [0.01] * 10


def test_a_looks_split_keeps_the_anytime_valid_gates_whole_share() -> None:
    from harness.gates.family import spent, split_alpha

    gates = parse_gates(
        [
            {"kind": "sequential", "alpha": 0.001, "abort": True},
            {"kind": "relative", "metric": "error_rate", "margin": "1pp", "alpha": 0.006},
        ]
    )
    scale = spent(1, 3)
    split, family = split_alpha(gates, scale=scale)
    assert [g.alpha for g in split] == pytest.approx([0.001, 0.006 * scale])
    assert family == pytest.approx(0.001 + 0.006 * scale)
    # over the three looks the family adds up to the gates' alphas: the e-value's once
    total = sum(split_alpha(gates, scale=spent(k, 3))[1] - 0.001 for k in (1, 2, 3)) + 0.001
    assert total == pytest.approx(0.007)
