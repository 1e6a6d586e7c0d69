"""Serving the sandbox app with uvicorn on a socket that the caller has already bound.

Binding first is what makes `--port 0` work: the real port is known before uvicorn starts.
SIGTERM and SIGINT stop the server gracefully and the process then exits 0 (uvicorn's own
handling would re-raise the signal after shutdown, which kills the process with -15).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import signal
import socket
import sys
from collections.abc import Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

__all__ = ["serve"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_GRACEFUL_SECONDS = 3


class _SandboxServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in _SIGNALS:
                loop.remove_signal_handler(sig)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if importlib.util.find_spec("uvloop") is None:
        return None
    import uvloop

    return uvloop.new_event_loop


def serve(
    app: ASGIApp, sock: socket.socket, *, access_log: bool, on_ready: Callable[[], None]
) -> bool:
    """Serve `app` on `sock` until SIGTERM/SIGINT; `on_ready` runs once requests are accepted.

    Returns False when the server could not start (the reason is logged to stderr).
    """
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.INFO if access_log else logging.WARNING)
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    config = uvicorn.Config(
        app,
        http=http,
        ws="none",
        lifespan="off",
        log_config=None,
        access_log=access_log,
        server_header=False,
        timeout_graceful_shutdown=_GRACEFUL_SECONDS,
    )
    server = _SandboxServer(config)

    async def run() -> bool:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.005)
        if server.started:
            on_ready()
        await task
        return bool(server.started)

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(run())
