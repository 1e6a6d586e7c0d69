"""Think time: the pause a person takes between two steps of a journey.

A journey declares it with `@journey(think=...)`:

- `"2s"` (any duration of `harness.durations`): always that long;
- `"lognormal(median=2s, p95=8s)"`: a log-normal distribution, the shape of human pauses;
- `"uniform(1s, 3s)"`: anything between two bounds;
- `"quantiles(0s, 1s, 2s, 9s)"`: empirical quantiles, equally spaced from the minimum to the
  maximum (what `harness import access-log` learns), sampled by interpolating between them;
- `"workload"`: the think times of the run's `--workload` model, per step (none without one).

Load modes pause between steps (and between a closed-model user's iterations); smoke never
does. Imports only the standard library.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

from harness.durations import EXAMPLES, seconds
from harness.errors import SpecError

#: the z-score of the 95th percentile of a standard normal distribution
Z95 = 1.6448536269514722
MAX_THINK_S = 3600.0
WORKLOAD = "workload"

_CALL = re.compile(r"^\s*([a-z]+)\s*\((.*)\)\s*$", re.DOTALL)
GRAMMAR = (
    'a duration ("2s"), "lognormal(median=2s, p95=8s)", "uniform(1s, 3s)", '
    '"quantiles(0s, 1s, 5s)" or "workload"'
)


@dataclass(frozen=True)
class ThinkTime:
    """A distribution of pauses, in seconds. `points` are its quantiles from 0 to 1, equally
    spaced (a constant has one; `lognormal` keeps its two parameters instead)."""

    spec: str
    kind: str  #: constant, lognormal, uniform, quantiles or workload
    points: tuple[float, ...] = ()
    mu: float = 0.0
    sigma: float = 0.0

    def sample(self, rng: random.Random) -> float:
        """One pause, in seconds (0 for `workload`, which the run resolves per step)."""
        if self.kind == "lognormal":
            return min(MAX_THINK_S, math.exp(rng.gauss(self.mu, self.sigma)))
        if self.kind == "uniform":
            return rng.uniform(self.points[0], self.points[1])
        if not self.points:
            return 0.0
        if len(self.points) == 1:
            return self.points[0]
        position = rng.random() * (len(self.points) - 1)
        low = int(position)
        high = min(low + 1, len(self.points) - 1)
        return self.points[low] + (self.points[high] - self.points[low]) * (position - low)

    def quantile(self, q: float) -> float:
        """The `q` quantile (0..1) of this distribution, in seconds."""
        if self.kind == "lognormal":
            return math.exp(self.mu + self.sigma * _probit(q))
        if self.kind == "uniform":
            return self.points[0] + (self.points[1] - self.points[0]) * q
        if not self.points:
            return 0.0
        position = q * (len(self.points) - 1)
        low = int(position)
        high = min(low + 1, len(self.points) - 1)
        return self.points[low] + (self.points[high] - self.points[low]) * (position - low)


NO_THINK = ThinkTime("0s", "constant", (0.0,))


def parse_think(spec: str) -> ThinkTime:
    """The think time `spec` describes; raises `SpecError` naming it and the grammar."""
    text = spec.strip()
    if text == WORKLOAD:
        return ThinkTime(text, WORKLOAD)
    plain = seconds(text)
    if plain is not None:
        return ThinkTime(text, "constant", (_bounded(plain, spec),))
    call = _CALL.match(text)
    if call is None:
        raise SpecError(f"think={spec!r} is not a think time: use {GRAMMAR}")
    kind, args = call.group(1), [a.strip() for a in call.group(2).split(",") if a.strip()]
    if kind == "lognormal":
        return _lognormal(spec, args)
    values = [_duration(spec, a) for a in args]
    if kind == "uniform" and len(values) == 2 and values[0] <= values[1]:
        return ThinkTime(text, "uniform", (values[0], values[1]))
    if kind == "quantiles" and values and values == sorted(values):
        return ThinkTime(text, "quantiles", tuple(values))
    raise SpecError(
        f"think={spec!r}: uniform takes two durations, low first; quantiles takes one or more "
        f"durations in increasing order; use {GRAMMAR}"
    )


def _lognormal(spec: str, args: list[str]) -> ThinkTime:
    named: dict[str, float] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or key.strip() not in ("median", "p95"):
            raise SpecError(f"think={spec!r}: lognormal takes median= and p95=, e.g. {GRAMMAR}")
        named[key.strip()] = _duration(spec, value)
    median, p95 = named.get("median"), named.get("p95")
    if median is None or p95 is None or not 0 < median <= p95:
        raise SpecError(
            f"think={spec!r}: lognormal needs median= and p95= with 0 < median <= p95, "
            "e.g. lognormal(median=2s, p95=8s)"
        )
    return ThinkTime(
        spec.strip(), "lognormal", mu=math.log(median), sigma=math.log(p95 / median) / Z95
    )


def _duration(spec: str, text: str) -> float:
    value = seconds(text.strip())
    if value is None:
        raise SpecError(f"think={spec!r}: {text.strip()!r} is not a duration ({EXAMPLES})")
    return _bounded(value, spec)


def _bounded(value: float, spec: str) -> float:
    if value > MAX_THINK_S:
        raise SpecError(f"think={spec!r}: a think time is at most {MAX_THINK_S:.0f}s")
    return value


def format_seconds(value: float) -> str:
    """A pause in the duration grammar, to the millisecond: `1.25s`, `0s`."""
    return f"{round(value, 3):g}s"


def iteration_rng(seed: int, worker: int, user: int, iteration: int) -> random.Random:
    """The pauses of one iteration: fixed by the run's seed and the iteration's place."""
    return random.Random(f"think:{seed}:{worker}:{user}:{iteration}")


class Pauses:
    """One iteration's pauses: the journey's think time (or the workload's for its steps),
    drawn from the iteration's own random source, taken only when `enabled` (load modes)."""

    def __init__(
        self,
        enabled: bool,
        journey: str,
        think: ThinkTime | None,
        workload: Mapping[str, ThinkTime],
        rng: random.Random,
    ) -> None:
        self.enabled = enabled
        self.journey = journey
        self.think = think
        self.workload = workload
        self.rng = rng

    def before(self, step: str | None, duration: str | float | None = None) -> None:
        """Pause before `step` (None: an explicit `j.think()`), `duration` if given."""
        if not self.enabled:
            return
        if duration is not None:
            pause(duration if isinstance(duration, int | float) else self._parsed(duration))
            return
        spec = self.think
        if spec is not None and spec.kind == WORKLOAD:
            spec = self.workload.get(step_key(self.journey, step)) or self.workload.get(
                self.journey
            )
        if spec is not None:
            pause(spec.sample(self.rng))

    def _parsed(self, text: str) -> float:
        return parse_think(text).sample(self.rng)


def step_key(journey: str, step: str | None) -> str:
    """The key of a step's think time in a workload's table (the journey's own: `journey`)."""
    return journey if step is None else f"{journey} › {step}"


def pause(duration_s: float) -> None:
    """Sleep `duration_s` (cooperatively under Locust, whose gevent patches `time.sleep`)."""
    if duration_s > 0:
        time.sleep(duration_s)


def _probit(q: float) -> float:
    """The standard normal quantile of `q`."""
    return NormalDist().inv_cdf(min(max(q, 1e-12), 1 - 1e-12))
