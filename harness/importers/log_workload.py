"""`harness import access-log`: sessions from access logs, matched to journeys by the routes
they declare, summed up as a workload model (`harness.workload.Workload`).

One pass over the lines, in bounded memory: open sessions are kept in last-seen order and
closed once idle for the inactivity timeout, each closed session adds to fixed-size counters
and to a bounded sample of think times.
"""

from __future__ import annotations

import gc
import random
import re
from collections import Counter
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
STATIC_SUFFIXES = tuple(sorted(STATIC_EXTENSIONS))
_APP_AGENT = re.compile(r"okhttp|CFNetwork|Dalvik|Darwin|Alamofire|\b(iOS|iPadOS|Android)\b", re.I)


class RoutePatterns:
    """The routes journeys declare (`GET /orders/{id}`, `/products/*`), matched against a
    request's method and path; `{name}` and `*` stand for one path segment, `**` for any.

    Patterns are filed under their first path segment when it is literal, so a request is
    tried against the few that could match it, and answers are cached by method and path."""

    def __init__(self, journeys: Sequence[tuple[str, Sequence[str]]]) -> None:
        self.names = [name for name, _ in journeys]
        self.by_first: dict[str, list[tuple[int, str | None, re.Pattern[str]]]] = {}
        self.anywhere: list[tuple[int, str | None, re.Pattern[str]]] = []
        for index, (_, routes) in enumerate(journeys):
            for route in routes:
                method, _, path = route.strip().rpartition(" ")
                regex = re.escape(path)
                regex = re.sub(r"\\\{[^}]*\\\}", "[^/]+", regex)
                regex = regex.replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
                pattern = (index, method.upper() or None, re.compile(regex + "/?"))
                first = _first_segment(path)
                if first is None:
                    self.anywhere.append(pattern)
                else:
                    self.by_first.setdefault(first, []).append(pattern)
        self._cache: dict[tuple[str, str], tuple[int, ...]] = {}

    def match(self, method: str, path: str) -> tuple[int, ...]:
        """Indexes of the journeys with a route matching the request."""
        key = (method, path)
        found = self._cache.get(key)
        if found is None:
            end = path.find("/", 1)
            candidates = self.by_first.get(path[1:end] if end > 0 else path[1:], [])
            hits = {
                i
                for i, m, regex in (*candidates, *self.anywhere)
                if (m is None or m == method) and regex.fullmatch(path)
            }
            found = tuple(sorted(hits))
            if len(self._cache) >= CACHE:
                self._cache.clear()
            self._cache[key] = found
        return found


def is_app_agent(agent: str) -> bool:
    """Whether a user agent is a mobile app's HTTP client rather than a browser (a phone's
    browser is the web touchpoint)."""
    return not agent.startswith("Mozilla/") and bool(_APP_AGENT.search(agent))


def _first_segment(path: str) -> str | None:
    """The first segment of a route's path when it is literal (None: a wildcard)."""
    first = path.lstrip("/").split("/", 1)[0]
    return None if "{" in first or "*" in first else first


class _Open:
    """A session still open: its first and last request, and what its requests matched (a
    journey's index, or `(method, path)` for a request no journey declares)."""

    __slots__ = ("gaps", "hits", "last", "requests", "start", "touch")

    def __init__(self, now: float) -> None:
        self.start = now
        self.last = now
        self.requests = 0
        self.hits: dict[int | tuple[str, str], int] = {}
        self.touch = [0, 0, 0]
        self.gaps: list[float] = []


