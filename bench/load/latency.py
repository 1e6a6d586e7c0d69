"""Part c: latency accuracy against a fixed +50 ms route: the harness's HDR p50/p99 (traced and
`--no-traces`) against raw Locust's (its stats and every response time) and wrk's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.lib.output import Row, say
from bench.lib.runs import hdr_pcts, run_harness, run_raw, run_wrk
from bench.lib.servers import sandbox
from bench.lib.stats import pct
from bench.load import Settings

GOAL_LATENCY_MS = 3.0
USERS = 5

Pcts = tuple[float, float]  # p50, p99 in ms


@dataclass
class Latencies:
    harness: Pcts
    harness_steps: int
    no_traces: Pcts
    no_traces_steps: int
    locust: Pcts  # Locust's stats, rounded to 1 ms
    locust_requests: int
    locust_exact: Pcts  # every response time
    wrk: dict[str, float] | None


def _measure(cfg: Settings, work: Path) -> Latencies:
    """Every client's p50/p99 against the sandbox's slowed health route."""
    with sandbox(["latency:api.health=+50ms"]) as box:
        pids = lambda: [box.pid]  # noqa: E731
        url = f"{box.urls.api}/health"
        har = run_harness(
            work, box.urls.base, "bench_ping", USERS, cfg.c_duration, pids, ping_url=url
        )
        hp50, hp99, hn = hdr_pcts(har.extra["hdr"], "bench_ping", "ping")
        har_nt = run_harness(
            work,
            box.urls.base,
            "bench_ping",
            USERS,
            cfg.c_duration,
            pids,
            ping_url=url,
            no_traces=True,
        )
        np50, np99, nn = hdr_pcts(har_nt.extra["hdr"], "bench_ping", "ping")
        raw = run_raw(
            work, box.urls.base, "/api/v1/health", USERS, cfg.c_duration, pids, exact=True
        )
        wrk = run_wrk(url, USERS, cfg.c_duration)
    rp = raw.extra["percentiles_ms"]
    exact = raw.extra["exact_ms"]
    return Latencies(
        (hp50, hp99),
        hn,
        (np50, np99),
        nn,
        (float(rp["0.5"]), float(rp["0.99"])),
        raw.requests,
        (pct(exact, 0.5), pct(exact, 0.99)),
        wrk,
    )


def _print(got: Latencies) -> None:
    (hp50, hp99), (np50, np99) = got.harness, got.no_traces
    (rp50, rp99), (ep50, ep99) = got.locust, got.locust_exact
    say(f"  harness HDR  p50 {hp50:7.2f} ms  p99 {hp99:7.2f} ms  ({got.harness_steps:,} steps)")
    say(f"  (--no-traces) p50 {np50:7.2f} ms  p99 {np99:7.2f} ms  ({got.no_traces_steps:,} steps)")
    say(
        f"  raw Locust   p50 {rp50:7.2f} ms  p99 {rp99:7.2f} ms  (its stats, rounded to 1 ms; "
        f"{got.locust_requests:,} requests)"
    )
    say(f"  raw Locust   p50 {ep50:7.2f} ms  p99 {ep99:7.2f} ms  (every response time, exact)")
    if got.wrk:
        say(
            f"  wrk          p50 {got.wrk['p50']:7.2f} ms  p99 {got.wrk['p99']:7.2f} ms  "
            f"({got.wrk['requests']:,.0f} requests, {USERS} connections)"
        )


def _worst(a: Pcts, b: Pcts) -> float:
    return max(abs(a[0] - b[0]), abs(a[1] - b[1]))


def _rows(got: Latencies) -> list[Row]:
    har, nt, locust, wrk = got.harness, got.no_traces, got.locust, got.wrk
    goal = f"<= {GOAL_LATENCY_MS:g} ms"
    d_locust, d_nt = _worst(har, locust), _worst(nt, locust)
    rows = [
        Row("(c) harness p50 / p99 at +50 ms, ms", f"{har[0]:.1f} / {har[1]:.1f}", "—", None),
        Row("(c) harness --no-traces p50 / p99, ms", f"{nt[0]:.1f} / {nt[1]:.1f}", "—", None),
        Row("(c) raw Locust p50 / p99, ms", f"{locust[0]:.1f} / {locust[1]:.1f}", "—", None),
        Row(
            "(c) |harness - raw Locust|, worst of p50/p99",
            f"{d_locust:.1f} ms",
            goal,
            d_locust <= GOAL_LATENCY_MS,
            {"harness": list(har), "locust": list(locust), "locust_exact": list(got.locust_exact)},
        ),
        Row(
            "(c) |harness --no-traces - raw Locust|",
            f"{d_nt:.1f} ms",
            goal,
            d_nt <= GOAL_LATENCY_MS,
            {"no_traces": list(nt)},
        ),
    ]
    if not wrk:
        return [*rows, Row("(c) |harness - wrk|", "skipped (no wrk)", goal, None)]
    d_wrk = _worst(har, (wrk["p50"], wrk["p99"]))
    rows.insert(2, Row("(c) wrk p50 / p99, ms", f"{wrk['p50']:.1f} / {wrk['p99']:.1f}", "—", None))
    rows.append(
        Row(
            "(c) |harness - wrk|, worst of p50/p99",
            f"{d_wrk:.1f} ms",
            goal,
            d_wrk <= GOAL_LATENCY_MS,
            {"wrk": [wrk["p50"], wrk["p99"]]},
        )
    )
    return rows


def run(cfg: Settings, work: Path) -> list[Row]:
    say(
        f"\n(c) latency accuracy · sandbox with latency:api.health=+50ms · {USERS} users · "
        f"{cfg.c_duration:g} s each"
    )
    got = _measure(cfg, work)
    _print(got)
    return _rows(got)
