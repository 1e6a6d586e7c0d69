"""Real HTTP servers for the HTTP client's tests, each on a free loopback port and stopped by
PID even when a test fails: httpbin (PyPI) under gunicorn, nginx with TLS that verifies client
certificates against a CA the test makes (openssl), and tinyproxy as a forward proxy.
nginx and tinyproxy are Debian packages (`scripts/ensure-servers.sh` installs them)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path, what: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                text = log.read_text(errors="replace")[-600:] if log.exists() else ""
                raise RuntimeError(f"{what} did not start: {text}") from None
            time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop one child by its PID; killed when it does not stop within 10 s."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def _started(argv: list[str], port: int, log: Path, what: str, stop: int) -> Iterator[None]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_listening(proc, port, log, what)
        yield
    finally:
        _stop(proc, stop)


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/ensure-servers.sh")
    return found


@contextlib.contextmanager
def httpbin(folder: Path, worker: str = "sync") -> Iterator[str]:
    """httpbin under gunicorn (one worker of that class; `gevent` keeps connections alive):
    its base URL."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "-k", worker]
    argv += ["--graceful-timeout", "2", "httpbin:app"]
    with _started(argv, port, folder / "gunicorn.log", "httpbin", signal.SIGTERM):
        yield f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Pki:
    """A CA made for one test, a server certificate for localhost and a client's."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(folder: Path) -> Pki:
    """A certificate authority and two certificates it signed, made with the openssl CLI."""
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
        "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    (folder / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, extra in (("server", ["-extfile", "server.ext"]), ("client", [])):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr")  # fmt: skip
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", *extra)  # fmt: skip
    return Pki(
        folder / "ca.pem",
        folder / "server.pem",
        folder / "server.key",
        folder / "client.pem",
        folder / "client.key",
    )


NGINX_CONF = """\
worker_processes 1;
daemon off;
{user}
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp_body;
  proxy_temp_path {d}/tmp_proxy;
  fastcgi_temp_path {d}/tmp_fastcgi;
  uwsgi_temp_path {d}/tmp_uwsgi;
  scgi_temp_path {d}/tmp_scgi;
  server {{
    listen 127.0.0.1:{tls_port} ssl;
    ssl_certificate {pki}/server.pem;
    ssl_certificate_key {pki}/server.key;
    ssl_client_certificate {pki}/ca.pem;
    ssl_verify_client on;
    root {d}/www;
    location = /who {{ default_type text/plain; return 200 "$ssl_client_s_dn host=$host"; }}
  }}
  server {{
    listen 127.0.0.1:{port};
    root {d}/www;
    location = /who {{ default_type text/plain; return 200 "host=$host"; }}
    location /latin1/ {{ charset iso-8859-1; }}
  }}
  server {{
    listen 127.0.0.1:{open_port} ssl;
    ssl_certificate {pki}/server.pem;
    ssl_certificate_key {pki}/server.key;
    location = /who {{ default_type text/plain; return 200 "host=$http_host"; }}
  }}
}}
"""


@dataclass(frozen=True)
class TlsNginx:
    https: str  #: verifies client certificates
    http: str  #: plain, the same files
    https_open: str  #: TLS without client certificates; /who says the Host header as sent
    pki: Pki
    www: Path


@contextlib.contextmanager
def tls_nginx(folder: Path) -> Iterator[TlsNginx]:
    """nginx serving `www/` on two loopback ports: HTTPS that asks every client for a
    certificate signed by the test's CA, and plain HTTP."""
    binary = _binary("nginx")
    pki = make_pki(folder / "pki")
    (folder / "www").mkdir()
    tls_port, port, open_port = free_port(), free_port(), free_port()
    user = "user root;" if os.geteuid() == 0 else ""  # the worker reads the test's files
    conf = NGINX_CONF.format(
        d=folder, pki=pki.ca.parent, tls_port=tls_port, port=port, open_port=open_port, user=user
    )
    (folder / "nginx.conf").write_text(conf)
    argv = [
        binary,
        "-c",
        str(folder / "nginx.conf"),
        "-p",
        str(folder),
        "-e",
        str(folder / "error.log"),
    ]
    with _started(argv, tls_port, folder / "error.log", "nginx", signal.SIGQUIT):
        yield TlsNginx(
            f"https://localhost:{tls_port}",
            f"http://127.0.0.1:{port}",
            f"https://localhost:{open_port}",
            pki,
            folder / "www",
        )


TINYPROXY_CONF = """\
Port {port}
Listen 127.0.0.1
Timeout 30
MaxClients 16
Allow 127.0.0.1
LogLevel Info
LogFile "{d}/tinyproxy.log"
PidFile "{d}/tinyproxy.pid"
{user}
"""


@contextlib.contextmanager
def tinyproxy(folder: Path) -> Iterator[tuple[str, Path]]:
    """tinyproxy as a forward proxy (plain HTTP, and CONNECT to any port): (its URL, its log)."""
    binary = _binary("tinyproxy")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    user = "User root\nGroup root" if os.geteuid() == 0 else ""
    (folder / "tinyproxy.conf").write_text(TINYPROXY_CONF.format(port=port, d=folder, user=user))
    log = folder / "tinyproxy.log"
    argv = [binary, "-d", "-c", str(folder / "tinyproxy.conf")]
    with _started(argv, port, folder / "stdout.log", "tinyproxy", signal.SIGTERM):
        yield f"http://127.0.0.1:{port}", log


REVERSE_PROXY_CONF = """\
worker_processes 1;
daemon off;
{user}
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
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
def nginx_reverse_proxy(folder: Path, upstream: str) -> Iterator[str]:
    """nginx with its defaults as a reverse proxy in front of `upstream` (keep-alive to it, as
    usually configured): its base URL."""
    binary = _binary("nginx")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = REVERSE_PROXY_CONF.format(d=folder, port=port, upstream=upstream, user=user)
    (folder / "nginx.conf").write_text(conf)
    argv = [binary, "-c", str(folder / "nginx.conf"), "-p", str(folder)]
    argv += ["-e", str(folder / "error.log")]
    with _started(argv, port, folder / "error.log", "nginx", signal.SIGQUIT):
        yield f"http://127.0.0.1:{port}"
