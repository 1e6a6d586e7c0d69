"""A release profile: the release name plus its parsed regressions, ready to apply per request.

Everything is precomputed per route name at start-up so the per-request cost of a profile
without regressions is one dict lookup.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.sandbox.contract import ContractRules
from harness.sandbox.regressions import Regression, RegressionKind

__all__ = ["RELEASES", "ReleaseProfile", "RouteEffects", "funnel_bucket"]

RELEASES: tuple[str, ...] = ("baseline", "candidate")


@dataclass(frozen=True)
class RouteEffects:
    """What the regressions do to one route: delays `(seconds, share, spec)` and error shares."""

    delays: tuple[tuple[float, float, str], ...] = ()
    error_shares: tuple[float, ...] = ()


_NO_EFFECTS = RouteEffects()


def funnel_bucket(step: str, email: str) -> float:
    """A stable number in [0, 1) for a user and a funnel step (same on every surface and run)."""
    digest = hashlib.sha256(f"{step}:{email.strip().lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass
class ReleaseProfile:
    """How this sandbox process behaves: its release name and regression effects."""

    release: str = "baseline"
    regressions: Sequence[Regression] = ()
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        delays: dict[str, list[tuple[float, float, str]]] = {}
        errors: dict[str, list[float]] = {}
        self.funnel_shares: dict[str, float] = {}
        hidden: set[str] = set()
        rules = []
        for reg in self.regressions:
            if reg.kind is RegressionKind.LATENCY:
                for name in reg.routes:
                    delays.setdefault(name, []).append((reg.delay, reg.share, reg.spec))
            elif reg.kind is RegressionKind.ERRORS:
                for name in reg.routes:
                    errors.setdefault(name, []).append(reg.share)
            elif reg.kind is RegressionKind.FUNNEL:
                # Several specs for one step: the largest share wins (buckets are nested).
                self.funnel_shares[reg.target] = max(
                    reg.share, self.funnel_shares.get(reg.target, 0.0)
                )
            elif reg.kind is RegressionKind.UI:
                hidden.add(reg.target)
            elif reg.contract is not None:
                rules.append(reg.contract)
        self.effects: dict[str, RouteEffects] = {
            name: RouteEffects(tuple(delays.get(name, ())), tuple(errors.get(name, ())))
            for name in set(delays) | set(errors)
        }
        self.hidden_testids: frozenset[str] = frozenset(hidden)
        self.contract = ContractRules(rules)

    def route(self, name: str) -> RouteEffects:
        """The effects on route `name` (empty when no regression touches it)."""
        return self.effects.get(name, _NO_EFFECTS)

    def delay(self, effects: RouteEffects) -> float:
        """Seconds to delay this request (each latency regression rolls its own share)."""
        return sum(seconds for _, seconds in self.roll_delays(effects))

    def roll_delays(self, effects: RouteEffects) -> list[tuple[str, float]]:
        """The latency specs that delay this request, each with its seconds (rolled per spec)."""
        return [
            (spec, seconds)
            for seconds, share, spec in effects.delays
            if share >= 1.0 or self.rng.random() < share
        ]

    def inject_error(self, effects: RouteEffects) -> bool:
        """True when this request should answer 500."""
        return any(share >= 1.0 or self.rng.random() < share for share in effects.error_shares)

    def step_blocked(self, step: str, email: str) -> bool:
        """True when funnel step `step` is blocked for the user with this email."""
        share = self.funnel_shares.get(step, 0.0)
        return share > 0.0 and funnel_bucket(step, email) < share
