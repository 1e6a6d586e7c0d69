"""`python -m bench.load` (or `python bench/load_overhead.py`): run the parts, print the table."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.lib import output
from bench.lib.output import Row, guarded, say
from bench.lib.procs import CHILDREN
from bench.lib.servers import Ping, nginx_target, sandbox
from bench.load import PARTS, Settings, ab, browser, latency, procs, stall
from bench.load import __doc__ as DOC


def _arguments() -> tuple[Settings, set[str], bool]:
    parser = argparse.ArgumentParser(
        prog="bench/load_overhead.py", description=(DOC or "").splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="short runs, one pair each")
    parser.add_argument("--json", action="store_true", help="print one JSON line on stdout")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}"
    )
    parser.add_argument("--users", type=int, default=20, help="users of the throughput runs")
    args = parser.parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    return Settings.of(quick=args.quick, users=args.users), parts, args.json


def _run_parts(cfg: Settings, parts: set[str], work: Path) -> list[Row]:
    """Each part in turn against nginx (or the sandbox without it); a failed part is a row."""
    rows: list[Row] = []
    with nginx_target(work) as nginx, contextlib.ExitStack() as fallback:
        ping: Ping | None = None
        if nginx is not None:
            ping = Ping.of_nginx(nginx)
            say(f"  target for (a)/(b): nginx at {nginx.base} (1 worker process)")
        throughput = ping
        if ping is None and parts & {"ab", "procs"}:
            throughput = Ping.of_sandbox(fallback.enter_context(sandbox()))
        if "ab" in parts:
            assert throughput is not None
            rows += guarded("(a)/(b)", lambda: ab.run(cfg, work, throughput))
        if "procs" in parts:
            assert throughput is not None
            rows += guarded("--processes 2", lambda: procs.run(cfg, work, throughput))
        fallback.close()  # the fallback sandbox is not needed by the parts below
        if "c" in parts:
            rows += guarded("(c)", lambda: latency.run(cfg, work))
        if "d" in parts:
            rows += guarded("(d)", lambda: stall.run(cfg, work))
        if "e" in parts:
            rows += guarded("(e)", lambda: browser.run(cfg, work, ping))
    return rows


def main() -> int:
    cfg, parts, as_json = _arguments()
    output.to_stderr(as_json)
    started = time.perf_counter()
    say(
        f"load overhead bench · {os.cpu_count()} cores · load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} · "
        f"{'quick' if cfg.quick else 'full'} run"
    )
    work = Path(tempfile.mkdtemp(prefix="harness-bench-"))
    try:
        rows = _run_parts(cfg, parts, work)
    finally:
        CHILDREN.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    output.print_table(rows, elapsed)
    if as_json:
        output.print_json(rows, quick=cfg.quick, elapsed_s=round(elapsed, 1))
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
