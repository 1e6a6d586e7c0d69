"""Rollout hooks: the team's own flag or router automation, called at each stage decision.

A hook is a shell command or an http(s) URL. A command runs under `/bin/sh -c` with the event
as JSON on its standard input and in `$HARNESS_ROLLOUT_EVENT`; it succeeds when it exits 0. A
URL receives the event as a JSON `POST`; it succeeds on a 2xx answer. Either must finish within
the timeout. Commands are started with `posix_spawn`, as load workers are, so that nothing of
the gevent-patched harness runs in the child (see `harness.children`).

`first_effect` asks the candidate when its regression first took effect (the bundled sandbox
says so on its `/health`), to time a rollback's detection.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import tempfile
import threading
import time
import urllib.request
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.children import SpawnedProcess
from harness.rollout.stages import HookCall
from harness.targets import Target

HOOKS = ("on_stage", "on_promote", "on_rollback")
TIMEOUT_S = 10.0
_TAIL = 400


def is_url(action: str) -> bool:
    """Whether a hook is a webhook URL rather than a shell command."""
    return action.startswith(("http://", "https://"))


def call_hook(
    hook: str, action: str, event: dict[str, Any], timeout_s: float = TIMEOUT_S
) -> HookCall:
    """Run one hook with `event`; never raises for the hook's own failure (it is reported in
    the returned `HookCall`)."""
    started = time.perf_counter()
    payload = json.dumps(event, sort_keys=True)
    if is_url(action):
        ok, detail = _post(action, payload, timeout_s)
    else:
        ok, detail = _run(action, payload, timeout_s)
    return HookCall(
        hook=hook,
        action=action,
        event=event,
        ok=ok,
        detail=detail,
        elapsed_s=round(time.perf_counter() - started, 3),
    )


def _post(url: str, payload: str, timeout_s: float) -> tuple[bool, str]:
    """POST the event; `timeout_s` bounds the whole exchange (a socket timeout alone bounds
    each read, so a server dripping a byte at a time held a 10-second hook for 52 s)."""
    parts = urlsplit(url)
    connection_class = HTTPSConnection if parts.scheme == "https" else HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout_s)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"content-type": "application/json", "user-agent": "journey-harness rollout"}
    result: list[tuple[bool, str]] = []

    def exchange() -> None:
        try:
            connection.request("POST", target, body=payload.encode(), headers=headers)
            reply = connection.getresponse()
            body = reply.read(_TAIL).decode("utf-8", "replace")
            result.append((200 <= reply.status < 300, f"HTTP {reply.status} {body}".strip()))
        except (OSError, HTTPException) as exc:
            result.append((False, f"could not reach {url}: {exc}"))

    worker = threading.Thread(target=exchange, name="harness-webhook", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        if connection.sock is not None:  # wake the exchange: its socket is shut under it
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)
        connection.close()
        worker.join(1.0)
        return False, f"timed out after {timeout_s:g} s"
    connection.close()
    return result[0]


def _run(command: str, payload: str, timeout_s: float) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="harness-hook-") as folder:
        event_file = Path(folder) / "event.json"
        event_file.write_text(payload, encoding="utf-8")
        output = Path(folder) / "output.log"
        env = {**os.environ, "HARNESS_ROLLOUT_EVENT": payload}
        # stdin from the event file, stdout and stderr to one log: set up by the shell itself,
        # so that posix_spawn needs no file actions.
        argv = [
            "/bin/sh",
            "-c",
            f'exec <"$1" >"$2" 2>&1; {command}',
            "harness-hook",
            str(event_file),
            str(output),
        ]
        # Its own process group: on a timeout the shell and everything it started are killed
        # (killing the shell alone left a hook's work running, finishing 20 s later).
        child = SpawnedProcess(argv, env, group=True)
        code = child.wait(timeout_s)
        if code is None:
            child.stop(grace_s=0.0)
            return False, f"timed out after {timeout_s:g} s{_tail(output)}"
        child.signal(signal.SIGKILL)  # anything the hook left behind in its group
        return code == 0, f"exit {code}{_tail(output)}"


def _tail(output: Path) -> str:
    try:
        text = output.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    return f": {text[-_TAIL:]}" if text else ""


def first_effect(target: Target) -> float | None:
    """The earliest `first_effect_at` in the target's `/health` regressions, if it says."""
    try:
        with urllib.request.urlopen(target.api.rstrip("/") + "/health", timeout=2.0) as reply:
            body = json.loads(reply.read(65536))
    except (OSError, ValueError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("regressions"), list):
        return None
    found = [
        r["first_effect_at"]
        for r in body["regressions"]
        if isinstance(r, dict) and isinstance(r.get("first_effect_at"), (int, float))
    ]
    return min(found, default=None)
