"""Metric gates marked `abort = true`, watched live: every few seconds their queries are fetched
over the run so far and judged; a fail sustained for the gate's `for` stops the run, as the
error split's abort does. A fetch that fails, or a gate that cannot judge yet, never stops it.

The run is looked at many times, and a metric gate's test is a fixed-sample one: the hold
(`for`, 10 s by default) is what keeps an identical candidate from being stopped by one noisy
look; the verdict at the end is judged on the whole run as usual."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.gates.abort import Holds, breach, window_data
from harness.gates.family import split_alpha
from harness.gates.metric import MetricGate
from harness.gates.metric_series import FetchedMetric

if TYPE_CHECKING:
    from harness.engine.collector import LoadAggregator

__all__ = ["MetricAbortWatch"]

#: seconds between two looks (each one query per gate per side)
EVERY_S = 5.0


class MetricAbortWatch:
    """A `watch` of the Locust driver for the abort metric gates."""

    def __init__(
        self,
        gates: list[MetricGate],
        fetch: Callable[[float, float], list[FetchedMetric]],
        *,
        baseline: str,
        candidate: str,
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.gates = [g for g in split_alpha(gates)[0] if g.abort]
        self.fetch = fetch
        self.baseline = baseline
        self.candidate = candidate
        self.every_s = every_s
        self.clock = clock
        self._last = -every_s
        self.holds = Holds()

    def __call__(self, aggregator: LoadAggregator, elapsed: float) -> str | None:
        """A reason to stop now, or None."""
        if not self.gates or elapsed - self._last < self.every_s:
            return None
        self._last = elapsed
        seconds = [second for _, second in aggregator.seconds]
        if not seconds:
            return None
        now = self.clock()
        data = window_data(aggregator, self.baseline, self.candidate, None, now)
        try:
            data.metrics = self.fetch(float(min(seconds)), now)
        except Exception:  # a provider must never stop the run by failing
            return None
        return breach(self.gates, data, self.holds, elapsed)
