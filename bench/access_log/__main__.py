"""`python -m bench.access_log` (or `python bench/access_log_import.py`): generate a combined
access log of `--size-mb` (sessions of a few thousand clients over the sandbox's routes, a
tenth static files), import it with the real command line in a child process, and report
lines per second (wall and CPU) and the child's peak resident memory. Rounds alternate the
import with a reference child that only reads and splits every line of the log in Python (the
floor of any Python parser), and print the ratio of their CPU seconds: on a machine shared by
many processes the lines per CPU second sink with the cache misses, the ratio much less. The
figures are medians of `--rounds`; say how busy the machine was."""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOAL_LINES_PER_S = 200_000
GOAL_RSS_MB = 200
JOURNEYS = """from harness import journey

@journey(routes=["GET /", "GET /signup", "POST /signup", "GET /products/{id}",
                 "POST /api/v1/cart/items", "GET /cart", "GET /checkout",
                 "POST /api/v1/orders", "GET /orders/{id}"])
def browse_and_buy(j):
    pass

@journey(routes=["GET /api/v1/products", "GET /api/v1/products/{id}", "POST /api/v1/users",
                 "POST /api/v1/tokens", "POST /api/v1/cart/items", "POST /api/v1/orders"])
def api_catalog_and_orders(j):
    pass
"""
FLOWS = (
    [
        "GET /",
        "GET /signup",
        "POST /signup",
        "GET /products/{n}",
        "POST /api/v1/cart/items",
        "GET /static/app.css",
        "GET /cart",
        "GET /checkout",
        "POST /api/v1/orders",
        "GET /orders/{n}",
    ],
    [
        "GET /api/v1/products",
        "GET /api/v1/products/{n}",
        "POST /api/v1/users",
        "POST /api/v1/tokens",
        "POST /api/v1/cart/items",
        "POST /api/v1/orders",
    ],
    ["GET /admin/users/{n}", "GET /static/admin.js", "GET /admin/report"],
)
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"


def write_log(path: Path, size_mb: int, seed: int = 1) -> int:
    """A combined log of about `size_mb` MB; returns its line count."""
    rng = random.Random(seed)
    limit = size_mb * 1024 * 1024
    written = lines = 0
    t = 1_796_000_000.0
    clients = [[rng.randrange(3), 0, c] for c in range(5000)]  # flow, step, address
    serial = len(clients)
    with path.open("w", encoding="utf-8") as out:
        while written < limit:
            chunk = []
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
            for _ in range(200):  # 200 requests a second of log
                c = rng.randrange(len(clients))
                flow, step, address = clients[c]
                method, path_ = FLOWS[flow][step].split(" ")
                path_ = path_.replace("{n}", str(rng.randrange(1, 99_999)))
                chunk.append(
                    f"10.{address // 62500 % 250}.{address // 250 % 250}.{address % 250} - - "
                    f'[{stamp}] "{method} {path_}?p=1 '
                    f'HTTP/1.1" 200 5120 "https://shop.example/" "{AGENT}"\n'
                )
                if step + 1 < len(FLOWS[flow]):
                    clients[c] = [flow, step + 1, address]
                else:  # a new visitor takes the slot: a session per flow
                    clients[c] = [rng.randrange(3), 0, serial]
                    serial += 1
            text = "".join(chunk)
            out.write(text)
            written += len(text)
            lines += len(chunk)
            t += 1.0
    return lines


def one_import(log: Path, journeys: Path, out: Path) -> dict[str, float]:
    """Import `log` in a child process: wall and CPU seconds, peak RSS in MB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "import",
            "access-log",
            str(log),
            "--journeys",
            str(journeys),
            "-o",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"the import failed: {done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "rss_mb": after.ru_maxrss / 1024}


REFERENCE = """import sys
with open(sys.argv[1], encoding="utf-8", errors="replace", buffering=1 << 20) as lines:
    for line in lines:
        line.split('"', 6)
"""


def one_reference(log: Path) -> float:
    """CPU seconds of a child that reads and splits every line of `log`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", REFERENCE, str(log)], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/access_log_import.py", description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024, help="log size (default 1024)")
    parser.add_argument("--quick", action="store_true", help="a 100 MB log, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()
    size, rounds = (100, 1) if args.quick else (args.size_mb, args.rounds)
    with tempfile.TemporaryDirectory(prefix="bench-access-log-") as tmp:
        folder = Path(tmp)
        (folder / "journeys").mkdir()
        (folder / "journeys" / "shop.py").write_text(JOURNEYS)
        log = folder / "access.log"
        lines = write_log(log, size)
        runs, references = [], []
        for _ in range(rounds):  # alternated, so that both see the same machine
            runs.append(one_import(log, folder / "journeys", folder / "w.toml"))
            references.append(one_reference(log))
        workload = (folder / "w.toml").read_text()
    wall = statistics.median(r["wall_s"] for r in runs)
    cpu = statistics.median(r["cpu_s"] for r in runs)
    rss = max(r["rss_mb"] for r in runs)
    reference = statistics.median(references)
    load = os.getloadavg()[0]
    result = {
        "size_mb": size,
        "lines": lines,
        "lines_per_s_wall": round(lines / wall),
        "lines_per_s_cpu": round(lines / cpu),
        "peak_rss_mb": round(rss, 1),
        "reference_lines_per_s_cpu": round(lines / reference),
        "cpu_ratio_to_reference": round(cpu / reference, 2),
        "load_average_1m": round(load, 2),
        "cores": os.cpu_count(),
        "goal_lines_per_s": GOAL_LINES_PER_S,
        "goal_rss_mb": GOAL_RSS_MB,
        "meets_goals": lines / cpu >= GOAL_LINES_PER_S and rss <= GOAL_RSS_MB,
    }
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(
            f"{size} MB, {lines:,} lines: {result['lines_per_s_wall']:,} lines/s wall, "
            f"{result['lines_per_s_cpu']:,} lines per CPU second, peak RSS {rss:.0f} MB; "
            f"{cpu / reference:.2f}x the CPU of reading and splitting the lines "
            f"({result['reference_lines_per_s_cpu']:,} lines per CPU second) "
            f"(load average {load:.1f} on {os.cpu_count()} cores; goals >= "
            f"{GOAL_LINES_PER_S:,} lines/s, <= {GOAL_RSS_MB} MB) "
            f"{'OK' if result['meets_goals'] else 'MISSED'}"
        )
        print("\n".join(workload.splitlines()[2:16]))
    return 0 if result["meets_goals"] else 1


if __name__ == "__main__":
    sys.exit(main())