@dataclass
class Tally:
    """What closed sessions add up to."""

    sessions: int = 0
    matched: int = 0
    requests: int = 0
    static: int = 0
    first: float | None = None
    first_start: float | None = None  #: of a matched session
    last_start: float = 0.0
    last: float = 0.0
    mix: dict[int, int] = field(default_factory=dict)
    touchpoints: dict[str, int] = field(default_factory=dict)
    arrivals: dict[int, int] = field(default_factory=dict)
    gaps: dict[int, list[float]] = field(default_factory=dict)
    seen_gaps: dict[int, int] = field(default_factory=dict)
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
        bases = {1: urlsplit(target.api).path, 2: urlsplit(target.mobile).path}
        #: touchpoint index -> the path prefix of its base (the web is the rest)
        self.prefixes = {i: p.rstrip("/") + "/" for i, p in bases.items() if p.strip("/")}
        self.open: dict[str, _Open] = {}
        self.tally = Tally()
        self._rng = random.Random(0)

    def feed(self, requests: Iterable[LogRequest]) -> None:
        """Add the requests (in time order), closing sessions as they go idle. The cyclic
        garbage collector is off meanwhile: nothing here makes a cycle, and its passes over
        the open sessions cost a fifth of the time."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._feed(requests)
        finally:
            if enabled:
                gc.enable()

    def _feed(self, requests: Iterable[LogRequest]) -> None:
        """The hot loop of the import: a few microseconds a line, so kept flat, with its
        counters in locals."""
        tally, opened = self.tally, self.open
        match, cache = self.patterns.match, self.patterns._cache
        by_ip_ua, static, gap_s = self.key == "ip+ua", STATIC_SUFFIXES, self.gap_s
        api, mobile = self.prefixes.get(1, "\0"), self.prefixes.get(2, "\0")
        inactivity = self.inactivity_s
        # sweeps only bound the memory: a client back after the inactivity starts anew below
        sweep_at, sweep_s = 0.0, max(1.0, inactivity / 2)
        count, skipped, last = 0, 0, tally.last
        apps: dict[str, bool] = {}
        for now, client, method, path, _, agent, extra in requests:
            if "." in path[-7:] and path.endswith(static):
                skipped += 1
                continue
            count += 1
            if now > last:
                last = now
            if now >= sweep_at:  # now and then: close the sessions gone idle
                sweep_at = now + sweep_s
                self._sweep(now)
            who = (
                (client + "\t" + agent)
                if by_ip_ua
                else session_key((now, client, method, path, "", agent, extra), self.key)
            )
            session = opened.get(who)
            if session is None:
                session = opened[who] = _Open(now)
            else:
                gap = now - session.last
                if gap > inactivity:
                    self._close(session)
                    session = opened[who] = _Open(now)
                elif gap >= gap_s and len(session.gaps) < MAX_GAPS:
                    session.gaps.append(gap)
                if now > session.last:
                    session.last = now
            session.requests += 1
            hits = session.hits
            matched: tuple[int | tuple[str, str], ...] | None = cache.get((method, path))
            if matched is None:
                matched = match(method, path)
            if not matched and len(hits) < MAX_GAPS:  # bounded, whatever a crawler sends
                matched = ((method, path),)
            for index in matched:
                hits[index] = hits.get(index, 0) + 1
            if path.startswith(api):
                session.touch[1] += 1
            elif path.startswith(mobile):
                session.touch[2] += 1
            else:  # the web's base, unless an app sent it (its user agent says so)
                app = apps.get(agent)
                if app is None:
                    app = apps[agent] = is_app_agent(agent) if len(apps) < CACHE else False
                session.touch[2 if app else 0] += 1
        tally.requests += count
        tally.static += skipped
        tally.last = last

    def _sweep(self, now: float) -> None:
        if self.tally.first is None:
            self.tally.first = now
        idle = [who for who, s in self.open.items() if now - s.last > self.inactivity_s]
        for who in idle:
            self._close(self.open.pop(who))

    def close_all(self) -> Tally:
        """Close every session still open; the tally of them all."""
        for session in self.open.values():
            self._close(session)
        self.open.clear()
        return self.tally

    def _close(self, session: _Open) -> None:
        tally = self.tally
        tally.sessions += 1
        best: tuple[int, int] | None = None
        for index, count in session.hits.items():
            if isinstance(index, int) and (best is None or (count, -index) > (best[1], -best[0])):
                best = (index, count)
        if best is None or best[1] * 2 < session.requests:
            for hit, count in session.hits.items():
                if isinstance(hit, tuple):
                    route = f"{hit[0]} {route_of(hit[1])}"
                    if route in tally.unmatched_routes or len(tally.unmatched_routes) < MAX_ROUTES:
                        tally.unmatched_routes[route] += count
            return
        journey, start = best[0], session.start
        tally.matched += 1
        mix, touch, arrivals = tally.mix, tally.touchpoints, tally.arrivals
        mix[journey] = mix.get(journey, 0) + 1
        where = TOUCHPOINTS[session.touch.index(max(session.touch))]
        touch[where] = touch.get(where, 0) + 1
        bucket = int((start - (tally.first or 0.0)) // self.bucket_s)
        arrivals[bucket] = arrivals.get(bucket, 0) + 1
        if tally.first_start is None or start < tally.first_start:
            tally.first_start = start
        if start > tally.last_start:
            tally.last_start = start
        if session.gaps:
            self._sample(journey, session.gaps)

    def _sample(self, journey: int, gaps: list[float]) -> None:
        """A uniform sample of at most `SAMPLE` think gaps per journey (reservoir)."""
        tally, random_ = self.tally, self._rng.random
        sample = tally.gaps.setdefault(journey, [])
        seen = tally.seen_gaps.get(journey, 0)
        for gap in gaps:
            seen += 1
            if len(sample) < SAMPLE:
                sample.append(gap)
            else:
                slot = int(random_() * seen)
                if slot < SAMPLE:
                    sample[slot] = gap
        tally.seen_gaps[journey] = seen


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
    # sessions start as a process of some rate: n starts span n - 1 intervals between them
    starts = tally.last_start - (tally.first_start or 0.0)
    rate = (tally.matched - 1) / starts * 60.0 if tally.matched > 1 and starts > 0 else 0.0
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
        rate_per_minute=round(rate or tally.matched / max(span, bucket_s) * 60.0, 3),
        arrivals=arrivals,
        mix={names[i]: round(100.0 * n / tally.matched, 2) for i, n in sorted(tally.mix.items())},
        touchpoints={
            t: round(100.0 * tally.touchpoints[t] / tally.matched, 2)
            for t in TOUCHPOINTS
            if tally.touchpoints.get(t)
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
