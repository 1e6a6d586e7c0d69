"""Generator memory: a load process whose RSS grows steadily is flagged; warm-up, noise and
small growth are not."""

from __future__ import annotations

import random

from harness.engine.collector import LoadAggregator
from harness.engine.memory import slope, trends
from harness.engine.summary import assess_health


def samples(rss: list[float], source: str = "local", start: float = 1_000.0) -> list[dict]:
    return [
        {"t": start + i, "cpu": 20.0, "lag_ms": 1.0, "rss_mb": mb, "source": source}
        for i, mb in enumerate(rss)
    ]


def test_the_slope_is_least_squares() -> None:
    assert slope([(0, 1), (1, 3), (2, 5)]) == 2.0
    assert slope([(0, 1), (1, 0), (2, 1)]) == 0.0
    assert slope([(1, 5)]) == 0.0


def test_a_leak_of_a_megabyte_a_second_for_a_minute_is_flagged() -> None:
    rng = random.Random(1)
    leak = [80 + i + rng.uniform(-3, 3) for i in range(60)]  # 1 MB/s = 60 MB/min
    (trend,) = trends(samples(leak))
    assert trend.growing and 55 <= trend.slope_mb_per_min <= 65 and trend.growth_mb >= 50
    assert "grew" in trend.warning() and "MB/min" in trend.warning()


def test_noise_around_a_flat_line_is_not_flagged() -> None:
    rng = random.Random(2)
    flat = [120 + rng.uniform(-8, 8) for _ in range(300)]
    (trend,) = trends(samples(flat))
    assert not trend.growing and abs(trend.growth_mb) < 20


def test_a_warm_up_that_levels_off_is_not_a_leak() -> None:
    # 100 MB taken in the first 20 s (the first browser, the first histograms), then flat
    warm = [60 + min(i, 20) * 5 for i in range(60)]
    (trend,) = trends(samples(warm))
    assert trend.slope_mb_per_min > 10 and trend.growth_mb > 50  # the whole-run fit alone would
    assert not trend.growing


def test_slow_growth_below_the_minimum_is_not_flagged() -> None:
    # 12 MB/min for 2 minutes: 24 MB in all, under the 50 MB that counts
    slow = [100 + i * 0.2 for i in range(120)]
    (trend,) = trends(samples(slow))
    assert trend.slope_mb_per_min >= 10 and not trend.growing


def test_too_few_samples_judge_nothing() -> None:
    assert trends(samples([100, 200, 300, 400])) == []
    assert trends([{"t": 1.0, "cpu": 5.0}]) == []  # an older worker: no rss_mb


def test_each_process_is_judged_alone_and_the_leaking_one_named() -> None:
    flat = samples([150.0] * 60, source="worker-a")
    leak = samples([80.0 + 2 * i for i in range(60)], source="worker-b")
    aggregator = LoadAggregator()
    aggregator.health = [s for pair in zip(flat, leak, strict=True) for s in pair]
    health = assess_health(aggregator, 100)
    assert health.memory_growing and not health.saturated  # a warning, not inconclusive
    assert len(health.warnings) == 1 and "(worker-b)" in health.warnings[0]
    assert health.rss_max_mb >= 190 and health.rss_growth_mb >= 100
    assert health.as_dict()["warnings"] == list(health.warnings)


def test_a_steady_generator_has_no_memory_warning() -> None:
    aggregator = LoadAggregator()
    aggregator.health = samples([140.0 + (i % 3) for i in range(30)])
    health = assess_health(aggregator, 100)
    assert not health.memory_growing and health.warnings == ()
    assert health.rss_max_mb == 142.0


def test_a_run_too_short_for_a_trend_still_has_its_largest_size() -> None:
    # two samples: no trend, but 'RSS max 0 MB' is not what the process used
    aggregator = LoadAggregator()
    aggregator.health = samples([97.0, 108.0])
    health = assess_health(aggregator, 10)
    assert trends(aggregator.health) == [] and health.rss_max_mb == 108.0
