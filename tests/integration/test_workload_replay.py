"""A workload from real traffic, end to end (issue 26): a 30-second load with a known mix and
arrival rate goes through a real nginx reverse proxy (Debian `nginx`, on loopback) in front of
the sandbox, which writes the standard `combined` log; the log becomes `workload.toml`, and
`harness load --workload … --shape replay --speed 3x` runs the recorded mix and curve (10 s
buckets: the 31 s span is 4 of them, about 13 s at 3x).

Each iteration sends its own user agent, so that `ip+ua` (the combined log's only way to tell
clients apart) keys one session per iteration. The rate is modest (2 arrivals a second) so that
it reaches nginx on time on a busy machine. It reads no verdict: the parallel pass (it was 99 s
of the parallel pass's wall at 60 s and 2x; the arrivals are evenly spaced, so 60 of them
check the mix and the rate as well as 120 did).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
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

RATE = 2.0  #: arrivals a second
DURATION_S = 30
COMBINED = r'127\.0\.0\.1 - - \[[^]]+\] "GET [^"]+" \d{3} \d+ "[^"]*" "[^"]*"'
JOURNEYS = """
from harness import journey


def agent(j):
    return {"user-agent": f"journey-test/{j.settings.worker}-{j.user_index}-{j.iteration}"}


@journey(weight=3, think="300ms", routes=["GET /api/v1/products", "GET /api/v1/products/{id}"])
def browse_api(j):
    with j.step("list", on="api"):
        j.api.get("/products", params={"limit": 2}, headers=agent(j))
    with j.step("detail", on="api"):
        j.api.get("/products/1", headers=agent(j))


@journey(weight=1, routes=["GET /api/v1/health"])
def health(j):
    with j.step("health", on="api"):
        j.api.get("/health", headers=agent(j))
"""

NGINX = """\
worker_processes 1;
daemon off;
{user}
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log {d}/access.log combined;
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
            "load", *common, "--shape", "arrival", "--rate", str(RATE),
            "--duration", f"{DURATION_S}s", "--results", str(recorded),
        )  # fmt: skip
        assert load.code in (0, 1), load.out + load.err
        # the standard combined format, as nginx wrote it
        first = log.read_text().splitlines()[0]
        assert re.fullmatch(COMBINED, first), first

        model = tmp_path / "workload.toml"
        imported = run_cli(
            "import", "access-log", str(log), "--format", "combined",
            "--journeys", str(journeys), "--bucket", "10s", "-o", str(model),
        )  # fmt: skip
        assert imported.code == 0, imported.out + imported.err
        workload = load_workload(model)
        # the known mix (3:1, in weighted turns) and rate; unmatched: the reachability
        # check's `GET /` before each run
        sent = RATE * DURATION_S
        assert workload.matched_sessions >= 0.9 * sent, (workload.matched_sessions, load.out)
        assert workload.unmatched_share <= 5.0
        assert abs(workload.mix["browse_api"] - 75.0) <= 5.0, workload.mix
        assert abs(workload.rate_per_minute - RATE * 60) <= 0.1 * RATE * 60, workload

        replayed = tmp_path / "replayed"
        replay = run_cli(
            "load", *common, "--workload", str(model), "--shape", "replay", "--speed", "3x",
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
    # and each minute of it (a replay of 30 s at 3x: its one minute, in recorded time)
    minute = 60 // int(used["bucket_s"])
    for at in range(0, len(used["arrivals"]["recorded"]), minute):
        recorded_minute = sum(used["arrivals"]["recorded"][at : at + minute])
        used_minute = sum(used["arrivals"]["used"][at : at + minute])
        if recorded_minute >= 0.5 * sent:  # a full minute, not the last second's stragglers
            assert abs(used_minute - recorded_minute) <= 0.1 * recorded_minute, used["arrivals"]
