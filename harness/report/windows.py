"""Step latency and errors per time window, read from every record of `steps.jsonl`.

Distributions hide when something happened: a candidate that slows down half-way through a run
shows only as a fatter tail. This module cuts the run into at most `MAX_WINDOWS` equal windows
(whole seconds, at least one second each) and keeps, per window, a log-bucketed histogram of each
step series and a count of failed steps by error kind. It streams the file twice (the first pass
reads only each step's start time), so memory is bounded by series × windows × buckets whatever
the run's length: every record is read, none is kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.folder_io import lines, loads_line
from harness.results import STEPS_FILE
from harness.telemetry.hdr import SeriesKey
from harness.telemetry.latency import rank_at

MAX_WINDOWS = 60
#: log-spaced latency buckets from 10 µs to 10 min: each 3.6% wider than the one before, so a
#: percentile read from them is within about 2% of the exact value
LOWEST_MS = 0.01
HIGHEST_MS = 600_000.0
BUCKETS = 512
_RATIO = (HIGHEST_MS / LOWEST_MS) ** (1.0 / BUCKETS)
_LOG_RATIO = math.log(_RATIO)
_STARTED_AT = re.compile(rb'"started_at":\s*(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)')
SHIFT_RATIO = 1.5  #: a step's p95 that moves by this factor between the run's halves is listed
SHIFT_MIN_SAMPLES = 20  #: the fewest samples in a window for its p95 to count
MAX_SPAN_S = 366 * 86_400.0  #: the longest run windows are drawn for (a year)


def _bucket(duration_ms: float) -> int:
    if duration_ms <= LOWEST_MS:
        return 0
    return min(BUCKETS - 1, int(math.log(duration_ms / LOWEST_MS) / _LOG_RATIO))


def _bucket_value(index: np.ndarray) -> np.ndarray:
    """The geometric middle of each bucket, in ms."""
    return np.asarray(LOWEST_MS * _RATIO ** (index + 0.5), dtype=float)


@dataclass
class StepWindows:
    """Per-window step latency histograms and failed-step counts of one run."""

    start: float  #: epoch seconds at which the first window begins
    width_s: float  #: every window's width
    windows: int  #: how many windows
    records: int = 0  #: step records read
    latency: dict[SeriesKey, np.ndarray] = field(default_factory=dict)  #: windows by BUCKETS
    errors: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  #: (target, kind)

    def times(self) -> np.ndarray:
        """The middle of each window, in seconds since the first step started."""
        return (np.arange(self.windows) + 0.5) * self.width_s

    def counts(self, key: SeriesKey) -> np.ndarray:
        """How many steps of a series started in each window."""
        return np.asarray(self.latency[key].sum(axis=1))

    def percentile(self, key: SeriesKey, percentile: float) -> np.ndarray:
        """The series' latency at `percentile` in each window (ms); NaN where it has none."""
        histograms = self.latency[key]
        out = np.full(self.windows, np.nan)
        totals = histograms.sum(axis=1)
        cumulative = np.cumsum(histograms, axis=1)
        for window in np.nonzero(totals)[0]:
            rank = rank_at(percentile, int(totals[window]))  # the one rank rule
            index = int(np.searchsorted(cumulative[window], rank))
            out[window] = float(_bucket_value(np.asarray(index)))
        return out

    def record(self, key: SeriesKey, started_at: float, duration_ms: float) -> None:
        """Count one step."""
        window = min(self.windows - 1, max(0, int((started_at - self.start) / self.width_s)))
        histograms = self.latency.get(key)
        if histograms is None:
            histograms = self.latency[key] = np.zeros((self.windows, BUCKETS), dtype=np.int32)
        histograms[window, _bucket(duration_ms)] += 1

    def failed(self, target: str, kind: str, started_at: float) -> None:
        """Count one failed step of error kind `kind`."""
        window = min(self.windows - 1, max(0, int((started_at - self.start) / self.width_s)))
        counts = self.errors.get((target, kind))
        if counts is None:
            counts = self.errors[(target, kind)] = np.zeros(self.windows, dtype=np.int64)
        counts[window] += 1


