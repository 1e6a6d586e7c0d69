"""Rollout hooks: the team's own flag or router automation, called at each stage decision.

A hook is a shell command or an http(s) URL. A command runs under `/bin/sh -c` with the event
as JSON on its standard input and in `$HARNESS_ROLLOUT_EVENT`; it succeeds when it exits 0. A
URL receives the event as a JSON `POST` (through the harness's one HTTP transport,
`harness.http`); it succeeds on a 2xx answer. A URL on one of the rollout's targets' origins is
sent with that target's `[targets.NAME.http]` settings, any other with the environment's.
Either must finish within the timeout. Commands are started with `posix_spawn`, as load
workers are, so that nothing of the gevent-patched harness runs in the child (see
`harness.children`).

`first_effect` asks the candidate when its regression first took effect (the bundled sandbox
says so on its `/health`), to time a rollback's detection.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.children import SpawnedProcess
from harness.errors import ConnectionFailed, StepTimeout
from harness.http.transport import HttpRequest, send_once, settings_for
from harness.rollout.stages import HookCall
from harness.target_http import request_headers
from harness.targets import Target, basic_authorization, split_userinfo

HOOKS = ("on_stage", "on_promote", "on_rollback")
TIMEOUT_S = 10.0
_TAIL = 400


def is_url(action: str) -> bool:
    """Whether a hook is a webhook URL rather than a shell command."""
    return action.startswith(("http://", "https://"))


def call_hook(
    hook: str,
    action: str,
    event: dict[str, Any],
    targets: Sequence[Target] = (),
    timeout_s: float = TIMEOUT_S,
) -> HookCall:
    """Run one hook with `event`; never raises for the hook's own failure (it is reported in
    the returned `HookCall`). A webhook on the origin of one of `targets` (the rollout's
    candidate, then its baseline) is sent with that target's HTTP settings (`hook_target`)."""
    started = time.perf_counter()
    payload = json.dumps(event, sort_keys=True)
    if is_url(action):
        ok, detail = _post(action, payload, timeout_s, hook_target(action, targets))
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


def hook_target(url: str, targets: Sequence[Target]) -> Target | None:
    """The first of `targets` one of whose touchpoints is on the webhook's origin (scheme,
    host and port), or None: the hook is then the team's own service, reached with the
    environment's settings."""
    origin = _origin(url)
    for target in targets:
        if any(_origin(u) == origin for u in target.urls.values()):
            return target
    return None


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _post(url: str, payload: str, timeout_s: float, target: Target | None) -> tuple[bool, str]:
    """POST the event through the harness's HTTP transport; `timeout_s` bounds the whole
    exchange, connecting included (a socket timeout alone bounds each read, so a server
    dripping a byte at a time held a 10-second hook for 52 s). On a target's origin, the
    target's settings apply: its proxy, CA, `verify` and client certificate, and its API
    touchpoint's headers and basic auth (the URL's own credentials win)."""
    bare, credentials = split_userinfo(url)
    headers = {"user-agent": "journey-harness rollout"}
    if target is not None:
        headers.update(request_headers(target.http, target.name, "api"))
    headers["content-type"] = "application/json"
    if credentials is not None:
        headers["authorization"] = basic_authorization(credentials)
    request = HttpRequest("POST", bare, headers, payload.encode(), timeout_s)
    try:
        reply = send_once(request, settings_for(target, "api" if target else None))
    except StepTimeout:
        return False, f"timed out after {timeout_s:g} s"
    except ConnectionFailed as exc:
        return False, f"could not reach the hook: {exc}"
    body = reply.body[:_TAIL].decode("utf-8", "replace")
    return 200 <= reply.status < 300, f"HTTP {reply.status} {body}".strip()


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
    url = target.api.rstrip("/") + "/health"
    request = HttpRequest("GET", url, {"accept": "application/json"}, None, 2.0)
    try:
        reply = send_once(request, settings_for(target))
        body = json.loads(reply.body[:65536])
    except (StepTimeout, ConnectionFailed, ValueError):
        return None
    if reply.status != 200 or not isinstance(body, dict):
        return None
    if not isinstance(body.get("regressions"), list):
        return None
    found = [
        r["first_effect_at"]
        for r in body["regressions"]
        if isinstance(r, dict) and isinstance(r.get("first_effect_at"), (int, float))
    ]
    return min(found, default=None)
