"""The numbers behind the report's charts: distributions rebuilt from HDR histograms or from
records, their percentiles and CDFs, and the SVG the charts become."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from harness.report import charts
from harness.report.folder import Distribution, hdr_distribution
from harness.telemetry.hdr import HdrStore, SeriesKey

KEY = SeriesKey("candidate", "j", "s", "api")


def _store(values: list[float]) -> HdrStore:
    store = HdrStore()
    for value in values:
        store.record(KEY, value)
    return store


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hdr_distribution_matches_the_libraries_iterator_and_percentiles(seed: int) -> None:
    rng = random.Random(seed)
    store = _store([rng.lognormvariate(3, 1.2) for _ in range(5_000)])
    histogram = store.histogram(KEY)
    expected = [
        (
            histogram.get_highest_equivalent_value(i.value_iterated_to) / 1000.0,
            i.count_at_value_iterated_to,
        )
        for i in histogram.get_recorded_iterator()
    ]
    found = hdr_distribution(histogram)
    assert list(zip(found.values_ms.tolist(), found.counts.tolist(), strict=True)) == expected
    summary = store.summary(KEY, (50.0, 95.0, 99.0, 99.9))
    for percentile in (50.0, 95.0, 99.0, 99.9):
        assert found.percentile(percentile) == summary.p(percentile)


def test_raw_distribution_percentiles() -> None:
    dist = Distribution.of([float(v) for v in range(1, 101)])
    assert (dist.total, dist.percentile(50.0), dist.percentile(95.0)) == (100, 50.0, 95.0)
    assert Distribution.of([]).percentile(95.0) == 0.0


def test_cdf_is_downsampled_and_monotonic() -> None:
    dist = Distribution.of([float(v) for v in range(10_000)])
    x, y = dist.cdf(200)
    assert len(x) <= 200 and y[-1] == 1.0
    assert np.all(np.diff(x) > 0) and np.all(np.diff(y) > 0)


def test_charts_are_inline_svg_with_unique_ids_and_literal_dollars() -> None:
    panels = [("$price [api]", {"baseline": Distribution.of([1.0, 2.0, 3.0])})]
    first, second = charts.latency_cdfs(panels), charts.latency_cdfs(panels)
    assert first.startswith("<svg") and "<?xml" not in first
    assert "$price [api]" in first  # text, not TeX
    ids = set(re.findall(r'id="([^"]+)"', first))
    assert ids and not ids & set(re.findall(r'id="([^"]+)"', second))
    assert len(first) < 40_000


def test_impact_map_and_funnel_draw_every_label() -> None:
    edges = {("checkout", "pay", "api"): {"POST /api/v1/orders"}, ("checkout", "see", "web"): set()}
    svg = charts.impact_map(edges)
    for label in ("checkout", "pay [api]", "see [web]", "POST /api/v1/orders"):
        assert label in svg
    rows = [charts.FunnelStep("pay", "api", 10, 7)]
    assert "7/10 70%" in charts.funnel("checkout", {"candidate": rows})
