"""A release profile: the release name plus its parsed regressions, ready to apply per request.

Everything is precomputed per route name at start-up so the per-request cost of a profile
without regressions is one dict lookup.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from harness.sandbox.contract import ContractRules
from harness.sandbox.regressions import Regression, RegressionKind

__all__ = ["RELEASES", "ReleaseProfile", "RouteEffects", "funnel_bucket"]

RELEASES: tuple[str, ...] = ("baseline", "candidate")


@dataclass(frozen=True)
class RouteEffects:
    """What the regressions do to one route: delays `(seconds, share, spec)`, error shares
    `(share, spec)`, lock contention `(seconds per other request in flight, spec)` and CPU
    burnt off the request's path `(seconds, spec)`."""

    delays: tuple[tuple[float, float, str], ...] = ()
    error_shares: tuple[tuple[float, str], ...] = ()
    contention: tuple[tuple[float, str], ...] = ()
    cpu: tuple[tuple[float, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.delays or self.error_shares or self.contention or self.cpu)

    def __add__(self, other: RouteEffects) -> RouteEffects:
        return RouteEffects(
            self.delays + other.delays,
            self.error_shares + other.error_shares,
            self.contention + other.contention,
            self.cpu + other.cpu,
        )


_NO_EFFECTS = RouteEffects()


def funnel_bucket(step: str, email: str) -> float:
    """A stable number in [0, 1) for a user and a funnel step (same on every surface and run)."""
    digest = hashlib.sha256(f"{step}:{email.strip().lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass
class ReleaseProfile:
    """How this sandbox process behaves: its release name and regression effects.

    Regressions attached to a flag (`;flag=new_checkout`) act only on the candidate's code path
    behind that flag; the baseline has no such path, so they never act there. The profile also
    counts, per spec, how many requests a regression changed and when it first did (served by
    `/api/v1/health`, so that a rehearsal can time detection from the first effect).
    """

    release: str = "baseline"
    regressions: Sequence[Regression] = ()
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.funnel_shares: dict[str, float] = {}
        self.first_effect: dict[str, float] = {}
        self.effect_counts: Counter[str] = Counter()
        self.lock_free_at: dict[str, float] = {}  #: per contention spec, when its lock frees
        self.started = time.monotonic()  #: windows (`after=`, `for=`) count from here
        self.windowed = {r.spec: r for r in self.regressions if r.after_s or r.for_s is not None}
        hidden: set[str] = set()
        #: route name → (spec, seconds) its pages keep their content hidden (`render:`)
        self.render_delays: dict[str, tuple[str, float]] = {}
        rules = []
        plain: list[Regression] = []
        flagged: dict[str, list[Regression]] = {}
        for reg in self.regressions:
            if reg.flag is not None:
                if self.release == "candidate":
                    flagged.setdefault(reg.flag, []).append(reg)
            elif reg.kind in (
                RegressionKind.LATENCY,
                RegressionKind.ERRORS,
                RegressionKind.CONTENTION,
                RegressionKind.CPU,
            ):
                plain.append(reg)
            elif reg.kind is RegressionKind.FUNNEL:
                # Several specs for one step: the largest share wins (buckets are nested).
                self.funnel_shares[reg.target] = max(
                    reg.share, self.funnel_shares.get(reg.target, 0.0)
                )
            elif reg.kind is RegressionKind.UI:
                hidden.add(reg.target)
            elif reg.kind is RegressionKind.RENDER:
                for route in reg.routes:
                    if reg.delay > self.render_delays.get(route, ("", 0.0))[1]:
                        self.render_delays[route] = (reg.spec, reg.delay)
            elif reg.contract is not None:
                rules.append(reg.contract)
        self.effects = _route_effects(plain)
        self.flag_effects = {flag: _route_effects(regs) for flag, regs in flagged.items()}
        self.hidden_testids: frozenset[str] = frozenset(hidden)
        self.contract = ContractRules(rules)

    def route(self, name: str, flags: Collection[str] = ()) -> RouteEffects:
        """The effects on route `name` for a request with `flags` on (empty when no regression
        touches it)."""
        effects = self.effects.get(name, _NO_EFFECTS)
        for flag in flags:
            effects = effects + self.flag_effects.get(flag, {}).get(name, _NO_EFFECTS)
        return effects

    @property
    def has_new_checkout(self) -> bool:
        """Whether this release has the `new_checkout` code path (the candidate does)."""
        return self.release == "candidate"

    def noticed(self, spec: str) -> None:
        """Count a request that regression `spec` changed, and remember the first one."""
        self.effect_counts[spec] += 1
        self.first_effect.setdefault(spec, time.time())

    def effects_report(self) -> list[dict[str, object]]:
        """Per regression spec: requests changed so far and when the first one was."""
        return [
            {
                "spec": reg.spec,
                "requests": self.effect_counts.get(reg.spec, 0),
                "first_effect_at": self.first_effect.get(reg.spec),
            }
            for reg in self.regressions
        ]

    def delay(self, effects: RouteEffects) -> float:
        """Seconds to delay this request (each latency regression rolls its own share)."""
        return sum(seconds for _, seconds in self.roll_delays(effects))

    def roll_delays(self, effects: RouteEffects) -> list[tuple[str, float]]:
        """The latency specs that delay this request, each with its seconds (rolled per spec)."""
        rolled = [
            (spec, seconds)
            for seconds, share, spec in effects.delays
            if self._acting(spec) and (share >= 1.0 or self.rng.random() < share)
        ]
        for spec, _ in rolled:
            self.noticed(spec)
        return rolled

    def contend(self, effects: RouteEffects) -> list[tuple[str, float]]:
        """The waits of this request for the locks of contention specs: each matched request
        holds its spec's lock for the spec's duration after it arrives (as a background job
        would), so a request waits only while an earlier one still holds it. Alone, nobody
        waits; as requests come closer together the queue, and the wait, grow."""
        waits = []
        now = time.monotonic()
        for seconds, spec in effects.contention:
            if not self._acting(spec):
                continue
            free_at = self.lock_free_at.get(spec, 0.0)
            wait = max(0.0, free_at - now)
            self.lock_free_at[spec] = now + wait + seconds
            if wait > 0.0:
                self.noticed(spec)
                waits.append((spec, wait))
        return waits

    def burn(self, effects: RouteEffects) -> float:
        """Seconds of CPU to burn after this request is answered (every cpu spec counted)."""
        acting = [(seconds, spec) for seconds, spec in effects.cpu if self._acting(spec)]
        for _, spec in acting:
            self.noticed(spec)
        return sum(seconds for seconds, _ in acting)

    def inject_error(self, effects: RouteEffects) -> bool:
        """True when this request should answer 500."""
        for share, spec in effects.error_shares:
            if not self._acting(spec):
                continue
            if share >= 1.0 or self.rng.random() < share:
                self.noticed(spec)
                return True
        return False

    def _acting(self, spec: str) -> bool:
        """Whether regression `spec` acts now (always, unless it has a window)."""
        windowed = self.windowed.get(spec)
        return windowed is None or windowed.active(time.monotonic() - self.started)

    def step_blocked(self, step: str, email: str) -> bool:
        """True when funnel step `step` is blocked for the user with this email."""
        share = self.funnel_shares.get(step, 0.0)
        return share > 0.0 and funnel_bucket(step, email) < share


def _route_effects(regressions: Sequence[Regression]) -> dict[str, RouteEffects]:
    delays: dict[str, list[tuple[float, float, str]]] = {}
    errors: dict[str, list[tuple[float, str]]] = {}
    contention: dict[str, list[tuple[float, str]]] = {}
    cpu: dict[str, list[tuple[float, str]]] = {}
    for reg in regressions:
        for name in reg.routes:
            if reg.kind is RegressionKind.LATENCY:
                delays.setdefault(name, []).append((reg.delay, reg.share, reg.spec))
            elif reg.kind is RegressionKind.ERRORS:
                errors.setdefault(name, []).append((reg.share, reg.spec))
            elif reg.kind is RegressionKind.CONTENTION:
                contention.setdefault(name, []).append((reg.delay, reg.spec))
            elif reg.kind is RegressionKind.CPU:
                cpu.setdefault(name, []).append((reg.delay, reg.spec))
    return {
        name: RouteEffects(
            tuple(delays.get(name, ())),
            tuple(errors.get(name, ())),
            tuple(contention.get(name, ())),
            tuple(cpu.get(name, ())),
        )
        for name in set(delays) | set(errors) | set(contention) | set(cpu)
    }
