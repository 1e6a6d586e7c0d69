"""The load engine's pure parts: plans and durations, collector deltas, the aggregator's merge,
HDR stores and generator-health judgement. No Locust, no sockets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.durations import parse_duration
from harness.engine.collector import LoadAggregator, LoadCollector
from harness.engine.plan import LoadPlan, ShapeKind, parse_stages
from harness.engine.summary import assess_health, latency_rows, progress_line
from harness.errors import ErrorKind, SpecError, UsageError
from harness.records import IterationRecord, Outcome, StepRecord, Touchpoint
from harness.results import RunDirectory
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey
from harness.text import plural

TARGET = {"name": "t", "web": "http://127.0.0.1:1/", "api": "x", "mobile": "y"}


def plan(**overrides) -> LoadPlan:
    return LoadPlan(run_id="r", targets=[TARGET], results_root="/tmp", **overrides)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("2m", 120), ("1h30m", 5400), ("500ms", 0.5), ("45", 45), ("1m30s", 90)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "10 s", "5x", "-3s", "0s", "25h", "1h-2m"])
def test_bad_durations_name_the_value(text: str) -> None:
    with pytest.raises(SpecError, match=repr(text).replace("(", r"\(")):
        parse_duration(text)


def test_stages_and_users_over_time() -> None:
    stages = parse_stages("5x10s, 20x1m")
    steps = plan(shape=ShapeKind.STEPS, stages=stages)
    assert steps.total_duration_s == 70
    assert [steps.users_at(t) for t in (0, 9.9, 10, 69.9, 70)] == [5, 5, 20, 20, None]
    ramp = plan(users=7, duration_s=5)
    assert (ramp.users_at(4.9), ramp.users_at(5)) == (7, None)
    arrival = plan(shape=ShapeKind.ARRIVAL, rate=5, max_users=3, workers=2)
    assert arrival.users_at(0) == 6


@pytest.mark.parametrize("text", ["10", "tenx30s", "10x", "x30s", ","])
def test_bad_stages(text: str) -> None:
    with pytest.raises(SpecError, match="steps"):
        parse_stages(text)


def test_inconsistent_plans_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="--rate"):
        plan(shape=ShapeKind.ARRIVAL)
    with pytest.raises(UsageError, match="--steps"):
        plan(shape=ShapeKind.STEPS)


def step(journey: str, name: str, ms: float, outcome: Outcome = Outcome.PASSED) -> StepRecord:
    return StepRecord(
        run_id="r",
        target="t",
        journey=journey,
        step=name,
        index=0,
        touchpoint=Touchpoint.API,
        worker=0,
        user=0,
        iteration=0,
        started_at=1000.0,
        duration_ms=ms,
        outcome=outcome,
        error_kind=ErrorKind.HTTP_STATUS if outcome is Outcome.FAILED else None,
    )


def iteration(
    journey: str, ms: float, *, failed: bool = False, late_ms: float | None = None
) -> IterationRecord:
    return IterationRecord(
        run_id="r",
        target="t",
        journey=journey,
        worker=0,
        user=0,
        iteration=0,
        started_at=1000.5,
        duration_ms=ms,
        outcome=Outcome.FAILED if failed else Outcome.PASSED,
        steps_passed=1,
        steps_total=1,
        late_ms=late_ms,
    )


def test_deltas_count_every_record_exactly_once() -> None:
    collector = LoadCollector(sample_rate=1.0, late_after_ms=10)
    aggregator = LoadAggregator()
    for i in range(50):
        collector.step_finished(step("buy", "pay", 10 + i))
        collector.iteration_finished(iteration("buy", 20 + i, failed=i % 10 == 0, late_ms=i))
        if i % 7 == 0:
            aggregator.absorb("w1", collector.take_delta())
    aggregator.absorb("w1", collector.take_delta(), final=True)
    aggregator.absorb("w1", collector.take_delta())  # an empty delta adds nothing

    pay = SeriesKey("t", "buy", "pay", "api")
    whole = SeriesKey("t", "buy", ITERATION, "")
    assert aggregator.hdr.count(pay) == 50
    assert aggregator.hdr.count(whole) == 50
    assert (aggregator.iterations, aggregator.failures) == (50, 5)
    assert aggregator.late == 39  # late_ms 11..49 are over the 10 ms limit
    assert aggregator.sources["w1"].final
    assert aggregator.seconds[("t", 1000)].iterations == 50
    assert aggregator.timeline()[0]["iterations"] == 50


def test_sampling_keeps_every_failure() -> None:
    collector = LoadCollector(sample_rate=0.0)
    for i in range(20):
        collector.step_finished(step("buy", "pay", 5, Outcome.FAILED if i < 3 else Outcome.PASSED))
    delta = collector.take_delta()
    assert len(delta["lines"]) == 3
    assert all(json.loads(line)["outcome"] == "failed" for line in delta["lines"])
    assert delta["errors"] == [["t", "buy", "pay", "api", "http_status", 3]]


def test_merged_histograms_equal_the_sum_of_sources(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path, "run")
    aggregator = LoadAggregator(run)
    for source, n in (("a", 30), ("b", 45)):
        collector = LoadCollector()
        for i in range(n):
            collector.step_finished(step("buy", "pay", 1 + i))
        aggregator.absorb(source, json.loads(json.dumps(collector.take_delta())))
    run.close()
    key = SeriesKey("t", "buy", "pay", "api")
    assert aggregator.hdr.count(key) == 75
    assert sum(s.hdr.count(key) for s in aggregator.sources.values()) == 75
    assert len((tmp_path / "run" / "steps.jsonl").read_text().splitlines()) == 75


def test_hdr_store_percentiles_are_exact_to_three_digits(tmp_path: Path) -> None:
    store = HdrStore()
    key = SeriesKey("t", "j", "s", "web")
    for value in range(1, 10_001):
        store.record(key, value / 10.0)  # 0.1 ms .. 1000 ms
    summary = store.summary(key)
    assert summary.count == 10_000
    for p, exact in ((50.0, 500.0), (95.0, 950.0), (99.0, 990.0)):
        assert abs(summary.p(p) - exact) <= exact * 0.001 + 0.001
    store.write(tmp_path / "h")
    again = HdrStore.read(tmp_path / "h")
    assert again.count(key) == 10_000
    assert again.summary(key).p(99.0) == summary.p(99.0)


def test_recording_in_a_batch_equals_recording_one_by_one() -> None:
    import random

    rng = random.Random(5)
    durations = [0.0, 0.0004, 0.0005, 0.0015, 1e-3, 2.5e6, 3.6e6, 9e9]  # edges, clamped ones
    durations += [10 ** rng.uniform(-3, 7) for _ in range(20_000)]  # 1 µs .. 3 hours
    durations += [rng.randrange(1, 5_000_000) / 1000.0 for _ in range(20_000)]  # exact µs
    one, batch = HdrStore(), HdrStore()
    key = SeriesKey("t", "j", "s", "api")
    for value in durations:
        one.record(key, value)
    batch.record_many(key, durations[:7])
    batch.record_many(key, durations[7:])
    a, b = one.histogram(key), batch.histogram(key)
    assert list(a.counts) == list(b.counts)
    assert (a.total_count, a.min_value, a.max_value) == (b.total_count, b.min_value, b.max_value)
    assert one.summary(key) == batch.summary(key)


def test_the_collector_counts_steps_recorded_between_deltas() -> None:
    collector = LoadCollector()
    for ms in (1.0, 2.0, 3.0):
        collector.step_finished(step("j", "s", ms))
    first = HdrStore.decode(collector.take_delta()["hdr"])
    collector.step_finished(step("j", "s", 4.0))
    second = HdrStore.decode(collector.take_delta()["hdr"])
    key = SeriesKey("t", "j", "s", "api")
    assert (first.count(key), second.count(key)) == (3, 1)
    assert 4.0 <= second.summary(key).max_ms <= 4.0 * 1.001  # within 3 significant digits


def test_coordinated_omission_correction_backfills() -> None:
    store = HdrStore()
    key = SeriesKey("t", "j", ITERATION, "")
    for _ in range(99):
        store.record(key, 1.0, expected_interval_ms=10)
    store.record(key, 1000.0, expected_interval_ms=10)
    assert store.count(key) > 100
    assert store.summary(key).p(95.0) > 400


def test_health_flags_a_saturated_generator() -> None:
    aggregator = LoadAggregator()
    aggregator.health = [{"cpu": 99.0, "lag_ms": 5.0} for _ in range(10)]
    health = assess_health(aggregator, 100)
    assert health.saturated and "CPU" in health.reasons[0]
    aggregator.health = [{"cpu": 30.0, "lag_ms": 250.0} for _ in range(10)]
    assert "lag" in assess_health(aggregator, 100).reasons[0]
    aggregator.health = [{"cpu": 30.0, "lag_ms": 2.0} for _ in range(10)]
    assert not assess_health(aggregator, 100).saturated


def test_the_loop_lag_p95_takes_the_rank_every_percentile_takes() -> None:
    """22 samples (the first 2 skipped as start-up) of 10, 20, ... 200 ms: p95 is the 19th
    (190 ms), as `harness.telemetry.latency` ranks, not the 20th."""
    aggregator = LoadAggregator()
    aggregator.health = [{"cpu": 30.0, "lag_ms": 0.0}] * 2
    aggregator.health += [{"cpu": 30.0, "lag_ms": 10.0 * k} for k in range(1, 21)]
    assert assess_health(aggregator, 100).lag_p95_ms == 190.0


def test_tables_list_journeys_and_steps_with_percentiles() -> None:
    aggregator = LoadAggregator()
    collector = LoadCollector()
    for i in range(10):
        collector.step_finished(step("buy", "pay", 10 + i))
        collector.iteration_finished(iteration("buy", 20 + i))
    aggregator.absorb("local", collector.take_delta())
    rows = latency_rows(aggregator.hdr, aggregator.journeys)
    assert rows[0][:6] == ["journey / step", "touchpoint", "count", "failed", "cut off", "p50"]
    assert rows[1][0] == "buy" and rows[1][2] == "10"
    assert rows[2][0].endswith("pay") and rows[2][1] == "api"
    assert "it/s" in progress_line(aggregator, 3.0, 30.0, 4)


def test_steps_of_a_cut_off_journey_sit_under_their_own_journey() -> None:
    """A browser journey whose every iteration was cut off at the end of the load has steps but
    no finished iteration: its steps must not read as those of the journey listed before it."""
    aggregator = LoadAggregator()
    aggregator.expect(["t"], ["api_catalog_and_orders", "browse_and_buy", "idle"])
    collector = LoadCollector()
    for i in range(3):
        collector.step_finished(step("api_catalog_and_orders", "pay", 10 + i))
        collector.iteration_finished(iteration("api_catalog_and_orders", 20 + i))
    web = step("browse_and_buy", "sign up", 900).model_copy(update={"touchpoint": Touchpoint.WEB})
    collector.step_finished(web)
    collector.iteration_cut_off("t", "browse_and_buy")
    aggregator.absorb("local", collector.take_delta())
    rows = latency_rows(aggregator.hdr, aggregator.journeys)
    labels = [r[0] for r in rows[1:]]
    assert labels == ["api_catalog_and_orders", "  › pay", "browse_and_buy", "  › sign up", "idle"]
    assert rows[3][2:6] == ["0", "0", "1", "none finished"]
    assert rows[4][1] == "web" and rows[4][2] == "1"
    assert rows[5][2:6] == ["0", "0", "0", "never ran"]
    assert rows[1][4] == "0"  # the finished journey: nothing cut off
    counts = {j["journey"]: j for j in aggregator.counts()["journeys"]}
    assert counts["browse_and_buy"]["cut_off"] == 1 and counts["browse_and_buy"]["iterations"] == 0
    assert aggregator.cut_off == 1
    assert aggregator.never_ran() == [("t", "browse_and_buy"), ("t", "idle")]


def test_an_older_worker_without_cut_off_counts_still_merges() -> None:
    aggregator = LoadAggregator()
    aggregator.absorb("w1", {"journeys": [["t", "j", 4, 1, 0]]})
    assert aggregator.journeys[("t", "j")].iterations == 4
    assert aggregator.journeys[("t", "j")].cut_off == 0


def test_the_progress_clock_stops_at_the_planned_duration() -> None:
    aggregator = LoadAggregator()
    assert progress_line(aggregator, 46.2, 45.0, 1).startswith("    45s/45s stopping  users 1 ")
    assert progress_line(aggregator, 12.0, 45.0, 1).startswith("    12s/45s  users")


def test_the_progress_line_of_a_rehearsal_labels_each_side() -> None:
    aggregator = LoadAggregator()
    collector = LoadCollector()
    for target, ms in (("live", 20.0), ("next", 90.0)):
        collector.iteration_finished(iteration("buy", ms).model_copy(update={"target": target}))
    aggregator.absorb("local", collector.take_delta())
    line = progress_line(aggregator, 3.0, 30.0, 2, {"live": "baseline", "next": "candidate"})
    assert line.endswith("p95 baseline: buy 20.0 ms | candidate: buy 90.0 ms")


def test_plural() -> None:
    assert plural(1, "browser user") == "1 browser user"
    assert plural(2, "browser user") == "2 browser users"
    assert plural(0, "journey") == "0 journeys"
    assert plural(1_204, "iteration") == "1,204 iterations"
    assert plural(1, "process", "processes") == "1 process"
    assert plural(3, "process", "processes") == "3 processes"


def test_a_load_process_collects_garbage_less_often_and_freezes_its_start_up() -> None:
    """In its own process (it imports Locust): preparing a load raises the collector's
    thresholds and freezes what was alive at start-up."""
    import subprocess
    import sys

    code = (
        "import gc\n"
        "from locust.env import Environment\n"
        "from harness.engine import locust_users\n"
        "from harness.engine.plan import LoadPlan\n"
        f"plan = LoadPlan(run_id='r', targets=[{TARGET!r}], results_root='/tmp')\n"
        "before = gc.get_threshold()\n"
        "locust_users.prepare(plan, [], 0, Environment())\n"
        "print(before, gc.get_threshold(), gc.get_freeze_count() > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split(") ") == ["(700, 10, 10", "(20000, 10, 10", "True\n"]


def test_what_a_load_run_froze_is_collected_once_the_run_is_over() -> None:
    """A process runs several loads (a drill's runs): what the previous run still held when
    the next one froze its start-up, a cycle among it, must be collected once that run is over;
    frozen for good, a drill's RSS grew ~70 MB a run."""
    import subprocess
    import sys

    code = (
        "import gc, weakref\n"
        "from locust.env import Environment\n"
        "from harness.engine import locust_users\n"
        "from harness.engine.plan import LoadPlan\n"
        f"plan = LoadPlan(run_id='r', targets=[{TARGET!r}], results_root='/tmp')\n"
        "class Held: pass\n"
        "held = Held(); held.me = held  # a cycle, still held as the run starts\n"
        "alive = weakref.ref(held)\n"
        "locust_users.prepare(plan, [], 0, Environment())\n"
        "del held\n"
        "locust_users.state().stop()\n"
        "gc.collect()\n"
        "print(alive() is None, gc.get_threshold(), gc.get_freeze_count())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "True (700, 10, 10) 0\n"


@pytest.mark.parametrize(
    ("spec", "cpus"), [("auto", None), ("none", set()), ("2,3", {2, 3}), (" 1 ", {1})]
)
def test_browser_cpus_are_auto_none_or_a_list(spec: str, cpus: set[int] | None) -> None:
    from harness.engine.plan import parse_cpus

    assert parse_cpus(spec) == cpus
    assert plan(browser_cpus=spec).browser_cpus == spec


@pytest.mark.parametrize("spec", ["", "last", "1,x", "-1"])
def test_bad_browser_cpus_name_the_value(spec: str) -> None:
    with pytest.raises(UsageError, match="--browser-cpus"):
        plan(browser_cpus=spec)


def test_chromium_cores_and_the_generator_kept_off_them() -> None:
    """In its own process (it imports Locust and changes its own affinity)."""
    import subprocess
    import sys

    code = (
        "import os\n"
        "from harness.engine.tuning import browser_cpus, keep_off\n"
        "mine = sorted(os.sched_getaffinity(0))\n"
        "auto = browser_cpus('auto')\n"
        "assert auto == ({mine[-1]} if len(mine) > 1 else None), auto\n"
        "assert browser_cpus('none') is None\n"
        "assert browser_cpus(str(mine[0])) == {mine[0]}\n"
        "assert browser_cpus('4095') is None  # not a core of this process\n"
        "keep_off(auto)\n"
        "left = sorted(os.sched_getaffinity(0))\n"
        "assert left == (mine[:-1] if len(mine) > 1 else mine), left\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout == "ok\n", out.stderr
