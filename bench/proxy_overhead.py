"""Benchmark: what the drill proxy (`harness.faults`, no fault) costs, against going direct.

    .venv/bin/python bench/proxy_overhead.py [--quick] [--json] [--rounds N] [--seconds S]

Measurements made of pairs alternated within this one run (direct, proxy, proxy, direct, ...)
so that a busy machine hits both sides alike; the ratios are medians per pair:

  harness     throughput of `harness load` itself (20 users of a one-request API journey, one
              process, tracing on, at least 8 s so start-up does not weigh) against nginx, direct
              and through the proxy: the load a drill puts through it (goal: proxy >= 0.8 x
              direct).
  latency     a geventhttpclient client with one connection, one request at a time: p50 through
              the proxy minus p50 direct (goal: < 1 ms).
  saturating  (for information) the same client with 16 greenlets in a tight loop, several times
              what a harness process sends, and wrk's ceiling (1 thread, 16 connections): what the
              proxy can forward on a shared core.

Target: nginx (Debian package `nginx`), started here on a loopback port with its own config and
files in a temporary folder; without nginx, the sandbox's `/api/v1/health`. Every process started
here is stopped by PID, also on failure; load goes only to 127.0.0.1.
"""

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
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from load_overhead import nginx_target  # noqa: E402 - the load bench's nginx

from harness.faults.process import ProxyProcess  # noqa: E402
from harness.sandbox.process import SandboxProcess  # noqa: E402

GOAL_THROUGHPUT = 0.8
GOAL_ADDED_P50_MS = 1.0
OUT = sys.stdout

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


def say(text: str = "") -> None:
    print(text, file=OUT, flush=True)


@contextlib.contextmanager
def target(work: Path) -> Iterator[str]:
    """The URL of a tiny JSON document: the load bench's nginx, else the sandbox's health
    route."""
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
    argv = [
        sys.executable,
        "-m",
        "harness.cli",
        "load",
        "--target",
        base,
        "--journeys",
        str(ROOT / "bench" / "journeys" / "bench_load.py"),
        "-k",
        "bench_ping",
        "--users",
        "20",
        "--spawn-rate",
        "20",
        "--duration",
        f"{seconds:g}s",
        "--browser-users",
        "0",
        "--seed",
        "1",
        "--max-error-rate",
        "100",
        "--results",
        str(results),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BENCH_PING_URL": ""}
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
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
    runs = [p for p in results.iterdir() if (p / "run.json").is_file()] if results.is_dir() else []
    if not runs:
        raise RuntimeError(f"harness load wrote no run: {err.decode(errors='replace')[-600:]}")
    meta = json.loads((runs[0] / "run.json").read_text())
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


def alternate(direct: str, proxied: str, rounds: int, run: object) -> list[tuple[float, float]]:
    """`rounds` pairs (direct, proxy), the order swapped every other round."""
    assert callable(run)
    pairs = []
    for index in range(rounds):
        order = [("direct", direct), ("proxy", proxied)]
        if index % 2:
            order.reverse()
        got = {name: run(url) for name, url in order}
        pairs.append((got["direct"], got["proxy"]))
    return pairs


def main() -> int:
    global OUT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs: a smoke check")
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout at the end")
    parser.add_argument("--rounds", type=int, default=3, help="alternated pairs per measurement")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each run")
    args = parser.parse_args()
    if args.json:
        OUT = sys.stderr
    seconds = 3.0 if args.quick else args.seconds
    rounds = 2 if args.quick else args.rounds
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp, target(Path(tmp)) as url:
        origin = re.match(r"^(http://[^/]+)", url)
        assert origin is not None
        with ProxyProcess(origin.group(1)) as proxy:
            proxied = proxy.url + url[len(origin.group(1)) :]
            say(f"target {url} · proxy {proxied} · {rounds} rounds of {seconds:g} s")
            client(url, 4, 1.0)  # warm both paths up
            client(proxied, 4, 1.0)
            say("\nharness load: 20 users of one GET per iteration (requests/s)")
            harness = alternate(
                origin.group(1),
                proxy.url,
                rounds,
                lambda u: harness_rate(u, max(seconds, 8.0), Path(tmp)),
            )
            for d, p in harness:
                say(
                    f"  direct {d['rate']:8,.0f}/s  proxy {p['rate']:8,.0f}/s  "
                    f"ratio {p['rate'] / max(d['rate'], 1e-9):.2f}  "
                    f"(errors {d['errors']:.0f}/{p['errors']:.0f})"
                )
            say("\nsaturating client: 16 greenlets in a tight loop (requests/s; for information)")
            throughput = alternate(url, proxied, rounds, lambda u: client(u, 16, seconds))
            for d, p in throughput:
                say(
                    f"  direct {d['rate']:8,.0f}/s  proxy {p['rate']:8,.0f}/s  "
                    f"ratio {p['rate'] / max(d['rate'], 1e-9):.2f}  "
                    f"(errors {d['errors']:.0f}/{p['errors']:.0f})"
                )
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
    if args.json:
        print(
            json.dumps(
                {
                    "throughput_ratio": round(ratio, 3),
                    "saturating_ratio": round(saturated, 3),
                    "added_p50_ms": round(added, 3),
                    "wrk_direct": ceiling[0],
                    "wrk_proxy": ceiling[1],
                    "errors": errors,
                    "meets_goals": ok,
                }
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
