"""`python -m bench.trace_holds [--quick] [--json] [--popups N] [--contexts N]` (or `python
bench/trace_holds.py`). Goal: every popup's first document and every traced document and fetch
carries its action's traceparent (exit 1 otherwise); the costs are reported."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harness.touchpoints.web import BrowserHost
from harness.touchpoints.web_session import WebSession

_PAGE = b"<html><body><a id=blank href=/popup-link target=_blank>new</a></body></html>"
OPENS = {
    "window.open": ("() => { window.open('/popup-opened'); }", "/popup-opened"),
    "target=_blank": ("() => document.getElementById('blank').click()", "/popup-link"),
}
Seen = list[tuple[str, dict[str, str]]]


@contextmanager
def _server() -> Iterator[tuple[str, Seen]]:
    seen: Seen = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            body = _PAGE if self.path == "/" else b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "text/html" if self.path == "/" else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

        def handle(self) -> None:  # a page closed under its favicon request
            with suppress(ConnectionError):
                super().handle()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _traceparent(n: int) -> dict[str, str]:
    return {"traceparent": f"00-{n + 1:032x}-{n + 1:016x}-01"}


def _popups(host: BrowserHost, base: str, seen: Seen, count: int, folder: Path) -> dict[str, int]:
    carried = dict.fromkeys(OPENS, 0)
    for n in range(count):
        for how, (script, path) in OPENS.items():
            session = host.new_session(base_url=base, artifacts_dir=folder)

            async def open_popup(session: WebSession = session, script: str = script) -> Any:
                async with session.page_async.expect_popup() as info:
                    await session.page_async.evaluate(script)
                return await info.value

            try:
                host.call(session._with_headers(_traceparent(10**6), session._goto("/", None)))
                seen.clear()
                host.call(session._with_headers(_traceparent(n), open_popup()))
            finally:
                session.close()
            first = [headers.get("traceparent") for got, headers in seen if got == path]
            carried[how] += first == [_traceparent(n)["traceparent"]]
    return carried


def _costs(host: BrowserHost, base: str, contexts: int, folder: Path) -> dict[str, list[float]]:
    taken: dict[str, list[float]] = {"first goto": [], "goto": [], "fetch": []}
    fetch = "() => fetch('/data').then((r) => r.status)"

    def timed(name: str, session: WebSession, work: Any) -> None:
        start = time.perf_counter()
        host.call(session._with_headers(_traceparent(0), work))
        taken[name].append((time.perf_counter() - start) * 1000)

    for _ in range(contexts):
        session = host.new_session(base_url=base, artifacts_dir=folder)
        try:
            timed("first goto", session, session._goto("/", None))
            for _ in range(10):
                timed("goto", session, session._goto("/", None))
                timed("fetch", session, session.page_async.evaluate(fetch))
        finally:
            session.close()
    return taken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--popups", type=int, help="popups of each kind (20; --quick 5)")
    parser.add_argument("--contexts", type=int, help="contexts for the costs (30; --quick 10)")
    parser.add_argument("--quick", action="store_true", help="fewer popups and contexts")
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    args = parser.parse_args()
    popups = args.popups or (5 if args.quick else 20)
    contexts = args.contexts or (10 if args.quick else 30)
    host = BrowserHost()
    try:
        with _server() as (base, seen), tempfile.TemporaryDirectory() as folder:
            carried = _popups(host, base, seen, popups, Path(folder))
            seen.clear()
            costs = _costs(host, base, contexts, Path(folder))
            untraced = [
                p for p, headers in seen if p != "/favicon.ico" and "traceparent" not in headers
            ]
    finally:
        host.close()
    out = sys.stderr if args.json else sys.stdout
    for how, count in carried.items():
        print(
            f"popups by {how}: {count} of {popups} first documents carried the traceparent",
            file=out,
        )
    medians = {name: round(statistics.median(values), 2) for name, values in costs.items()}
    for name, median in medians.items():
        print(f"traced {name}: median {median:.2f} ms (n={len(costs[name])})", file=out)
    print(
        f"documents and fetches without a traceparent in the cost part: {len(untraced)}", file=out
    )
    meets = all(count == popups for count in carried.values()) and not untraced
    if args.json:
        result = {"popups": popups, "carried": carried, "median_ms": medians, "meets_goals": meets}
        print(json.dumps(result))
    return 0 if meets else 1


sys.exit(main())
