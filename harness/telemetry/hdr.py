"""HDR latency histograms per (target, journey, step, touchpoint) and per journey iteration.

Values are recorded in microseconds from 1 µs to one hour with 3 significant digits, so every
percentile is exact to 0.1% of its value; histograms merge losslessly across workers and are
stored in the run folder under `histograms/`.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import json
import os
import re
import shutil
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from hdrh.codec import (
    HdrCookieException,
    HdrLengthException,
    PayloadHeader,
    payload_header_size,
)
from hdrh.histogram import HdrHistogram

if TYPE_CHECKING:
    from harness.telemetry.latency import Distribution

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_FIGURES = 3
ITERATION = ""  # the `step` of a whole-iteration series
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
INDEX_FILE = "index.json"


class SeriesKey(NamedTuple):
    """What one histogram measures; `step == ""` means the whole journey iteration. (A named
    tuple: two are built and hashed per iteration at load, and a tuple's hash is C.)"""

    target: str
    journey: str
    step: str
    touchpoint: str

    @property
    def is_iteration(self) -> bool:
        """True for a whole-iteration series."""
        return self.step == ITERATION

    def encode(self) -> str:
        """A string form usable as a JSON key (fields joined by the unit separator)."""
        return "\x1f".join((self.target, self.journey, self.step, self.touchpoint))

    @classmethod
    def decode(cls, text: str) -> SeriesKey:
        """Inverse of `encode`."""
        target, journey, step, touchpoint = text.split("\x1f")
        return cls(target, journey, step, touchpoint)

    def label(self) -> str:
        """`journey › step [touchpoint]` or `journey (iteration)`."""
        if self.is_iteration:
            return f"{self.journey} (iteration)"
        return f"{self.journey} › {self.step} [{self.touchpoint}]"


def recorded_values(histogram: HdrHistogram) -> tuple[Any, Any]:
    """(values in ms, counts) of a histogram as numpy arrays: each recorded bucket's highest
    equivalent value, computed from the counts array; the library's own recorded iterator walks
    every sub-bucket in Python, seconds for a report's or a verdict's hundred series."""
    import numpy as np  # here: load processes import this module and never need numpy

    counts = np.ctypeslib.as_array(histogram.counts)[: histogram.counts_len]
    index = np.nonzero(counts)[0]
    return bucket_values(histogram, index), counts[index].astype(np.int64)


def bucket_values(histogram: HdrHistogram, index: Any) -> Any:
    """The values in ms of the buckets at `index` (positions in the histogram's counts array):
    each bucket's highest equivalent value, as `recorded_values` gives them."""
    import numpy as np

    index = np.asarray(index, dtype=np.int64)
    half_magnitude = histogram.sub_bucket_half_count_magnitude
    half = histogram.sub_bucket_half_count
    bucket = (index >> half_magnitude) - 1
    sub_bucket = (index & (half - 1)) + half
    first = bucket < 0
    sub_bucket[first] -= half
    bucket[first] = 0
    shift = bucket + histogram.unit_magnitude
    highest = (sub_bucket << shift) + (np.int64(1) << shift) - 1
    return highest.astype(float) / 1000.0


def new_histogram() -> HdrHistogram:
    """An empty histogram with the harness's range and precision (its counts: 184 KiB)."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def record_durations(histogram: HdrHistogram, durations_ms: Sequence[float]) -> None:
    """Record durations (ms) into `histogram` with numpy: values rounded to µs and clamped to
    the range as `HdrStore.record` does; `durations_ms` must not be empty."""
    import numpy as np

    h = histogram
    values = np.clip(
        np.rint(np.asarray(durations_ms, dtype=np.float64) * 1000.0), LOWEST_US, HIGHEST_US
    ).astype(np.int64)
    # the library's `_counts_index_for`, vectorised: bit_length(v | mask) is the exponent
    # frexp gives (exact: every value is below 2**53)
    _, bit_length = np.frexp((values | h.sub_bucket_mask).astype(np.float64))
    bucket = (
        bit_length.astype(np.int64) - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
    )
    sub_bucket = values >> (bucket + h.unit_magnitude)
    index = ((bucket + 1) << h.sub_bucket_half_count_magnitude) + (
        sub_bucket - h.sub_bucket_half_count
    )
    counts = np.ctypeslib.as_array(h.counts)[: h.counts_len]
    np.add.at(counts, index, 1)
    h.total_count += len(values)
    h.min_value = min(h.min_value, int(values.min()))
    h.max_value = max(h.max_value, int(values.max()))


def encode_series(
    series: Mapping[SeriesKey, Sequence[float]], scratch: HdrHistogram | None = None
) -> dict[str, str]:
    """`HdrStore.encode` of the store `record_many` would fill with `series`, made through one
    histogram (`scratch`, else a new one) emptied between series. A histogram per series per
    delta left tens of MB to the garbage collector: each holds a reference cycle with its
    encoder, so its 184 KiB of counts wait for a collection."""
    h = scratch if scratch is not None else new_histogram()
    encoded: dict[str, str] = {}
    for key, durations in series.items():
        if not durations:
            continue
        clear(h)
        record_durations(h, durations)
        encoded[key.encode()] = h.encode().decode("ascii")
    return encoded


def clear(histogram: HdrHistogram) -> None:
    """Empty `histogram` in place (the library's `reset` zeroes its counts one at a time in
    Python: milliseconds)."""
    ctypes.memset(histogram.counts, 0, ctypes.sizeof(histogram.counts))
    histogram.total_count = 0
    histogram.min_value = sys.maxsize
    histogram.max_value = 0


@dataclass(frozen=True)
class Summary:
    """Count and percentiles (milliseconds) of one series."""

    key: SeriesKey
    count: int
    min_ms: float
    max_ms: float
    percentiles_ms: Mapping[float, float]

    def p(self, percentile: float) -> float:
        """The value at `percentile` in milliseconds."""
        return self.percentiles_ms[percentile]


class HdrStore:
    """A set of histograms keyed by `SeriesKey`."""

    def __init__(self) -> None:
        self._series: dict[SeriesKey, HdrHistogram] = {}

    def __len__(self) -> int:
        return len(self._series)

    def __iter__(self) -> Iterator[SeriesKey]:
        return iter(sorted(self._series))

    def histogram(self, key: SeriesKey) -> HdrHistogram:
        """The histogram of `key`, created empty on first use."""
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = new_histogram()
        return found

    def record(self, key: SeriesKey, duration_ms: float, expected_interval_ms: float = 0.0) -> None:
        """Record one duration; with an expected interval, back-fill coordinated omission."""
        value = min(HIGHEST_US, max(LOWEST_US, round(duration_ms * 1000.0)))
        if expected_interval_ms > 0:
            self.histogram(key).record_corrected_value(value, round(expected_interval_ms * 1000))
        else:
            self.histogram(key).record_value(value)

    def record_many(self, key: SeriesKey, durations_ms: Sequence[float]) -> None:
        """Record many durations at once (`record_durations`): the same counts as `record` one
        by one, at a few percent of its cost, which a load process paid twice per iteration."""
        if durations_ms:
            record_durations(self.histogram(key), durations_ms)

    def count(self, key: SeriesKey) -> int:
        """How many values `key` holds."""
        found = self._series.get(key)
        return int(found.get_total_count()) if found is not None else 0

    def merge(self, other: HdrStore) -> None:
        """Add every histogram of `other` into this store."""
        for key, histogram in other._series.items():
            self.histogram(key).add(histogram)

    def summary(self, key: SeriesKey, percentiles: Iterable[float] = PERCENTILES) -> Summary:
        """Count, min, max and percentiles of `key`, in milliseconds: the percentiles as
        `harness.telemetry.latency` defines them."""
        h = self.histogram(key)
        distribution = self.distribution(key)
        total = int(h.get_total_count())
        return Summary(
            key=key,
            count=total,
            min_ms=h.get_min_value() / 1000.0 if total else 0.0,
            max_ms=h.get_max_value() / 1000.0,
            percentiles_ms={p: distribution.percentile(p) for p in percentiles},
        )

    def distribution(self, key: SeriesKey) -> Distribution:
        """The values of `key` and their counts (empty for an unknown series)."""
        from harness.telemetry.latency import Distribution

        found = self._series.get(key)
        if found is None or not found.get_total_count():
            return Distribution.of([])
        return Distribution.of_histogram(found)

    def percentile(self, key: SeriesKey, percentile: float) -> float:
        """One percentile of `key` in milliseconds (see `harness.telemetry.latency`)."""
        return self.distribution(key).percentile(percentile)

    def discard(self) -> None:
        """Free this store's histograms now, not at the next collection: each holds a reference
        cycle with its encoder, and a master decodes a store per worker report (184 KiB of
        counts per series each time)."""
        for histogram in self._series.values():
            histogram.encoder.histogram = None
        self._series.clear()

    def encode(self) -> dict[str, str]:
        """A JSON-friendly form: encoded key → base64 HDR payload."""
        return {k.encode(): h.encode().decode("ascii") for k, h in self._series.items()}

    @classmethod
    def decode(cls, data: Mapping[str, str]) -> HdrStore:
        """Inverse of `encode`."""
        store = cls()
        for key, payload in data.items():
            store._series[SeriesKey.decode(key)] = HdrHistogram.decode(payload.encode("ascii"))
        return store

    def write(self, folder: Path) -> None:
        """Write one `.hdr` file per series and an `index.json` describing them."""
        folder.mkdir(parents=True, exist_ok=True)
        index: list[dict[str, Any]] = []
        for key in self:
            name = _file_name(key)
            (folder / name).write_bytes(self._series[key].encode())
            index.append({**key._asdict(), "file": name, "count": self.count(key)})
        (folder / INDEX_FILE).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")

    def replace_folder(self, folder: Path) -> None:
        """`write` into a fresh folder, then swap it in for `folder`: a reader (or a kill) sees
        the previous set or the new one, never half of one."""
        fresh = folder.with_name(f"{folder.name}.new")
        stale = folder.with_name(f"{folder.name}.old")
        shutil.rmtree(fresh, ignore_errors=True)
        self.write(fresh)
        if folder.exists():
            shutil.rmtree(stale, ignore_errors=True)
            os.replace(folder, stale)
        os.replace(fresh, folder)
        shutil.rmtree(stale, ignore_errors=True)

    @classmethod
    def read(cls, folder: Path) -> HdrStore:
        """Load a store written by `write`, in bounded memory; raises `DamagedRunFolder` when a
        file is damaged (see `harness.folder_io`) and `UnreadableRunFolder` when one cannot be
        read."""
        from harness.folder_io import damaged, parsed, read_bytes

        index = parsed(folder / INDEX_FILE, _index_entries)
        store = cls()
        for key, name in index:
            path = folder / name
            try:
                store._series[key] = _decode_file(read_bytes(path, limit=MAX_HDR_FILE_BYTES))
            except FileNotFoundError:
                raise damaged(path, "is listed in index.json but missing") from None
            except (
                ValueError,
                TypeError,
                zlib.error,
                HdrCookieException,
                HdrLengthException,
            ) as exc:
                raise damaged(path, f"is not an HDR histogram ({type(exc).__name__})") from None
        return store


MAX_HDR_FILE_BYTES = 4 * 1024 * 1024  #: one series' histogram file (a few KB when written)
_MAX_PAYLOAD_BYTES = 32 * 1024 * 1024  #: its decompressed counts (a zlib bomb stops here)


def _index_entries(data: Any) -> list[tuple[SeriesKey, str]]:
    entries = []
    for entry in data:
        key = SeriesKey(*(entry[f] for f in SeriesKey._fields))
        name = entry["file"]
        if not all(isinstance(part, str) for part in (*key, name)):
            raise TypeError("series names and file names must be strings")
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"`{name[:60]}` is not a file name inside histograms/")
        entries.append((key, name))
    return entries


def _decode_file(data: bytes) -> HdrHistogram:
    """Decode one `.hdr` file after checking its compressed counts inflate to a bounded size and
    that it has the harness's range and precision (a crafted header cannot make it allocate)."""
    raw = base64.b64decode(data, validate=True)
    inflate = zlib.decompressobj()
    payload = inflate.decompress(raw[8:], _MAX_PAYLOAD_BYTES)
    if inflate.unconsumed_tail:
        raise ValueError("its counts inflate beyond the bound")
    if len(payload) < payload_header_size:
        raise ValueError("its counts are cut short")
    header = PayloadHeader.from_buffer_copy(payload)
    wanted = (LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)
    found = (
        header.lowest_trackable_value,
        header.highest_trackable_value,
        header.significant_figures,
    )
    if found != wanted:
        raise ValueError(f"range and precision {found}, not {wanted}")
    return HdrHistogram.decode(data)


def _file_name(key: SeriesKey) -> str:
    raw = f"{key.target}__{key.journey}__{key.step or 'iteration'}__{key.touchpoint or 'all'}"
    digest = hashlib.sha1(key.encode().encode(), usedforsecurity=False).hexdigest()[:8]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw)[:160] + f"-{digest}.hdr"
