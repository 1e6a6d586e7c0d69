"""`harness import access-log`: sessions from access logs, matched to journeys by the routes
they declare, summed up as a workload model (`harness.workload.Workload`).

One pass over the lines, in bounded memory: open sessions are kept in last-seen order and
closed once idle for the inactivity timeout, each closed session adds to fixed-size counters
and to a bounded sample of think times.
"""

from __future__ import annotations

import random
import re
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from harness.errors import UsageError
from harness.importers.access_log import LogRequest, session_key
from harness.importers.har_steps import STATIC_EXTENSIONS, route_of
from harness.targets import Target
from harness.think import step_key
from harness.workload import QUANTILES, UnmatchedRoute, Workload

MAX_GAPS = 32  #: think gaps kept per open session
SAMPLE = 10_000  #: think gaps kept per journey (a uniform reservoir)
MAX_ROUTES = 10_000  #: distinct unmatched routes counted
CACHE = 100_000
TOP_ROUTES = 10
TOUCHPOINTS = ("web", "api", "mobile")


class RoutePatterns:
    """The routes journeys declare (`GET /orders/{id}`, `/products/*`), matched against a
    request's method and path; `{name}` and `*` stand for one path segment, `**` for any."""

    def __init__(self, journeys: Sequence[tuple[str, Sequence[str]]]) -> None:
        self.names = [name for name, _ in journeys]
        self.patterns: list[tuple[int, str | None, re.Pattern[str]]] = []
        for index, (_, routes) in enumerate(journeys):
            for route in routes:
                method, _, path = route.strip().rpartition(" ")
                regex = re.escape(path)
                regex = re.sub(r"\\\{[^}]*\\\}", "[^/]+", regex)
                regex = regex.replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
                self.patterns.append((index, method.upper() or None, re.compile(regex + "/?")))
        self._cache: dict[tuple[str, str], tuple[int, ...]] = {}

    def match(self, method: str, path: str) -> tuple[int, ...]:
        """Indexes of the journeys with a route matching the request."""
        key = (method, path)
        found = self._cache.get(key)
        if found is None:
            found = tuple(
                sorted(
                    {
                        i
                        for i, m, regex in self.patterns
                        if (m is None or m == method) and regex.fullmatch(path)
                    }
                )
            )
            if len(self._cache) >= CACHE:
                self._cache.clear()
            self._cache[key] = found
        return found


@dataclass(slots=True)
class _Open:
    start: float
    last: float
    requests: int = 0
    hits: Counter[int] = field(default_factory=Counter)
    touch: list[int] = field(default_factory=lambda: [0, 0, 0])
    gaps: list[float] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)


@dataclass
class Tally:
    """What closed sessions add up to."""

    sessions: int = 0
    matched: int = 0
    requests: int = 0
    static: int = 0
    first: float | None = None
    last: float = 0.0
    mix: Counter[int] = field(default_factory=Counter)
    touchpoints: Counter[str] = field(default_factory=Counter)
    arrivals: Counter[int] = field(default_factory=Counter)
    gaps: dict[int, list[float]] = field(default_factory=dict)
    seen_gaps: Counter[int] = field(default_factory=Counter)
    unmatched_routes: Counter[str] = field(default_factory=Counter)


