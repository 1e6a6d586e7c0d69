"""What a load process's deltas cost in memory: a delta is taken every second, and a histogram
holds 184 KiB of counts in a reference cycle with its encoder, freed only by a collection that
the tuned collector runs every few seconds. A histogram per series per delta (made to encode
it, and again to decode it in the same process) kept tens of MB waiting and grew a 3-minute
rehearsal's generator RSS by 63 MB. No Locust, no sockets."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator

import pytest
from hdrh.histogram import HdrHistogram

from harness.engine.collector import LoadAggregator, LoadCollector
from harness.records import Outcome, StepRecord, Touchpoint
from harness.telemetry.hdr import HdrStore, SeriesKey, encode_series

SERIES = 12
DELTAS = 6


def step(index: int, ms: float) -> StepRecord:
    return StepRecord(
        run_id="r",
        target="t",
        journey="j",
        step=f"step {index}",
        index=index,
        touchpoint=Touchpoint.API,
        worker=0,
        user=0,
        iteration=0,
        started_at=1000.0,
        duration_ms=ms,
        outcome=Outcome.PASSED,
    )


def live_histograms() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, HdrHistogram))


@pytest.fixture
def no_collection() -> Iterator[None]:
    """Cyclic garbage stays where a test can count it, as between two collections at load."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def record_a_second(collector: LoadCollector, second: int) -> None:
    for index in range(SERIES):
        for n in range(5):
            collector.step_finished(step(index, 1.0 + index + n + second))


def test_a_local_run_makes_no_histogram_per_delta(no_collection: None) -> None:
    collector, aggregator = LoadCollector(), LoadAggregator()
    before = live_histograms()
    for second in range(DELTAS):
        record_a_second(collector, second)
        aggregator.absorb("local", collector.take_delta(encoded=False))
    made = live_histograms() - before
    # the aggregator's histogram of each series (the only source's too), nothing per delta
    assert made == SERIES
    key = SeriesKey("t", "j", "step 3", "api")
    assert aggregator.hdr.count(key) == aggregator.sources["local"].hdr.count(key) == 5 * DELTAS


def test_a_worker_encodes_its_deltas_through_one_histogram(no_collection: None) -> None:
    collector = LoadCollector()
    before = live_histograms()
    payloads = []
    for second in range(DELTAS):
        record_a_second(collector, second)
        payloads.append(json.loads(json.dumps(collector.take_delta()))["hdr"])
    assert live_histograms() - before == 1
    # the same payloads as a store of its own per delta would have given
    for second, payload in enumerate(payloads):
        store = HdrStore()
        for index in range(SERIES):
            key = SeriesKey("t", "j", f"step {index}", "api")
            store.record_many(key, [1.0 + index + n + second for n in range(5)])
        assert payload == store.encode()


def test_a_master_frees_each_report_it_decodes(no_collection: None) -> None:
    collector, aggregator = LoadCollector(), LoadAggregator()
    before = live_histograms()
    for second in range(DELTAS):
        record_a_second(collector, second)
        aggregator.absorb("worker-1", json.loads(json.dumps(collector.take_delta())))
    # the collector's one histogram to encode through, the aggregator's merged and per-source
    # ones of each series; each report's decoded store is freed once merged
    assert live_histograms() - before == 1 + 2 * SERIES
    key = SeriesKey("t", "j", "step 3", "api")
    assert aggregator.hdr.count(key) == aggregator.sources["worker-1"].hdr.count(key) == 5 * DELTAS


def test_encoding_series_empties_the_histogram_between_them() -> None:
    a, b = SeriesKey("t", "j", "a", "api"), SeriesKey("t", "j", "b", "api")
    decoded = HdrStore.decode(
        encode_series({a: [5.0, 7.0, 900.0], b: [2.0], a._replace(step="c"): []})
    )
    assert (decoded.count(a), decoded.count(b), len(decoded)) == (3, 1, 2)
    assert decoded.summary(b).max_ms == pytest.approx(2.0, rel=1e-3)
    assert decoded.summary(b).min_ms == pytest.approx(2.0, rel=1e-3)
