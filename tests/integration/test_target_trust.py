"""What the harness sends to a target, and to whom: the start-of-run reachability check follows
no redirect off the target, and credentials in a target URL go as HTTP basic authentication to
that target only, never stored or printed. Real HTTP servers on loopback, in threads."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.exitcodes import ExitCode
from harness.run.targets import check_reachable
from harness.targets import Target
from tests.integration.conftest import only_run_dir, run_cli

pytestmark = pytest.mark.integration


class Recorder(ThreadingHTTPServer):
    """A loopback server that records (path, Authorization header) of each request."""

    daemon_threads = True

    def __init__(self, host: str, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__((host, 0), handler)
        self.seen: list[tuple[str, str | None]] = []
        self.redirect_to = ""
        self.password = ""

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Redirects(_Handler):
    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        if self.server.redirect_to:
            self._answer(302, b"", {"Location": self.server.redirect_to + self.path})
        else:
            self._answer(200, b"<html><body>here</body></html>")


class NeedsBasicAuth(_Handler):
    """Answers only requests carrying `Basic bob:<password>`; 401 with a challenge otherwise."""

    def do_GET(self) -> None:
        given = self.headers.get("Authorization")
        self.server.seen.append((self.path, given))
        wanted = "Basic " + base64.b64encode(f"bob:{self.server.password}".encode()).decode()
        if given != wanted:
            self._answer(401, b"who are you?", {"WWW-Authenticate": 'Basic realm="shop"'})
        elif self.path.startswith(("/api/v1/", "/mobile/v2/")):
            self._answer(200, b'{"ok": true}', {"Content-Type": "application/json"})
        else:
            page = b"<html><head><title>shop</title></head><body><h1>shop</h1></body></html>"
            self._answer(200, page, {"Content-Type": "text/html"})


@contextmanager
def serving(host: str, handler: type[BaseHTTPRequestHandler]) -> Iterator[Recorder]:
    server = Recorder(host, handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_reachability_check_does_not_follow_a_redirect_off_the_target() -> None:
    # 127.0.0.2 is loopback on Linux but outside the target: a redirect there is an answer
    # from the target, and nothing may reach the other host.
    with serving("127.0.0.2", Redirects) as elsewhere, serving("127.0.0.1", Redirects) as target:
        target.redirect_to = elsewhere.url
        check_reachable(Target.from_base_url(target.url))
    assert [path for path, _ in target.seen] == ["/"]
    assert elsewhere.seen == [], "the reachability check followed a redirect off the target"


JOURNEY = """
from harness import journey


@journey(tags={"api"})
def api_behind_basic_auth(j):
    with j.step("ping api", on="api"):
        j.api.get("/ping")
    with j.step("ping mobile", on="mobile"):
        j.mobile.get("/ping")


@journey(tags={"web"})
def web_behind_basic_auth(j):
    with j.step("open home", on="web"):
        j.web.goto("/")
        j.web.expect_text("h1", "shop")
"""


def test_credentials_in_the_target_url_send_basic_auth_and_are_never_kept(
    tmp_path: Path,
) -> None:
    password = "s3cr3t-Pa55"
    (tmp_path / "behind_auth.py").write_text(JOURNEY)
    with serving("127.0.0.1", NeedsBasicAuth) as target:
        target.password = password
        url = target.url.replace("http://", f"http://bob:{password}@")
        result = run_cli(
            "smoke", "--target", url, "--journeys", str(tmp_path / "behind_auth.py"),
            "--results", str(tmp_path / "results"), cwd=tmp_path, timeout=120,
        )  # fmt: skip
    text = result.out + result.err
    assert result.code == ExitCode.PASSED, text
    wanted = "Basic " + base64.b64encode(f"bob:{password}".encode()).decode()
    by_path = {path: auth for path, auth in target.seen if auth == wanted}
    assert {"/", "/api/v1/ping", "/mobile/v2/ping"} <= set(by_path), target.seen
    run_dir = only_run_dir(tmp_path / "results")
    kept = [p for p in run_dir.rglob("*") if p.is_file()]
    for secret in (password, base64.b64encode(f"bob:{password}".encode()).decode()):
        assert secret not in text
        assert not [p.name for p in kept if secret.encode() in p.read_bytes()], secret
