"""Benchmark: the harness's browser path against raw Playwright.

    .venv/bin/python bench/browser_overhead.py [--quick] [--json]
    .venv/bin/python -m bench.browser [...]        (the same, from the repository's root)

The journey is `bench/journeys/bench_load.py::bench_browse` (open /, click a product, wait for
its name) against the sandbox, 2 at once. Subjects, alternated within each round (the order
rotates from round to round):

  raw fresh     raw Playwright (bench/browser/raw.py), async, a new context per iteration
  harness fresh `harness load --browser-users 2 --no-traces` (the default context policy)
  harness reuse the same with `--browser-context reuse`
  raw reuse     raw Playwright, one context per loop, cookies cleared (full run only; info)

Same Chromium (`find_chromium`, /usr/bin/chromium here), flags (`CHROMIUM_FLAGS`) and pinning
(the last core for Chromium and its driver, the rest for the Python process) on both sides.
Goals, the medians of the per-round ratios of journeys per second:

  harness fresh / raw fresh   >= 0.95
  harness reuse / harness fresh >= 1.8
  open contexts per GiB of Chromium PSS, contexts opened as `harness load` opens them, >= 14

Exit code 0 when every goal is met, 1 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

GOAL_VS_RAW = 0.95
GOAL_REUSE = 1.8
GOAL_CONTEXTS_PER_GIB = 14.0


@dataclass(frozen=True)
class Settings:
    """`--quick`: 3 rounds of 12 s without the raw reuse subject; full: 5 rounds of 20 s."""

    quick: bool
    rounds: int
    duration_s: float
    concurrency: int
    contexts: tuple[int, ...]

    @classmethod
    def of(cls, *, quick: bool, rounds: int | None = None) -> Settings:
        return cls(
            quick=quick,
            rounds=rounds or (3 if quick else 5),
            duration_s=12.0 if quick else 20.0,
            concurrency=2,
            contexts=(1, 5, 9),
        )

    @property
    def subjects(self) -> tuple[str, ...]:
        base = ("raw fresh", "harness fresh", "harness reuse")
        return base if self.quick else (*base, "raw reuse")
