"""Which virtual users run which journeys: every selected journey gets at least one, weights
decide only the rest, and a run that cannot give each journey a user refuses before any request.

Protocol (API and mobile) journeys each get one guaranteed virtual user plus a weighted share of
the remaining users. Browser journeys share the browser slots (`--browser-users` per process):
each slot runs them in turn, in weighted round-robin, so one slot runs two browser journeys and
a cheap journey never starves an expensive one. Pure functions: no locust, no gevent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from harness.errors import UsageError
from harness.journey import Journey


@dataclass(frozen=True)
class Allocation:
    """The virtual users of a closed-shape run, by kind."""

    protocol: tuple[str, ...]  #: API/mobile journeys, each with one guaranteed user
    browser: tuple[str, ...]  #: browser journeys, sharing `browser_slots` rotating users
    browser_slots: int  #: browser users over all processes

    @property
    def fewest_users(self) -> int:
        """The smallest user count that runs every selected journey."""
        return len(self.protocol) + (self.browser_slots if self.browser else 0)


def allocate(
    journeys: Sequence[Journey],
    *,
    users: int | None,
    browser_users: int,
    workers: int = 1,
) -> Allocation:
    """The allocation of `users` (the smallest user count of a closed shape; None for the open
    model, whose arrivals go to every journey in weighted turn) over the selected journeys.

    Raises `UsageError` (exit 2) naming the journeys that could not run and the smallest
    `--users` / `--browser-users` that runs them all.
    """
    protocol = [j for j in journeys if not j.uses_browser]
    browser = [j for j in journeys if j.uses_browser]
    if browser and browser_users <= 0:
        raise UsageError(
            f"--browser-users 0 leaves the browser {_plural(len(browser), 'journey')} "
            f"{_names(browser)} unrun: give --browser-users 1 (one browser slot runs the browser "
            "journeys in turn), or leave them out with -k, e.g. -k 'not web'"
        )
    slots = browser_users * workers if browser else 0
    allocation = Allocation(
        protocol=tuple(j.name for j in protocol),
        browser=tuple(j.name for j in browser),
        browser_slots=slots,
    )
    if users is not None and users < allocation.fewest_users:
        # Locust starts the browser slots first; the protocol journeys with the smallest weights
        # are the ones that would get no user.
        room = max(0, users - slots)
        ranked = sorted(protocol, key=lambda j: (-j.weight, j.name))
        unrun = ranked[room:]
        needs = [f"{len(protocol)} API/mobile {_plural(len(protocol), 'journey')}"]
        if browser:
            needs.append(f"{slots} browser {_plural(slots, 'slot')}")
        raise UsageError(
            f"--users {users} cannot run every selected journey: {_names(unrun)} would never run. "
            f"{' and '.join(needs)} need --users {allocation.fewest_users} or more "
            f"(each journey gets at least one user; weights share out the rest)"
        )
    return allocation


def weighted_turns(weights: Sequence[int], offset: int = 0) -> Iterator[int]:
    """Indexes into `weights` in smooth weighted round-robin (nginx's): every index comes up
    within one cycle of `sum(weights)` turns, in proportion to its weight. `offset` skips that
    many turns first, so that users sharing the rotation do not all start on one journey."""
    if not weights or min(weights) <= 0:
        raise ValueError(f"weights must be positive, got {list(weights)}")
    total = sum(weights)
    current = [0] * len(weights)
    turn = 0
    while True:
        for i, weight in enumerate(weights):
            current[i] += weight
        best = max(range(len(weights)), key=current.__getitem__)
        current[best] -= total
        if turn >= offset:
            yield best
        turn += 1


def _names(journeys: Sequence[Journey]) -> str:
    return ", ".join(f"`{j.name}`" for j in journeys)


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"
