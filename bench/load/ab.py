"""Part ab: raw Locust FastHttpUser (a) against a harness API journey doing the same one GET (b),
and the same harness run with `--no-traces` (b'), alternated within each round."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.lib.output import Row, say
from bench.lib.runs import RunResult, run_harness, run_raw
from bench.lib.servers import Ping
from bench.load import Settings

GOAL_RATIO_AB = 0.85
KINDS = ("raw", "harness", "harness-no-traces")


def _order(i: int) -> tuple[str, ...]:
    """Round i's order: rotated on even rounds, reversed on odd ones."""
    return KINDS[i % 3 :] + KINDS[: i % 3] if i % 2 == 0 else tuple(reversed(KINDS))


def _round(cfg: Settings, work: Path, ping: Ping, order: tuple[str, ...]) -> dict[str, RunResult]:
    got: dict[str, RunResult] = {}
    for kind in order:
        if kind == "raw":
            got[kind] = run_raw(work, ping.host, ping.path, cfg.users, cfg.ab_duration, ping.pids)
        else:
            got[kind] = run_harness(
                work,
                ping.target,
                "bench_ping",
                cfg.users,
                cfg.ab_duration,
                ping.pids,
                ping_url=ping.url,
                no_traces=kind == "harness-no-traces",
            )
    return got


class _Tally:
    """Each kind's rates, and the harness runs' ratios to raw Locust, round by round."""

    def __init__(self) -> None:
        self.rates: dict[str, list[float]] = {k: [] for k in KINDS}
        self.ratios: dict[str, list[float]] = {k: [] for k in KINDS[1:]}
        self.cpu_ratios: dict[str, list[float]] = {k: [] for k in KINDS[1:]}

    def add(self, got: dict[str, RunResult]) -> list[str]:
        """Record one round; its printed lines."""
        raw = got["raw"]
        eff_raw = raw.rate / max(raw.cpu["gen"], 1.0)
        lines = [
            f"raw {raw.rate:7,.0f} req/s (gen CPU {raw.cpu['gen']:.0f}%, "
            f"target {raw.cpu['target']:.0f}%, other {raw.cpu['other']:.0f}%)"
        ]
        self.rates["raw"].append(raw.rate)
        for kind in KINDS[1:]:
            har = got[kind]
            self.rates[kind].append(har.rate)
            self.ratios[kind].append(har.rate / raw.rate)
            self.cpu_ratios[kind].append(har.rate / max(har.cpu["gen"], 1.0) / eff_raw)
            label = "harness" if kind == "harness" else "no-traces"
            lines.append(
                f"{label} {har.rate:7,.0f} req/s (gen CPU {har.cpu['gen']:.0f}%, other "
                f"{har.cpu['other']:.0f}%, failed {har.failures}) ratio {self.ratios[kind][-1]:.2f}"
            )
        return lines


def _rows(t: _Tally) -> list[Row]:
    med = statistics.median
    ratio = med(t.ratios["harness"])
    ratio_nt = med(t.ratios["harness-no-traces"])
    goal = f">= {GOAL_RATIO_AB}"
    return [
        Row(
            "(a) raw Locust FastHttpUser, req/s (median)",
            f"{med(t.rates['raw']):,.0f}",
            "—",
            None,
            {"runs": t.rates["raw"]},
        ),
        Row(
            "(b) harness API journey, req/s (median)",
            f"{med(t.rates['harness']):,.0f}",
            "—",
            None,
            {"runs": t.rates["harness"]},
        ),
        Row(
            "(b)/(a) throughput ratio (median of rounds)",
            f"{ratio:.2f}",
            goal,
            ratio >= GOAL_RATIO_AB,
            {"rounds": t.ratios["harness"]},
        ),
        Row(
            "(b)/(a) requests per generator CPU-second",
            f"{med(t.cpu_ratios['harness']):.2f}",
            "(info)",
            None,
            {"rounds": t.cpu_ratios["harness"]},
        ),
        Row(
            "(b') harness --no-traces, req/s (median)",
            f"{med(t.rates['harness-no-traces']):,.0f}",
            "—",
            None,
            {"runs": t.rates["harness-no-traces"]},
        ),
        Row(
            "(b')/(a) throughput ratio, tracing off",
            f"{ratio_nt:.2f}",
            goal,
            ratio_nt >= GOAL_RATIO_AB,
            {"rounds": t.ratios["harness-no-traces"]},
        ),
    ]


def run(cfg: Settings, work: Path, ping: Ping) -> list[Row]:
    say(
        f"\n(a)/(b) raw Locust FastHttpUser vs harness API journey · {ping.describe} · "
        f"{cfg.users} users · {cfg.ab_duration:g} s · 1 process · {cfg.pairs} alternated rounds"
        " (b' = harness with --no-traces, to show what tracing costs)"
    )
    tally = _Tally()
    for i in range(cfg.pairs):
        order = _order(i)
        lines = tally.add(_round(cfg, work, ping, order))
        say(f"  round {i + 1} ({' → '.join(order)}):\n    " + "\n    ".join(lines))
    return _rows(tally)
