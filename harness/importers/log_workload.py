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
from typing import Any, TypeAlias
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
_ID_SEGMENT = re.compile(r"/[0-9]+(?=/|$)")
_DIGITS_ONLY = re.compile(r"[0-9]+")
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
        #: whether an all-digit segment (an id) may stand for any other: none of the routes
        #: has a literal segment that an id could match (`/orders/42`, `/v/1*`)
        self._ids = not any(
            _DIGITS_ONLY.fullmatch(re.sub(r"\{[^}]*\}|\*", "", segment) or "x")
            for _, routes in journeys
            for route in routes
            for segment in route.strip().rpartition(" ")[2].split("/")
        )

    def match(self, method: str, path: str) -> tuple[int, ...]:
        """Indexes of the journeys with a route matching the request. Answers are cached by
        method and path, with the path's ids as `0` (`/orders/17` and `/orders/18` match the
        same routes), so that a log of a million orders still hits the cache."""
        cache = self._cache
        key = (method, _ID_SEGMENT.sub("/0", path) if self._ids else path)
        found = cache.get(key)
        if found is None:
            if len(cache) >= CACHE:
                cache.clear()
            shape = key[1]
            end = shape.find("/", 1)
            candidates = self.by_first.get(shape[1:end] if end > 0 else shape[1:], [])
            hits = {
                i
                for i, m, regex in (*candidates, *self.anywhere)
                if (m is None or m == method) and regex.fullmatch(shape)
            }
            found = cache[key] = tuple(sorted(hits))
        return found


def is_app_agent(agent: str) -> bool:
    """Whether a user agent is a mobile app's HTTP client rather than a browser (a phone's
    browser is the web touchpoint)."""
    return not agent.startswith("Mozilla/") and bool(_APP_AGENT.search(agent))


def _first_segment(path: str) -> str | None:
    """The first segment of a route's path when it is literal (None: a wildcard)."""
    first = path.lstrip("/").split("/", 1)[0]
    return None if "{" in first or "*" in first else first


