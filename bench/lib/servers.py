"""The targets: nginx on a free loopback port (stopped by PID), the sandbox, and the ping target
of the throughput runs."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.lib.output import say
from bench.lib.procs import CHILDREN, free_port
from harness.sandbox.process import SandboxProcess


@dataclass
class Nginx:
    base: str
    proc: subprocess.Popen[bytes]
    folder: Path

    def pids(self) -> list[int]:
        return [self.proc.pid]


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp_body;
  proxy_temp_path {d}/tmp_proxy;
  fastcgi_temp_path {d}/tmp_fastcgi;
  uwsgi_temp_path {d}/tmp_uwsgi;
  scgi_temp_path {d}/tmp_scgi;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  server {{
    listen 127.0.0.1:{port};
    root {d}/www;
    default_type application/json;
    location / {{ }}
  }}
}}
"""


def _nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def _nginx_folder(workdir: Path, port: int) -> Path:
    """nginx's config, pid file, logs and static files, readable by its worker."""
    folder = workdir / "nginx"
    (folder / "www" / "api" / "v1").mkdir(parents=True)
    (folder / "www" / "api" / "v1" / "ping.json").write_text('{"status":"ok"}\n')
    (folder / "www" / "index.html").write_text("<html><body>bench</body></html>\n")
    for path in [folder, *folder.rglob("*")]:  # nginx's worker may run as `nobody`
        path.chmod(0o755 if path.is_dir() else 0o644)
    for parent in folder.parents:
        if parent == Path("/tmp") or parent == Path(tempfile.gettempdir()):
            break
        with contextlib.suppress(OSError):
            parent.chmod(parent.stat().st_mode | 0o005)
    (folder / "nginx.conf").write_text(NGINX_CONF.format(d=folder, port=port))
    return folder


def _wait_listening(proc: subprocess.Popen[bytes], port: int, folder: Path) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = (folder / "stderr.log").read_text(errors="replace")[-400:]
                raise RuntimeError(f"nginx did not start: {err}") from None
            time.sleep(0.1)


@contextlib.contextmanager
def nginx_target(workdir: Path) -> Iterator[Nginx | None]:
    """nginx on a free loopback port serving /api/v1/ping.json, or None when not installed."""
    binary = _nginx_binary()
    if binary is None:
        say("  nginx not found: install the Debian package `nginx` (apt-get install -y nginx);")
        say("  falling back to the sandbox's /api/v1/health for (a)/(b)")
        yield None
        return
    port = free_port()
    folder = _nginx_folder(workdir, port)
    proc = CHILDREN.start(
        [binary, "-c", str(folder / "nginx.conf"), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "stderr.log", "wb"),  # noqa: SIM115
    )
    try:
        _wait_listening(proc, port, folder)
        yield Nginx(f"http://127.0.0.1:{port}", proc, folder)
    finally:
        CHILDREN.stop(proc, signal.SIGQUIT)  # graceful: master stops its workers


@contextlib.contextmanager
def sandbox(regressions: Sequence[str] = ()) -> Iterator[SandboxProcess]:
    box = SandboxProcess("baseline", list(regressions))
    box.start()
    try:
        yield box
    finally:
        box.stop()


@dataclass
class Ping:
    """The target of the throughput runs: one GET of a tiny document."""

    name: str
    target: str  # what `harness load --target` gets
    url: str  # the absolute ping URL
    pids: Callable[[], list[int]]

    @property
    def host(self) -> str:
        return re.match(r"https?://[^/]+", self.url).group(0)  # type: ignore[union-attr]

    @property
    def path(self) -> str:
        return self.url[len(self.host) :]

    @property
    def describe(self) -> str:
        return f"GET {self.path} on {self.name}"

    @classmethod
    def of_nginx(cls, nginx: Nginx) -> Ping:
        return cls("nginx", nginx.base, f"{nginx.base}/api/v1/ping.json", nginx.pids)

    @classmethod
    def of_sandbox(cls, box: SandboxProcess) -> Ping:
        return cls("sandbox", box.urls.base, f"{box.urls.api}/health", lambda: [box.pid])
