"""`python -m bench.predicates [--quick] [--json] [--responses N] [--rounds N]` (or `python
bench/predicates.py`). A page fires N fetches at once; `expect_response` waits for the last one,
with a predicate (called for every response) and with a URL (no call). The same waits through
`j.web.page` (its predicates run off the browser loop, in a thread outside Locust) and through
sync Playwright, alternated round by round on the same Chromium binary and flags. Reported:
each way's median wait and a predicate's cost per response, against sync Playwright's. Goal: the
harness's cost per predicate call within 1 ms of sync Playwright's (exit 1 otherwise)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harness.touchpoints.web import BrowserHost
from harness.touchpoints.web_session import WebSession

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GOAL_MS = 1.0  #: the most a predicate call may cost beyond sync Playwright's


@contextmanager
def _server(responses: int) -> Iterator[str]:
    page = (
        '<!doctype html><title>busy</title><button id=go onclick="for (let i = 0; '
        f"i < {responses}; i++) fetch('/api/' + i)\">go</button>"
    ).encode()

    class Fast(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # head and body in one write: no delayed-ACK stall
            body, kind = (page, b"text/html") if self.path == "/" else (b"{}", b"text/json")
            head = b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            self.wfile.write(head % (kind, len(body)) + body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Fast)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _wait(page: Any, last: str, url: str, with_predicate: bool) -> float:
    """Seconds from the click to the last response, through a sync-API page."""
    matcher: Any = (lambda r: r.url.endswith(last)) if with_predicate else url + last
    start = time.perf_counter()
    with page.expect_response(matcher):
        page.click("#go")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--responses", type=int, default=300, help="fetches per wait (300)")
    parser.add_argument("--rounds", type=int, help="alternated rounds (15; --quick 5)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 15)
    last = f"/api/{args.responses - 1}"
    waits: dict[str, list[float]] = {}
    from playwright.sync_api import sync_playwright

    host = BrowserHost()
    with _server(args.responses) as url, tempfile.TemporaryDirectory() as folder:
        session: WebSession = host.new_session(base_url=url, artifacts_dir=Path(folder))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                raw = browser.new_page()
                raw.goto(url)
                session.page.goto("/")
                ways: dict[str, Callable[[bool], float]] = {
                    "harness": lambda pred: _wait(session.page, last, url, pred),
                    "sync Playwright": lambda pred: _wait(raw, last, url, pred),
                }
                for n in range(rounds):
                    order = list(ways.items()) if n % 2 == 0 else list(ways.items())[::-1]
                    for name, wait in order:
                        for pred in (True, False):
                            key = f"{name}, {'predicate' if pred else 'URL'}"
                            waits.setdefault(key, []).append(wait(pred) * 1000)
                browser.close()
        finally:
            session.close()
            host.close()
    out = sys.stderr if args.json else sys.stdout
    medians = {key: statistics.median(values) for key, values in waits.items()}
    for key, median in medians.items():
        print(f"{key:28s} median wait {median:7.1f} ms over {rounds} rounds", file=out)
    per_call = {
        name: (medians[f"{name}, predicate"] - medians[f"{name}, URL"]) / args.responses
        for name in ("harness", "sync Playwright")
    }
    extra = per_call["harness"] - per_call["sync Playwright"]
    for name, cost in per_call.items():
        print(f"{name}: a predicate call costs {cost * 1000:.0f} µs per response", file=out)
    print(f"harness beyond sync Playwright: {extra * 1000:.0f} µs a call (goal < 1 ms)", file=out)
    meets = extra < GOAL_MS
    if args.json:
        result = {"median_ms": medians, "per_call_ms": per_call, "meets_goals": meets}
        print(json.dumps(result))
    return 0 if meets else 1


sys.exit(main())
