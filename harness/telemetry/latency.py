"""The one definition of each statistic a run shows or judges: p50, p95, p99 (any percentile),
mean, max, and the failure rate.

A percentile is HDR's: the value at rank `max(1, int(p × n / 100 + 0.5))` of the ascending
values, which for a histogram is its bucket's highest equivalent value (what
`HdrHistogram.get_value_at_percentile` returns, computed here from the counts array at numpy
speed). The terminal summary, summary.md, summary.json, report.html, the threshold gate and
the pytest plugin's gates all compute it here, from the HDR histograms where the run has them
(they count every step; steps.jsonl may be thinned by --step-sample-rate), else from the
records. Numpy loads on first use: a process that only records never pays for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

#: the percentiles every summary shows (terminal, summary.md, summary.json, report.html)
SHOWN = (50.0, 95.0, 99.0)


def rank_at(percentile: float, total: int) -> int:
    """The 1-based rank of `percentile` among `total` ascending values (hdrh's arithmetic,
    operation for operation, so that both give the same rank at a half)."""
    return max(1, int(min(percentile, 100.0) * total / 100 + 0.5))


def format_ms(value: float) -> str:
    """A latency as every summary shows it: `8.5 ms`, `240 ms`, `1,204 ms`, `12.3 s`."""
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def failure_rate(failed: int, total: int) -> float:
    """The share of `total` that failed; 0.0 when there were none."""
    return failed / total if total else 0.0


@dataclass(frozen=True)
class Distribution:
    """Latency values (ms, ascending) and how often each occurred: one series' distribution,
    rebuilt from its HDR histogram (`of_histogram`) or from step records (`of`)."""

    values_ms: np.ndarray
    counts: np.ndarray

    @property
    def total(self) -> int:
        """How many values the distribution holds."""
        return int(self.counts.sum())

    def percentile(self, percentile: float) -> float:
        """The value at `percentile` (0 to 100): the module's one definition; 0.0 when
        empty."""
        import numpy as np

        total = self.total
        if total == 0:
            return 0.0
        index = int(np.searchsorted(np.cumsum(self.counts), rank_at(percentile, total)))
        return float(self.values_ms[min(index, len(self.values_ms) - 1)])

    def mean(self) -> float:
        """The mean value; 0.0 when empty."""
        total = self.total
        return float((self.values_ms * self.counts).sum()) / total if total else 0.0

    def max(self) -> float:
        """The largest value; 0.0 when empty."""
        return float(self.values_ms[-1]) if self.total else 0.0

    def statistic(self, metric: str) -> float:
        """`p50`, `p95`, `p99.9` (any `p` and a percentile), `mean` or `max`."""
        if metric == "mean":
            return self.mean()
        if metric == "max":
            return self.max()
        return self.percentile(percentile_of(metric))

    def cdf(self, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
        """(latency, cumulative share) with at most `points` points."""
        import numpy as np

        if self.total == 0:
            return np.empty(0), np.empty(0)
        shares = np.cumsum(self.counts) / self.total
        if len(shares) > points:
            pick = np.unique(np.searchsorted(shares, np.linspace(0, 1, points), side="left"))
            pick = pick[pick < len(shares)]
            return self.values_ms[pick], shares[pick]
        return self.values_ms, shares

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        """The distribution of raw values."""
        import numpy as np

        found, counts = np.unique(np.asarray(values, dtype=float), return_counts=True)
        return cls(found, counts)

    @classmethod
    def of_histogram(cls, histogram: Any) -> Distribution:
        """The distribution an HDR histogram holds (see `recorded_values`)."""
        from harness.telemetry.hdr import recorded_values

        return cls(*recorded_values(histogram))


def percentile_of(metric: str) -> float:
    """`p95` → 95.0, `p99.9` → 99.9; raises `ValueError` for anything else."""
    if not metric.startswith("p"):
        raise ValueError(f"{metric!r} is not a percentile such as p95")
    value = float(metric[1:])
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"{metric!r} is not a percentile between p0 and p100")
    return value
