"""`python -m harness.sandbox`: run the bundled sandbox shop in the foreground.

Prints the ready banner on stdout once it accepts requests, stops cleanly (exit 0) on SIGTERM
or SIGINT, and exits 2 with a one-paragraph message for a malformed `--regression` spec.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UsageError
from harness.lifetime import die_with_parent
from harness.sandbox.profile import RELEASES, ReleaseProfile
from harness.sandbox.regressions import parse_regressions
from harness.shop_routes import ROUTES

if TYPE_CHECKING:
    from harness.sandbox.tracing import SandboxTracing

__all__ = ["main"]

PROG = "harness sandbox"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Run the bundled sandbox shop (web, JSON API, mobile API)."
    )
    parser.add_argument("--release", choices=RELEASES, default="baseline")
    parser.add_argument(
        "--regression",
        action="append",
        default=[],
        metavar="SPEC",
        help="e.g. latency:api.orders.create=+200ms, errors:web.*=5%%, contract:order.total="
        "string, ui:place-order, funnel:checkout=20%% (repeatable; see docs/sandbox.md)",
    )
    parser.add_argument("--port", type=int, default=8800, help="0 picks any free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--db", type=Path, help="SQLite file to use (default: a fresh temp file)")
    parser.add_argument("--access-log", action="store_true", help="log each request to stderr")
    parser.add_argument("--list-routes", action="store_true", help="print route names and exit")
    parser.add_argument(
        "--trace-file",
        type=Path,
        metavar="PATH",
        help="append OpenTelemetry spans to PATH as OTLP JSON lines",
    )
    parser.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        help="send OpenTelemetry spans to an OTLP/HTTP collector (URL/v1/traces), "
        "e.g. http://127.0.0.1:4318",
    )
    return parser


def _start_tracing(args: argparse.Namespace) -> SandboxTracing | None:
    """The SDK wiring, or None (and no SDK import) when neither trace option is given."""
    if args.trace_file is None and args.otlp_endpoint is None:
        return None
    from harness.sandbox.tracing import start_tracing

    try:
        return start_tracing(
            args.release, trace_file=args.trace_file, otlp_endpoint=args.otlp_endpoint
        )
    except OSError as exc:
        raise UsageError(
            f"cannot append spans to --trace-file {str(args.trace_file)!r} "
            f"({exc.strerror or exc}); give a writable path, e.g. runs/traces.jsonl"
        ) from None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


def _list_routes() -> None:
    width = max(len(route.name) for route in ROUTES)
    for route in ROUTES:
        methods = ",".join(route.methods)
        print(f"{route.name:<{width}}  {methods:<8}  {route.path:<32}  {route.summary}")


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox; returns the process exit code (0 stopped, 2 usage, 3 failed to start)."""
    die_with_parent()
    args = _parser().parse_args(argv)
    try:
        regressions = parse_regressions(args.regression)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    if args.list_routes:
        _list_routes()
        return 0
    if not 0 <= args.port <= 65535:
        print(
            f"{PROG}: --port {args.port} is not a port; use 0-65535 (0: any free port)",
            file=sys.stderr,
        )
        return 2
    try:
        sock = _bind(args.host, args.port)
    except OSError as exc:
        print(
            f"{PROG}: cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); "
            "choose another --port, or --port 0 for any free port",
            file=sys.stderr,
        )
        return 2
    try:
        tracing = _start_tracing(args)
    except UsageError as exc:
        sock.close()
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    tracer = None if tracing is None else tracing.tracer
    # Imported only now: the web stack is not needed to validate specs or list routes.
    from harness.sandbox.app import build_app
    from harness.sandbox.server import serve

    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{host}:{sock.getsockname()[1]}"

    def announce() -> None:
        print(
            f"sandbox ready at {base} (release {args.release})\n"
            f"  web     {base}/\n"
            f"  api     {base}/api/v1\n"
            f"  mobile  {base}/mobile/v2",
            flush=True,
        )

    with tempfile.TemporaryDirectory(prefix="harness-sandbox-") as scratch:
        db_path = args.db if args.db is not None else Path(scratch) / "shop.sqlite3"
        try:
            app, store = build_app(db_path, ReleaseProfile(args.release, regressions), tracer)
            try:
                started = serve(app, sock, access_log=args.access_log, on_ready=announce)
            finally:
                from harness.sandbox.burn import stop_burning

                stop_burning()  # a `cpu:` regression's queued burns would hold the exit
                store.close()
                sock.close()
        finally:
            # After SIGTERM/SIGINT the server has drained; flush every span before exiting.
            if tracing is not None:
                tracing.shutdown()
    if not started:
        print(f"{PROG}: the server did not start (see the messages above)", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
