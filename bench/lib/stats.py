"""Statistics of paired rounds: medians of ratios, a bootstrap interval, percentiles, a fit."""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def alternated(kinds: Sequence[T], index: int) -> tuple[T, ...]:
    """The order of a pair's runs in round `index`: as given, then reversed, and so on, so that a
    machine speeding up or slowing down within the bench hits both sides alike."""
    return tuple(kinds) if index % 2 == 0 else tuple(reversed(kinds))


def ratios(top: Sequence[float], bottom: Sequence[float]) -> list[float]:
    """top/bottom of each round (rounds with a zero bottom left out), sorted."""
    return sorted(a / b for a, b in zip(top, bottom, strict=True) if b > 0)


def median_or_zero(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def median_interval(values: Sequence[float], *, draws: int = 4000) -> tuple[float, float]:
    """A 90% bootstrap interval of the median of `values` (resampled with replacement, seeded:
    the same rounds give the same interval)."""
    if len(values) < 3:
        return (min(values, default=0.0), max(values, default=0.0))
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(draws))
    return medians[int(0.05 * draws)], medians[int(0.95 * draws) - 1]


def pct(values: Sequence[float], q: float) -> float:
    """The `q` quantile (0..1) of sorted `values`, nearest rank below; nan when empty."""
    if not values:
        return float("nan")
    return float(values[min(len(values) - 1, int(q * len(values)))])


def fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares straight line through the points: (slope, intercept)."""
    if len(xs) < 2:
        return float("nan"), float("nan")
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return slope, my - slope * mx
