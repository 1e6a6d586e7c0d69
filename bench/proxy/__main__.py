"""`python -m bench.proxy` (or `python bench/proxy_overhead.py`): the drill proxy's cost."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.lib import output
from bench.lib.output import say
from bench.lib.runs import JOURNEYS, load_argv, run_folder
from bench.lib.servers import nginx_target
from bench.lib.stats import alternated
from bench.proxy import __doc__ as DOC
from harness.faults.process import ProxyProcess
from harness.sandbox.process import SandboxProcess

GOAL_THROUGHPUT = 0.8
GOAL_ADDED_P50_MS = 1.0

CLIENT = r"""
import json, sys, time
import gevent
from gevent import monkey
monkey.patch_all()
from geventhttpclient import HTTPClient
from geventhttpclient.url import URL

url, concurrency, seconds = URL(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
client = HTTPClient.from_url(url, concurrency=concurrency, connection_timeout=5, network_timeout=5)
latencies = []
errors = 0
deadline = time.perf_counter() + seconds

def loop():
    global errors
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        try:
            response = client.get(url.request_uri)
            response.read()
            if response.status_code != 200:
                errors += 1
                continue
        except Exception:
            errors += 1
            continue
        latencies.append(time.perf_counter() - t)

gevent.joinall([gevent.spawn(loop) for _ in range(concurrency)])
latencies.sort()
n = len(latencies)
print(json.dumps({
    "requests": n, "errors": errors, "rate": n / seconds,
    "p50_ms": 1000 * latencies[n // 2] if n else 0.0,
    "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))] if n else 0.0,
}))
"""


@contextlib.contextmanager
def target(work: Path) -> Iterator[str]:
    """The URL of a tiny JSON document: the bench's nginx, else the sandbox's health route."""
    with nginx_target(work) as nginx:
        if nginx is None:
            with SandboxProcess() as box:
                yield box.urls.api + "/health"
        else:
            yield f"{nginx.base}/api/v1/ping.json"


def client(url: str, concurrency: int, seconds: float) -> dict[str, float]:
    """One closed-loop client run in its own process; its counts and percentiles."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CLIENT, url, str(concurrency), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"the client against {url} did not finish") from None
    if proc.returncode != 0:
        raise RuntimeError(f"the client failed: {err[-600:]}")
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def harness_rate(base: str, seconds: float, work: Path) -> dict[str, float]:
    """`harness load` of the one-request `bench_ping` journey against `base` (its API base then
    serves /api/v1/ping.json); requests per second and failures, from its run.json."""
    results = work / f"harness-{time.monotonic_ns()}"
    options = ["--journeys", str(JOURNEYS), "-k", "bench_ping", "--users", "20"]
    options += ["--spawn-rate", "20", "--duration", f"{seconds:g}s", "--browser-users", "0"]
    options += ["--seed", "1", "--max-error-rate", "100"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BENCH_PING_URL": ""}
    proc = subprocess.Popen(
        load_argv(base, results, *options),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        _, err = proc.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        raise RuntimeError(f"harness load against {base} did not finish") from None
    run = run_folder(results)
    if run is None:
        raise RuntimeError(f"harness load wrote no run: {err.decode(errors='replace')[-600:]}")
    meta = json.loads((run / "run.json").read_text())
    elapsed = float(meta.get("elapsed_s") or seconds)
    return {
        "rate": int(meta.get("iterations", 0)) / elapsed,
        "errors": float(meta.get("failed", 0)),
    }


def wrk(url: str, seconds: float) -> float | None:
    """wrk's requests per second (1 thread, 16 connections), None without wrk."""
    binary = shutil.which("wrk")
    if binary is None:
        return None
    proc = subprocess.Popen(
        [binary, "-t1", "-c16", f"-d{seconds:g}s", url], stdout=subprocess.PIPE, text=True
    )
    try:
        out, _ = proc.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(found.group(1)) if found else None


Pair = tuple[dict[str, float], dict[str, float]]  # (direct, proxy)


def alternate(
    direct: str, proxied: str, rounds: int, run: Callable[[str], dict[str, float]]
) -> list[Pair]:
    """`rounds` pairs (direct, proxy), the order swapped every other round."""
    pairs = []
    for index in range(rounds):
        order = alternated([("direct", direct), ("proxy", proxied)], index)
        got = {name: run(url) for name, url in order}
        pairs.append((got["direct"], got["proxy"]))
    return pairs


def _rates(pairs: list[Pair]) -> None:
    for d, p in pairs:
        say(
            f"  direct {d['rate']:8,.0f}/s  proxy {p['rate']:8,.0f}/s  "
            f"ratio {p['rate'] / max(d['rate'], 1e-9):.2f}  "
            f"(errors {d['errors']:.0f}/{p['errors']:.0f})"
        )


def _measure(url: str, rounds: int, seconds: float, work: Path) -> dict[str, Any]:
    """Every measurement, direct and through one proxy in front of `url`'s origin."""
    origin = re.match(r"^(http://[^/]+)", url)
    assert origin is not None
    with ProxyProcess(origin.group(1)) as proxy:
        proxied = proxy.url + url[len(origin.group(1)) :]
        say(f"target {url} · proxy {proxied} · {rounds} rounds of {seconds:g} s")
        client(url, 4, 1.0)  # warm both paths up
        client(proxied, 4, 1.0)
        say("\nharness load: 20 users of one GET per iteration (requests/s)")
        harness = alternate(
            origin.group(1), proxy.url, rounds, lambda u: harness_rate(u, max(seconds, 8.0), work)
        )
        _rates(harness)
        say("\nsaturating client: 16 greenlets in a tight loop (requests/s; for information)")
        throughput = alternate(url, proxied, rounds, lambda u: client(u, 16, seconds))
        _rates(throughput)
        say("\nlatency: one connection, one request at a time (p50, ms)")
        latency = alternate(url, proxied, rounds, lambda u: client(u, 1, seconds))
        for d, p in latency:
            say(
                f"  direct p50 {d['p50_ms']:.3f}  proxy p50 {p['p50_ms']:.3f}  "
                f"added {p['p50_ms'] - d['p50_ms']:.3f} ms  (p99 {d['p99_ms']:.2f} / "
                f"{p['p99_ms']:.2f})"
            )
        say("\nwrk ceiling (1 thread, 16 connections; for information)")
        ceiling = [wrk(url, seconds), wrk(proxied, seconds)]
        if None in ceiling:
            say("  wrk not found (Debian package `wrk`): skipped")
        else:
            say(f"  direct {ceiling[0]:,.0f}/s  proxy {ceiling[1]:,.0f}/s")
    return {"harness": harness, "throughput": throughput, "latency": latency, "wrk": ceiling}


def _verdict(got: dict[str, Any]) -> dict[str, Any]:
    harness, throughput, latency = got["harness"], got["throughput"], got["latency"]
    ratio = statistics.median(p["rate"] / max(d["rate"], 1e-9) for d, p in harness)
    saturated = statistics.median(p["rate"] / max(d["rate"], 1e-9) for d, p in throughput)
    added = statistics.median(p["p50_ms"] - d["p50_ms"] for d, p in latency)
    errors = sum(d["errors"] + p["errors"] for d, p in harness + throughput + latency)
    ok = ratio >= GOAL_THROUGHPUT and added < GOAL_ADDED_P50_MS and errors == 0
    say(
        f"\nharness throughput through the proxy: {ratio:.2f} x direct (goal >= "
        f"{GOAL_THROUGHPUT}) · added p50 {added:.3f} ms (goal < {GOAL_ADDED_P50_MS:g} ms) · "
        f"errors {errors:.0f} · {'OK' if ok else 'MISS'}\n"
        f"(saturating client: {saturated:.2f} x direct; for information)"
    )
    return {
        "throughput_ratio": round(ratio, 3),
        "saturating_ratio": round(saturated, 3),
        "added_p50_ms": round(added, 3),
        "wrk_direct": got["wrk"][0],
        "wrk_proxy": got["wrk"][1],
        "errors": errors,
        "meets_goals": ok,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/proxy_overhead.py", description=(DOC or "").splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="short runs: a smoke check")
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout at the end")
    parser.add_argument("--rounds", type=int, default=3, help="alternated pairs per measurement")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each run")
    args = parser.parse_args()
    output.to_stderr(args.json)
    seconds = 3.0 if args.quick else args.seconds
    rounds = 2 if args.quick else args.rounds
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp, target(Path(tmp)) as url:
        got = _measure(url, rounds, seconds, Path(tmp))
    verdict = _verdict(got)
    if args.json:
        print(json.dumps(verdict))
    return 0 if verdict["meets_goals"] else 1


if __name__ == "__main__":
    sys.exit(main())
