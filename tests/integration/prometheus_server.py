"""A real Prometheus (Debian's `prometheus`) on a free loopback port, scraping given targets
every second into a storage folder of its own; stopped by PID."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

BINARY = shutil.which("prometheus") or "/usr/bin/prometheus"


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_prometheus(
    folder: Path,
    scraped: dict[str, str] | None = None,
    *,
    file_sd: Path | None = None,
    interval: str = "1s",
    remote_read: str | None = None,
) -> Prometheus:
    """Prometheus scraping each `host:port` of `scraped` (labelled `deployment=<key>`), and
    the targets listed in `file_sd/*.json` (re-read every second, as the harness writes them);
    with `remote_read`, reading recent data from that URL too."""
    if not Path(BINARY).exists():
        pytest.skip("prometheus is not installed (scripts/ensure-servers.sh installs it)")
    folder.mkdir(parents=True, exist_ok=True)
    statics = "\n".join(
        f'      - targets: ["{where}"]\n        labels: {{deployment: "{name}"}}'
        for name, where in (scraped or {}).items()
    )
    statics = ("    static_configs:\n" + statics + "\n") if scraped else ""
    if file_sd is not None:
        file_sd.mkdir(parents=True, exist_ok=True)
        statics += (
            "    file_sd_configs:\n"
            f'      - files: ["{file_sd}/*.json"]\n'
            f"        refresh_interval: {interval}\n"
        )
    config = folder / "prometheus.yml"
    reads = (
        f"remote_read:\n  - {{url: '{remote_read}', read_recent: true}}\n" if remote_read else ""
    )
    config.write_text(
        f"global: {{scrape_interval: {interval}, evaluation_interval: {interval}}}\n"
        + reads
        + "scrape_configs:\n"
        "  - job_name: sandbox\n"
        f"    scrape_interval: {interval}\n"
        f"    scrape_timeout: {interval}\n" + statics,
        encoding="utf-8",
    )
    port = _free_port()
    log = folder / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                BINARY,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Prometheus(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"prometheus not ready in 20 s: {log.read_text()[-2000:]}")
