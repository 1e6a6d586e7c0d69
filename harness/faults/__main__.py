"""`python -m harness.faults --upstream URL [--fault SPEC ...] [--port P]`: run the drill proxy.

It prints `fault proxy ready at http://127.0.0.1:PORT (clock EPOCH)` once listening (fault
windows count from EPOCH), serves until SIGTERM or SIGINT, then writes its counts (requests, and
how often each fault was applied) as JSON to `--stats-file`, if given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import SpecError, UsageError
from harness.faults.proxy import DEFAULT_TOUCHPOINTS, FaultProxy
from harness.faults.spec import parse_faults
from harness.http.transport import HttpSettings, settings_from
from harness.lifetime import die_with_parent
from harness.target_http import TargetHttp

#: the touchpoints with settings of their own (the browser's traffic takes the target's)
_HTTP_TOUCHPOINTS = ("api", "mobile")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, serve until told to stop; exit 2 on a malformed spec."""
    die_with_parent()
    parser = argparse.ArgumentParser(prog="python -m harness.faults", description=__doc__)
    parser.add_argument("--upstream", required=True, help="http(s) origin to forward to")
    parser.add_argument(
        "--preserve-host",
        action="store_true",
        help="send the client's Host header upstream (default: the upstream's own)",
    )
    parser.add_argument("--fault", action="append", default=[], metavar="SPEC")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--touchpoint",
        action="append",
        default=[],
        metavar="PREFIX=NAME",
        help="path prefix of a touchpoint (default: /api/v1=api, /mobile/v2=mobile, /=web)",
    )
    parser.add_argument("--stats-file", type=Path, default=None)
    parser.add_argument(
        "--http-settings",
        type=Path,
        default=None,
        metavar="FILE",
        help="JSON {name, http}: the target's [targets.NAME.http], to reach the upstream with "
        "(default: the environment's proxies and CA bundle)",
    )
    options = parser.parse_args(argv)
    try:
        faults = parse_faults(options.fault)
    except SpecError as exc:
        print(f"harness.faults: {exc}", file=sys.stderr)
        return 2
    touchpoints = dict(DEFAULT_TOUCHPOINTS)
    if options.touchpoint:
        touchpoints = dict(item.split("=", 1) for item in options.touchpoint)
    try:
        settings, own = _settings(options.http_settings, touchpoints)
    except (OSError, ValueError, UsageError) as exc:
        print(f"harness.faults: --http-settings: {exc}", file=sys.stderr)
        return 2
    try:
        proxy = FaultProxy(
            options.upstream,
            faults,
            touchpoints=touchpoints,
            seed=options.seed,
            preserve_host=options.preserve_host,
            settings=settings,
            touchpoint_settings=own,
        )
    except ValueError as exc:
        print(f"harness.faults: {exc}", file=sys.stderr)
        return 2
    try:
        import uvloop  # part of uvicorn[standard]; about twice the throughput of asyncio's loop
    except ImportError:  # pragma: no cover - uvloop is installed with the harness
        asyncio.run(_serve(proxy, options))
    else:
        uvloop.run(_serve(proxy, options))
    return 0


def _settings(
    path: Path | None, touchpoints: dict[str, str]
) -> tuple[HttpSettings | None, dict[str, HttpSettings]]:
    """The upstream's settings from the file `ProxyProcess` wrote (variables read from the
    environment the proxy inherited), the target's and each HTTP touchpoint's, or None for the
    environment's."""
    if path is None:
        return None, {}
    given = json.loads(path.read_text(encoding="utf-8"))
    http, name = TargetHttp.model_validate(given["http"]), str(given["name"])
    own = {t: settings_from(http, name, t) for t in touchpoints.values() if t in _HTTP_TOUCHPOINTS}
    return settings_from(http, name), own


async def _serve(proxy: FaultProxy, options: argparse.Namespace) -> None:
    port = await proxy.start(options.host, options.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(
        f"fault proxy ready at http://{options.host}:{port} (clock {proxy.started_epoch:.6f})",
        flush=True,
    )
    await stop.wait()
    await proxy.close()
    if options.stats_file is not None:
        with contextlib.suppress(OSError):
            options.stats_file.write_text(json.dumps(dict(proxy.counts)) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