def _lines(path: Path) -> Iterator[bytes]:
    for line in lines(path):  # bounded: a damaged line is skipped, a torn last one too
        if b'"kind":"iteration"' not in line:
            yield line


def read_windows(run_dir: Path, max_windows: int = MAX_WINDOWS) -> StepWindows | None:
    """Every step record of `run_dir/steps.jsonl`, cut into at most `max_windows` windows of
    whole seconds; None when the file is missing or holds no step."""
    path = run_dir / STEPS_FILE
    if not path.is_file():
        return None  # missing, or not a regular file (which the records' reader reports)
    first, last = math.inf, -math.inf
    for line in _lines(path):
        found = _STARTED_AT.search(line)
        if found:
            started = float(found[1])
            if math.isfinite(started):
                first, last = min(first, started), max(last, started)
    if first > last or last - first > MAX_SPAN_S:
        return None  # no step, or start times no run has (a damaged file)
    width = float(max(1, math.ceil((last - first + 1e-9) / max_windows)))
    windows = max(1, min(max_windows, math.floor((last - first) / width) + 1))
    result = StepWindows(start=first, width_s=width, windows=windows)
    for line in _lines(path):
        step = _step(line)
        if step is None:
            continue  # damaged: the records' reader counts and reports it
        key, started, duration_ms, error_kind = step
        result.records += 1
        result.record(key, started, duration_ms)
        if error_kind is not None:
            result.failed(key.target, error_kind, started)
    return result


def _step(line: bytes) -> tuple[SeriesKey, float, float, str | None] | None:
    """(series, start, duration, error kind when it failed) of a step line; None when it is not
    a well-formed step record."""
    data = loads_line(line)
    if data is None or data.get("kind", "step") != "step":
        return None
    parts = [data.get(f) for f in ("target", "journey", "step", "touchpoint")]
    numbers = (data.get("started_at"), data.get("duration_ms"))
    if not all(isinstance(part, str) for part in parts) or not all(
        isinstance(n, int | float) and not isinstance(n, bool) for n in numbers
    ):
        return None
    key = SeriesKey(*(str(part) for part in parts))
    started, duration_ms = float(numbers[0]), float(numbers[1])  # type: ignore[arg-type]
    if data.get("outcome") != "failed":
        return key, started, duration_ms, None
    return key, started, duration_ms, str(data.get("error_kind") or "unknown")


@dataclass(frozen=True)
class Shift:
    """A step whose p95 moved during the run: the median of its per-window p95 over the first
    half of the run against the second half."""

    key: SeriesKey
    before_ms: float
    after_ms: float
    from_s: float  #: the first window of the second half, seconds since the start

    @property
    def ratio(self) -> float:
        """after / before."""
        return self.after_ms / self.before_ms if self.before_ms else math.inf


def shifts(windows: StepWindows, ratio: float = SHIFT_RATIO) -> list[Shift]:
    """Series whose per-window p95 moved by `ratio` or more between the run's two halves
    (windows with fewer than `SHIFT_MIN_SAMPLES` steps left out), largest change first."""
    if windows.windows < 4:
        return []
    half = windows.windows // 2
    found = []
    for key in windows.latency:
        p95 = windows.percentile(key, 95.0)
        p95[windows.counts(key) < SHIFT_MIN_SAMPLES] = np.nan
        before, after = p95[:half], p95[half:]
        if np.isnan(before).all() or np.isnan(after).all():
            continue
        shift = Shift(
            key, float(np.nanmedian(before)), float(np.nanmedian(after)), half * windows.width_s
        )
        if shift.ratio >= ratio or shift.ratio <= 1.0 / ratio:
            found.append(shift)
    return sorted(found, key=lambda s: -abs(math.log(s.ratio)) if s.ratio else 0.0)