#: An open session is one list (a log has millions): first and last request's time, the slot
#: of its requests to the web's base (mobile for an app's user agent, its first request's),
#: think gaps (or None), requests no journey declares (`{"GET /a/{id}": n}` or None), number
#: of requests, requests per touchpoint (web, api, mobile), hits of each journey's routes.
_START, _LAST, _WEB, _GAPS, _OTHER, _REQUESTS, _TOUCH, _HITS = 0, 1, 2, 3, 4, 5, 6, 9
_Open: TypeAlias = list[Any]
#: what a method and path say: the slots of its touchpoint and journeys, or its route label
_Known: TypeAlias = tuple[int, tuple[int, ...], str]


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
        self._api, self._mobile = self.prefixes.get(1, "\0"), self.prefixes.get(2, "\0")
        self._routes: dict[tuple[str, str], _Known] = {}
        #: whether ids may be cached as `0`: a base with an id in its path forbids it
        self._ids = patterns._ids and not any(map(_ID_SEGMENT.search, self.prefixes.values()))
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
        """The hot loop of the import: a microsecond or two a line, so kept flat, with its
        counters in locals and what a request's method and path say (static or not, which
        touchpoint, which journeys' routes) cached."""
        tally, opened = self.tally, self.open
        route, routes = self._route, self._routes
        by_ip_ua, gap_s, inactivity = self.key == "ip+ua", self.gap_s, self.inactivity_s
        # sweeps only bound the memory: a client back after the inactivity starts anew below
        sweep_at, sweep_s = 0.0, max(1.0, inactivity / 2)
        count, skipped, last = 0, 0, tally.last
        apps: dict[str, int] = {}
        fresh: _Open = [0.0, 0.0, 0, None, None, 0, 0, 0, 0] + [0] * len(self.patterns.names)
        for now, client, method, path, _, agent, extra in requests:
            known = routes.get((method, path))
            if known is None:
                known = route(method, path)
            where, matched, label = known
            if where < 0:  # a static file
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
            if session is None or now - session[_LAST] > inactivity:
                if session is not None:
                    self._close(session)
                session = opened[who] = fresh.copy()
                session[_START] = session[_LAST] = now
                web = apps.get(agent)
                session[_WEB] = web if web is not None else self._app(apps, agent)
            elif now > session[_LAST]:
                if now - session[_LAST] >= gap_s:
                    gaps = session[_GAPS]
                    if gaps is None:
                        session[_GAPS] = [now - session[_LAST]]
                    elif len(gaps) < MAX_GAPS:
                        gaps.append(now - session[_LAST])
                session[_LAST] = now
            session[_REQUESTS] += 1
            session[where or session[_WEB]] += 1
            if matched:
                for slot in matched:
                    session[slot] += 1
            else:
                _unmatched(session, label)
        tally.requests += count
        tally.static += skipped
        tally.last = last

    @staticmethod
    def _app(apps: dict[str, int], agent: str) -> int:
        """The slot of an agent's requests to the web's base: mobile for an app's."""
        web = _TOUCH + 2 if is_app_agent(agent) else _TOUCH
        if len(apps) < CACHE:
            apps[agent] = web
        return web

    def _route(self, method: str, path: str) -> _Known:
        known: _Known | None
        """What a request's method and path say, as slots of a session's list: its
        touchpoint's (0: the web's base, whose slot is the session's; -1: a static file) and
        those of the journeys whose routes match it; cached, with a path's ids as `0` (only
        that shape is kept: `/orders/17` and `/orders/18` share an entry)."""
        if self._ids:
            shape = _ID_SEGMENT.sub("/0", path)
            if shape != path:
                known = self._routes.get((method, shape))
                if known is not None:
                    return known
                path = shape
        if "." in path[-7:] and path.endswith(STATIC_SUFFIXES):
            known = (-1, (), "")
        else:
            slots = tuple(_HITS + i for i in self.patterns.match(method, path))
            label = "" if slots else f"{method} {route_of(path)}"
            if path.startswith(self._api):
                known = (_TOUCH + 1, slots, label)
            elif path.startswith(self._mobile):
                known = (_TOUCH + 2, slots, label)
            else:
                known = (0, slots, label)
        if len(self._routes) >= CACHE:
            self._routes.clear()
        self._routes[(method, path)] = known
        return known

    def _sweep(self, now: float) -> None:
        if self.tally.first is None:
            self.tally.first = now
        idle = [who for who, s in self.open.items() if now - s[_LAST] > self.inactivity_s]
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
        hits = session[_HITS:]
        most = max(hits, default=0)
        if most == 0 or most * 2 < session[_REQUESTS]:
            routes = tally.unmatched_routes
            for route, count in (session[_OTHER] or {}).items():
                if route in routes or len(routes) < MAX_ROUTES:
                    routes[route] += count
            return
        journey, start = hits.index(most), session[_START]
        tally.matched += 1
        mix, touch, arrivals = tally.mix, tally.touchpoints, tally.arrivals
        mix[journey] = mix.get(journey, 0) + 1
        counts = session[_TOUCH:_HITS]
        where = TOUCHPOINTS[counts.index(max(counts))]
        touch[where] = touch.get(where, 0) + 1
        bucket = int((start - (tally.first or 0.0)) // self.bucket_s)
        arrivals[bucket] = arrivals.get(bucket, 0) + 1
        if tally.first_start is None or start < tally.first_start:
            tally.first_start = start
        if start > tally.last_start:
            tally.last_start = start
        if session[_GAPS]:
            self._sample(journey, session[_GAPS])

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


def _unmatched(session: _Open, label: str) -> None:
    """Count a request no journey declares: bounded, whatever a crawler sends."""
    other = session[_OTHER]
    if other is None:
        other = session[_OTHER] = {}
    if len(other) < MAX_GAPS or label in other:
        other[label] = other.get(label, 0) + 1


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
