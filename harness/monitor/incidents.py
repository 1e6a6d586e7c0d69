"""Incidents: a failed check opens one, the next passing check closes it. One alert when it
opens (`on_fail`) and one when it recovers (`on_recover`), however many checks fail between."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    """One counted check (after its retries): did it pass, which journeys failed, why."""

    number: int
    passed: bool
    run_id: str | None
    failed_journeys: tuple[str, ...] = ()
    reason: str = ""
    attempts: int = 1


@dataclass
class IncidentTracker:
    """Turns a sequence of checks into alert events (`observe` returns the hook to call and
    its payload, or None when nothing changed)."""

    target: str
    opened_at: str | None = None
    failed_checks: int = 0
    first: CheckResult | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def open(self) -> bool:
        """Whether an incident is open now."""
        return self.opened_at is not None

    def observe(self, check: CheckResult) -> tuple[str, dict[str, Any]] | None:
        """Record `check`; an `on_fail` event when it opens an incident, an `on_recover` event
        when it closes one, else None."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        if not check.passed:
            self.failed_checks += 1
            if self.open:
                return None
            self.opened_at, self.first = now, check
            return "on_fail", self._event("fail", check, now)
        if not self.open:
            return None
        event = self._event("recover", check, now)
        self.opened_at, self.failed_checks, self.first = None, 0, None
        return "on_recover", event

    def _event(self, kind: str, check: CheckResult, now: str) -> dict[str, Any]:
        event = {
            "event": f"monitor.{kind}",
            "target": self.target,
            "at": now,
            "check": check.number,
            "run_id": check.run_id,
            "incident": {
                "opened_at": self.opened_at or now,
                "failed_checks": self.failed_checks,
                "first_run_id": self.first.run_id if self.first else check.run_id,
            },
            "failed_journeys": list(check.failed_journeys),
            "reason": check.reason,
            "attempts": check.attempts,
        }
        self.events.append(event)
        return event
