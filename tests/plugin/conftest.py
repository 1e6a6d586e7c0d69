"""Black-box tests of the pytest plugin: `pytester` runs pytest in a subprocess (Playwright and
gevent do not belong in this process) against a tiny local HTTP server or the real sandbox."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from textwrap import dedent

import pytest

# `pytester` is enabled with `-p pytester` in pyproject's addopts: pytest refuses
# `pytest_plugins` in a conftest below the rootdir.

#: the project's own strictness, so that the plugin is tested under it
STRICT_INI = """\
[pytest]
addopts = --strict-markers -p no:cacheprovider
filterwarnings =
    error
    ignore::DeprecationWarning:gevent.*
    ignore::DeprecationWarning:locust.*
"""


class _Shop(BaseHTTPRequestHandler):
    """`/` answers HTML; `/api/v1/ok` JSON; `/api/v1/broken` a 500."""

    def do_GET(self) -> None:
        if self.path.startswith("/api/v1/broken"):
            self._send(500, {"error": "boom"})
        elif self.path.startswith("/api/v1/"):
            self._send(200, {"ok": True, "path": self.path})
        else:
            body = b"<html><body>shop</body></html>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def _send(self, status: int, data: object) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="session")
def shop_url() -> Iterator[str]:
    """A local HTTP server on a free loopback port, for the whole session."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Shop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


OK_JOURNEY = """\
from harness import journey


@journey(tags={"api"})
def ok_flow(j):
    with j.step("fetch", on="api"):
        assert j.api.get("/ok").json()["ok"] is True
    with j.step("again", on="api"):
        j.api.get("/ok/again", params={"email": j.user.email})
"""

BROKEN_JOURNEY = """\
from harness import journey


@journey
def broken_flow(j):
    with j.step("fetch ok", on="api"):
        j.api.get("/ok")
    with j.step("fetch broken", on="api"):
        j.api.get("/broken")
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder with the project's strict ini."""
    pytester.makeini(STRICT_INI)
    return pytester


def write_journeys(pytester: pytest.Pytester, **modules: str) -> Path:
    """Write `journeys/<name>.py` files; returns the folder."""
    folder = pytester.path / "journeys"
    folder.mkdir(exist_ok=True)
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(dedent(source), encoding="utf-8")
    return folder


def only_run(pytester: pytest.Pytester) -> Path:
    """The one run folder the session wrote."""
    runs = [p for p in (pytester.path / "results").iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def records(run: Path, kind: str) -> list[dict[str, object]]:
    """The records of `kind` (`step` or `iteration`) in a run's steps.jsonl."""
    lines = (run / "steps.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]
