"""`harness rollout`'s hooks and options, checked before any load: a failing hook (command or
URL) stops the rollout, hooks and stages come from harness.toml, bad options are usage errors,
and smoke sends feature flags. No verdict is read, so these run beside other tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import REPO, run_cli
from tests.integration.test_rollout import PROTOCOL

pytestmark = [pytest.mark.integration]


def test_a_failing_hook_stops_the_rollout_before_any_load(tmp_path: Path) -> None:
    result = run_cli(
        "rollout",
        "--sandbox",
        *PROTOCOL,
        *("--stages", "50,100", "--stage-duration", "5s"),
        *("--on-stage", "echo router says no >&2; exit 3"),
        *("--results", str(tmp_path)),
        timeout=60,
    )
    assert result.code == 3, result.out + result.err
    assert "hook on_stage failed (exit 3: router says no)" in result.err
    assert "Traceback" not in result.err


def test_a_webhook_gets_the_event_through_the_harness_http_stack(tmp_path: Path) -> None:
    """A URL hook is POSTed by the rollout process (gevent-patched, under Locust) through
    `harness.http`; a refusal stops the rollout before any load, and says the answer."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict[str, Any]] = []

    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(503)
            self.send_header("content-length", "12")
            self.end_headers()
            self.wfile.write(b"router is ro")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run_cli(
            "rollout",
            "--sandbox",
            *PROTOCOL,
            *("--stages", "50,100", "--stage-duration", "5s"),
            *("--on-stage", f"http://127.0.0.1:{server.server_port}/hooks/stage"),
            *("--results", str(tmp_path)),
            timeout=60,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.code == 3, result.out + result.err
    assert "hook on_stage failed (HTTP 503 router is ro)" in result.err
    assert [event.get("decision") for event in received] == ["start"]  # the hook event, no verdict


def test_hooks_and_stages_from_harness_toml(tmp_path: Path) -> None:
    config = tmp_path / "harness.toml"
    config.write_text(
        f'journeys = "{REPO / "journeys"}"\n[rollout]\nstages = "50,100"\n'
        'stage_duration = "5s"\non_stage = "echo from the config >&2; exit 9"\n'
    )
    result = run_cli(
        "rollout", "--sandbox", *PROTOCOL, "--config", str(config), "--results", str(tmp_path)
    )
    assert result.code == 3, result.out + result.err
    assert "hook on_stage failed (exit 9: from the config)" in result.err
    assert "50% → 100%, 5 s per stage" in result.out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--stages", "5,25"], "end at 100"),
        (["--stage-duration", "soon"], "is not a duration"),
        (["--on-rollback", "http://"], "--on-rollback"),
        (["--processes", "2"], "one process"),
    ],
)
def test_bad_rollout_options_are_usage_errors(args: list[str], needle: str) -> None:
    result = run_cli("rollout", "--sandbox", *args, timeout=30)
    assert result.code == 2 and needle in result.err, result.err
    assert "Traceback" not in result.err


def test_smoke_sends_flags_and_only_the_flagged_path_regresses(tmp_path: Path) -> None:
    """On a candidate whose new checkout answers 500, a smoke run with the flag on fails at
    `pay` (the flag reached the target), and the same run without it passes."""
    from harness.sandbox.process import SandboxProcess

    with SandboxProcess(
        release="candidate", regressions=["errors:api.orders.create=100%;flag=new_checkout"]
    ) as shop:
        args = ("smoke", "--target", shop.urls.base, "-k", "api_catalog_and_orders")
        flagged = run_cli(*args, "--flags", "new_checkout=on", "--results", str(tmp_path / "on"))
        plain = run_cli(*args, "--results", str(tmp_path / "off"), timeout=60)
    assert flagged.code == 1 and "pay" in flagged.out and "500" in flagged.out, flagged.out
    assert plain.code == 0, plain.out + plain.err
