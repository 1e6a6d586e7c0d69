"""The raw Playwright reference: `bench_browse` (open /, click a product, wait for its name)
written straight against Playwright's async API, `--concurrency` loops at once, for
`--duration` seconds, then one JSON line on stdout: iterations, failures, per-iteration ms.

Chromium is the same executable, flags and core pinning as the harness's (`BrowserHost`):
the thread that starts Playwright's driver is pinned to the browser cores (what `taskset`
does), so the driver and Chromium inherit them, and this process then keeps off those cores.
Context policy: `fresh` (a new context per iteration, as `harness load` by default) or `reuse`
(one context and page per loop, cookies cleared per iteration, as the issue's reference).

    python -m bench.browser.raw --url http://127.0.0.1:PORT --concurrency 2 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from harness.engine.tuning import browser_cpus, keep_off
from harness.touchpoints.web import CHROMIUM_FLAGS, _set_affinity, find_chromium

LINK = "[data-testid=product-link]"
NAME = "[data-testid=product-name]"


async def _one(page: object, base: str) -> None:
    await page.goto(base.rstrip("/") + "/", wait_until="domcontentloaded")  # type: ignore[attr-defined]
    await page.click(LINK)  # type: ignore[attr-defined]
    await page.locator(NAME).first.wait_for(state="visible")  # type: ignore[attr-defined]


async def _loop(browser: object, base: str, policy: str, deadline: float, out: dict) -> None:
    context = page = None
    if policy == "reuse":
        context = await browser.new_context()  # type: ignore[attr-defined]
        page = await context.new_page()
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        try:
            if policy == "fresh":
                context = await browser.new_context()  # type: ignore[attr-defined]
                page = await context.new_page()
                await _one(page, base)
                await context.close()
            else:
                await context.clear_cookies()  # type: ignore[union-attr]
                await _one(page, base)
        except Exception as exc:  # counted, reported; the loop goes on
            out["failures"] += 1
            out["errors"].append(str(exc).splitlines()[0][:200])
            continue
        t1 = time.perf_counter()
        if t1 <= deadline:
            out["ms"].append((t1 - t0) * 1000.0)
            out["spans"].append((t0, t1))
    if policy == "reuse" and context is not None:
        await context.close()


async def main(args: argparse.Namespace) -> dict:
    from playwright.async_api import async_playwright

    cpus = browser_cpus(args.cpus)
    previous = _set_affinity(cpus)
    pw = await async_playwright().start()
    browser = await pw.chromium.launch(
        executable_path=find_chromium(), args=list(CHROMIUM_FLAGS), chromium_sandbox=False
    )
    _set_affinity(previous)
    keep_off(cpus)
    out: dict = {"failures": 0, "errors": [], "ms": [], "spans": []}
    print("  journeys: started", file=sys.stderr, flush=True)
    deadline = time.perf_counter() + args.duration
    loops = [_loop(browser, args.url, args.context, deadline, out) for _ in range(args.concurrency)]
    await asyncio.gather(*loops)
    await browser.close()
    await pw.stop()
    out["iterations"] = len(out["ms"])
    out["errors"] = out["errors"][:5]
    out["pid"] = os.getpid()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench.browser.raw")
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--context", choices=("fresh", "reuse"), default="fresh")
    parser.add_argument("--cpus", default="auto")
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