class Sessions:
    """Splits requests into sessions by `key` and `inactivity_s`, and tallies them."""

    def __init__(
        self,
        patterns: RoutePatterns,
        target: Target,
        *,
        key: str = "ip+ua",
        inactivity_s: float = 1800.0,
        gap_s: float = 1.0,
        bucket_s: float = 60.0,
    ) -> None:
        self.patterns = patterns
        self.key = key
        self.inactivity_s = inactivity_s
        self.gap_s = gap_s
        self.bucket_s = bucket_s
        self.prefixes = [
            (urlsplit(target.mobile).path.rstrip("/") + "/", 2),
            (urlsplit(target.api).path.rstrip("/") + "/", 1),
        ]
        self.prefixes = [(p, i) for p, i in self.prefixes if p != "/"]
        self.open: OrderedDict[str, _Open] = OrderedDict()
        self.tally = Tally()
        self._rng = random.Random(0)

    def feed(self, requests: Iterable[LogRequest]) -> None:
        """Add the requests (in time order), closing sessions as they go idle."""
        tally, opened, patterns = self.tally, self.open, self.patterns
        for request in requests:
            path = request.path
            dot = path.rfind(".")
            if dot > path.rfind("/") and path[dot:].lower() in STATIC_EXTENSIONS:
                tally.static += 1
                continue
            now = request.time
            if tally.first is None:
                tally.first = now
            tally.last = max(tally.last, now)
            tally.requests += 1
            while opened:
                oldest = next(iter(opened.values()))
                if now - oldest.last <= self.inactivity_s:
                    break
                self._close(opened.popitem(last=False)[1])
            who = session_key(request, self.key)
            session = opened.get(who)
            if session is None:
                session = opened[who] = _Open(now, now)
            else:
                opened.move_to_end(who)
                gap = now - session.last
                if gap >= self.gap_s and len(session.gaps) < MAX_GAPS:
                    session.gaps.append(gap)
            session.last = max(session.last, now)
            session.requests += 1
            matched = patterns.match(request.method, path)
            if matched:
                session.hits.update(matched)
            elif len(session.unmatched) < MAX_GAPS:
                session.unmatched.append(f"{request.method} {route_of(path)}")
            session.touch[self._touchpoint(path)] += 1

    def _touchpoint(self, path: str) -> int:
        for prefix, index in self.prefixes:
            if path.startswith(prefix):
                return index
        return 0

    def close_all(self) -> Tally:
        """Close every session still open; the tally of them all."""
        while self.open:
            self._close(self.open.popitem(last=False)[1])
        return self.tally

    def _close(self, session: _Open) -> None:
        tally = self.tally
        tally.sessions += 1
        best = max(session.hits.items(), key=lambda kv: (kv[1], -kv[0]), default=None)
        if best is None or best[1] * 2 < session.requests:
            for route in session.unmatched:
                if route in tally.unmatched_routes or len(tally.unmatched_routes) < MAX_ROUTES:
                    tally.unmatched_routes[route] += 1
            return
        journey = best[0]
        tally.matched += 1
        tally.mix[journey] += 1
        tally.touchpoints[TOUCHPOINTS[session.touch.index(max(session.touch))]] += 1
        tally.arrivals[int((session.start - (tally.first or 0.0)) // self.bucket_s)] += 1
        sample = tally.gaps.setdefault(journey, [])
        for gap in session.gaps:
            tally.seen_gaps[journey] += 1
            if len(sample) < SAMPLE:
                sample.append(gap)
            else:
                slot = self._rng.randrange(tally.seen_gaps[journey])
                if slot < SAMPLE:
                    sample[slot] = gap


def build_workload(
    tally: Tally,
    names: Sequence[str],
    *,
    sources: Sequence[str],
    fmt: str,
    key: str,
    inactivity_s: float,
    bucket_s: float,
    lines: int,
) -> Workload:
    """The workload model of a tally."""
    if tally.matched == 0:
        top = ", ".join(f"{r} ({n})" for r, n in tally.unmatched_routes.most_common(5))
        raise UsageError(
            f"no session of the {tally.sessions} in the log matched a journey's routes "
            f"(declare them with @journey(routes=[...]), e.g. routes=['GET /orders/{{id}}']); "
            f"the log's top routes: {top or 'none'}"
        )
    span = max(0.0, tally.last - (tally.first or 0.0))
    buckets = int(span // bucket_s) + 1
    arrivals = [tally.arrivals.get(i, 0) for i in range(buckets)]
    minutes = max(span, bucket_s) / 60.0
    think = {}
    for index in sorted(tally.gaps):
        values = sorted(tally.gaps[index])
        if values:
            think[step_key(names[index], None)] = [
                round(values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))], 3)
                for q in QUANTILES
            ]
    return Workload(
        sources=list(sources),
        format=fmt,
        session_key=key,
        inactivity_s=inactivity_s,
        lines=lines,
        requests=tally.requests,
        sessions=tally.sessions,
        matched_sessions=tally.matched,
        start=datetime.fromtimestamp(tally.first or 0.0, UTC).isoformat().replace("+00:00", "Z"),
        span_s=round(span, 3),
        bucket_s=bucket_s,
        rate_per_minute=round(tally.matched / minutes, 3),
        arrivals=arrivals,
        mix={names[i]: round(100.0 * n / tally.matched, 2) for i, n in sorted(tally.mix.items())},
        touchpoints={
            t: round(100.0 * tally.touchpoints[t] / tally.matched, 2)
            for t in TOUCHPOINTS
            if tally.touchpoints[t]
        },
        think=think,
        unmatched_share=round(100.0 * (tally.sessions - tally.matched) / tally.sessions, 2),
        unmatched_routes=[
            UnmatchedRoute(route=r, requests=n)
            for r, n in sorted(tally.unmatched_routes.items(), key=lambda kv: (-kv[1], kv[0]))[
                :TOP_ROUTES
            ]
        ],
    )
