"""A workload from real traffic, end to end: a load with a known mix and rate goes through a
real nginx reverse proxy (Debian `nginx`, on loopback) in front of the sandbox; its access log
becomes `workload.toml`; `harness load --workload … --shape replay --speed 2x` runs the
recorded mix and curve. Short on purpose (the suite's time budget): 4 s recorded, 2 s replayed,
with nginx's `$msec` times in a JSON log, so that seconds are not rounded away."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.engine.network import free_port
from harness.sandbox.process import SandboxUrls
from harness.workload import load_workload
from tests.integration.conftest import only_run_dir, run_cli
from tests.integration.http_servers import _binary, _started

pytestmark = pytest.mark.integration

JOURNEYS = """
from harness import journey


def session(j):
    return {"x-session": f"{j.settings.worker}-{j.user_index}-{j.iteration}"}


@journey(weight=3, think="300ms", routes=["GET /api/v1/products", "GET /api/v1/products/{id}"])
def browse_api(j):
    with j.step("list", on="api"):
        j.api.get("/products", params={"limit": 2}, headers=session(j))
    with j.step("detail", on="api"):
        j.api.get("/products/1", headers=session(j))


@journey(weight=1, routes=["GET /api/v1/health"])
def health(j):
    with j.step("health", on="api"):
        j.api.get("/health", headers=session(j))
"""

NGINX = """\
worker_processes 1;
daemon off;
{user}
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
  log_format timed escape=json '{{"time":$msec,"remote_addr":"$remote_addr",'
      '"request":"$request","status":$status,"user_agent":"$http_user_agent",'
      '"x-session":"$http_x_session"}}';
  access_log {d}/access.log timed;
  client_body_temp_path {d}/tmp_body;
  proxy_temp_path {d}/tmp_proxy;
  fastcgi_temp_path {d}/tmp_fastcgi;
  uwsgi_temp_path {d}/tmp_uwsgi;
  scgi_temp_path {d}/tmp_scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass {upstream}; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
"""


@contextlib.contextmanager
def reverse_proxy(folder: Path, upstream: str) -> Iterator[tuple[str, Path]]:
    """nginx on a free loopback port in front of `upstream`: (its URL, its access log)."""
    binary = _binary("nginx")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = NGINX.format(d=folder, port=port, upstream=upstream.rstrip("/"), user=user)
    (folder / "nginx.conf").write_text(conf)
    argv = [binary, "-c", str(folder / "nginx.conf"), "-p", str(folder), "-e", str(folder / "e")]
    with _started(argv, port, folder / "error.log", "nginx", signal.SIGQUIT):
        yield f"http://127.0.0.1:{port}", folder / "access.log"


def test_a_recorded_mix_and_rate_are_imported_and_replayed(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "recorded.py").write_text(JOURNEYS)
    with reverse_proxy(tmp_path / "nginx", sandbox.base) as (url, log):
        common = ["--target", url, "--journeys", str(journeys), "--no-traces"]
        recorded = tmp_path / "recorded"
        load = run_cli(
            "load", *common, "--shape", "arrival", "--rate", "15", "--duration", "4s",
            "--results", str(recorded),
        )  # fmt: skip
        assert load.code in (0, 1), load.out + load.err
        # the think time paused between the steps of each iteration, never inside one
        steps = [
            json.loads(line)
            for line in (only_run_dir(recorded) / "steps.jsonl").read_text().splitlines()
        ]
        by_iteration: dict[tuple[int, int], dict[str, dict[str, float]]] = {}
        for r in steps:
            if r["kind"] == "step" and r["journey"] == "browse_api":
                by_iteration.setdefault((r["user"], r["iteration"]), {})[r["step"]] = r
        gaps = [
            s["detail"]["started_at"] - s["list"]["started_at"] - s["list"]["duration_ms"] / 1000
            for s in by_iteration.values()
            if len(s) == 2
        ]
        assert gaps and min(gaps) >= 0.3 - 0.01, gaps

        model = tmp_path / "workload.toml"
        imported = run_cli(
            "import", "access-log", str(log), "--format", "json", "--session-key",
            "header:x-session", "--journeys", str(journeys), "--bucket", "1s", "-o", str(model),
        )  # fmt: skip
        assert imported.code == 0, imported.out + imported.err
        workload = load_workload(model)
        # unmatched: the reachability check's `GET /` before each run
        assert workload.matched_sessions >= 50 and workload.unmatched_share <= 5.0
        assert abs(workload.mix["browse_api"] - 75.0) <= 5.0, workload.mix
        # the rate is as nginx saw it: on a busy machine late arrivals start bunched (up to
        # 1,556 a minute were seen for the 900 sent), so it is compared with the replay below
        assert workload.rate_per_minute > 0

        replayed = tmp_path / "replayed"
        replay = run_cli(
            "load", *common, "--workload", str(model), "--shape", "replay", "--speed", "2x",
            "--results", str(replayed),
        )  # fmt: skip
        assert replay.code in (0, 1), replay.out + replay.err
    used = json.loads((only_run_dir(replayed) / "workload.json").read_text())
    for name, mix in used["mix"].items():
        assert abs(mix["used"] - mix["recorded"]) <= 5.0, (name, used["mix"])
    # the replay's arrivals a minute, in recorded time, within 10% of those recorded
    recorded_total, used_total = sum(used["arrivals"]["recorded"]), sum(used["arrivals"]["used"])
    assert abs(used_total - recorded_total) <= 0.1 * recorded_total, used["arrivals"]
    rate = used["rate_per_minute"]
    assert abs(rate["used"] - rate["recorded"]) <= 0.1 * rate["recorded"], rate
