"""Memory growth of the load generator: a journey that leaks turns each load process into a
slowly filling bucket, and its latencies into a measure of the garbage collector.

Every load process samples its resident set size (RSS) each second, with its CPU (see
`generator_health.health_loop`). A process whose RSS grows steadily over the run is flagged: the
least-squares slope over the run, past the first samples (imports, the first browser, the
first histograms), is at least `SLOPE_MB_PER_MIN`, the growth it fits over the run is at least
`MIN_GROWTH_MB`, and the later half of the run still grows at half that slope or more, so a
warm-up that levels off is not a leak.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SLOPE_MB_PER_MIN = 10.0
MIN_GROWTH_MB = 50.0
MIN_SAMPLES = 5
SKIP_SAMPLES = 2  #: the first samples of a process: start-up, not the run
MB = 1024 * 1024


@dataclass(frozen=True)
class MemoryTrend:
    """One process's RSS over a run."""

    source: str
    samples: int
    start_mb: float
    max_mb: float
    slope_mb_per_min: float
    growth_mb: float  #: the rise the fitted line makes over the sampled span
    growing: bool

    def warning(self) -> str:
        """The line shown with the generator's health."""
        where = "" if self.source == "local" else f" ({self.source})"
        return (
            f"generator memory grew {self.growth_mb:.0f} MB{where} at "
            f"{self.slope_mb_per_min:.0f} MB/min (RSS {self.start_mb:.0f} → {self.max_mb:.0f} MB): "
            "a journey may be keeping something each iteration"
        )


def slope(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of y over x (0 with fewer than two distinct x)."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def trend(source: str, points: Sequence[tuple[float, float]]) -> MemoryTrend | None:
    """The trend of (time in s, RSS in MB) points of one process; None with too few of them."""
    kept = sorted(points)[SKIP_SAMPLES:] if len(points) > SKIP_SAMPLES + 2 else sorted(points)
    if len(kept) < MIN_SAMPLES:
        return None
    per_min = slope([(t / 60.0, mb) for t, mb in kept])
    span_min = (kept[-1][0] - kept[0][0]) / 60.0
    growth = per_min * span_min
    later = kept[len(kept) // 2 :]
    later_per_min = slope([(t / 60.0, mb) for t, mb in later])
    growing = (
        per_min >= SLOPE_MB_PER_MIN
        and growth >= MIN_GROWTH_MB
        and later_per_min >= SLOPE_MB_PER_MIN / 2
    )
    return MemoryTrend(
        source=source,
        samples=len(kept),
        start_mb=round(kept[0][1], 1),
        max_mb=round(max(mb for _, mb in kept), 1),
        slope_mb_per_min=round(per_min, 1),
        growth_mb=round(growth, 1),
        growing=growing,
    )


def trends(samples: Sequence[Mapping[str, Any]]) -> list[MemoryTrend]:
    """The trend of each process in health samples (`t`, `rss_mb`, and `source` when merged
    from several processes); samples without `rss_mb` are skipped."""
    by_source: dict[str, list[tuple[float, float]]] = {}
    for sample in samples:
        if "rss_mb" in sample and "t" in sample:
            source = str(sample.get("source", "local"))
            by_source.setdefault(source, []).append((float(sample["t"]), float(sample["rss_mb"])))
    found = (trend(source, points) for source, points in sorted(by_source.items()))
    return [t for t in found if t is not None]
