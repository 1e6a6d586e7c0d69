"""Where the API touchpoint's HTTP client once differed from requests and httpx, against real
servers on loopback (httpbin under gunicorn, nginx, tinyproxy): each test here failed before
the client was changed to behave as the libraries do."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from harness.http.transport import HttpSettings, open_transport
from harness.records import RequestRecord
from harness.touchpoints.api import ApiClient
from tests.integration.http_servers import (
    _binary,
    _started,
    httpbin,
    make_pki,
    tinyproxy,
    tls_nginx,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with httpbin(tmp_path_factory.mktemp("httpbin")) as url:
        yield url


@pytest.fixture(autouse=True)
def no_proxy_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def client(base: str, seen: list[RequestRecord] | None = None) -> ApiClient:
    observer = seen.append if seen is not None else None
    return ApiClient(base, open_transport(HttpSettings()), observer=observer)


def test_a_path_whose_query_holds_a_url_is_still_a_path_under_the_base(bin_url: str) -> None:
    api = client(bin_url)
    # it was taken for an absolute URL (`://` anywhere in it) and could not connect
    got = api.get("/get?next=https://shop.example/cart").json()
    assert got["args"] == {"next": "https://shop.example/cart"}
    assert got["url"] == f"{bin_url}/get?next=https://shop.example/cart"
    api.transport.close()


def test_headers_are_read_in_any_case_and_text_in_the_declared_charset(
    tmp_path: Path,
) -> None:
    with tls_nginx(tmp_path) as nginx:
        (nginx.www / "latin1").mkdir()
        (nginx.www / "latin1" / "menu.txt").write_bytes("café crème".encode("latin-1"))
        api = client(nginx.http)
        got = api.get("/latin1/menu.txt")
        assert got.headers["Content-Type"] == "text/plain; charset=iso-8859-1"
        assert "Content-Length" in got.headers and got.headers.get("CONTENT-LENGTH") == "10"
        assert got.headers["content-type"] == got.headers["Content-Type"]
        assert got.text == "café crème"  # was "caf\ufffd cr\ufffdme": UTF-8 whatever it said
        api.transport.close()


def test_a_302_turns_any_method_but_head_into_a_get_without_its_body(bin_url: str) -> None:
    api = client(bin_url)
    for method in ("PUT", "PATCH", "DELETE"):
        got = api.request(
            method,
            "/redirect-to",
            params={"url": "/anything", "status_code": 302},
            json={"a": 1},
            follow_redirects=True,
        ).json()
        assert (got["method"], got["data"], got["headers"].get("Content-Type")) == ("GET", "", None)
    # 307 repeats the request as it was
    kept = api.put(
        "/redirect-to",
        params={"url": "/anything", "status_code": 307},
        json={"a": 1},
        follow_redirects=True,
    ).json()
    assert (kept["method"], kept["json"]) == ("PUT", {"a": 1})
    api.transport.close()


def test_a_cookie_header_of_the_callers_goes_with_the_first_request_only(bin_url: str) -> None:
    port = bin_url.rsplit(":", 1)[1]
    seen: list[RequestRecord] = []
    api = client(bin_url, seen)
    api.get("/cookies/set", params={"jar": "kept"})
    for where in ("/cookies", f"http://localhost:{port}/cookies"):  # same host, another host
        got = api.get("/redirect-to", params={"url": where}, headers={"Cookie": "manual=1"}).json()
        # the next hop carries the jar's cookies for its URL, as requests and httpx send them
        assert got == {"cookies": {"jar": "kept"} if where == "/cookies" else {}}
    first = api.get("/cookies", headers={"Cookie": "manual=1"}).json()
    assert first == {"cookies": {"manual": "1"}}
    api.transport.close()


def test_a_redirect_keeps_the_fragment_when_its_location_has_none(bin_url: str) -> None:
    api = client(bin_url)
    kept = api.get(f"/redirect-to?url={quote('/get')}#reviews")
    assert kept.url == f"{bin_url}/get#reviews" and kept.json()["url"] == f"{bin_url}/get"
    replaced = api.get(f"/redirect-to?url={quote('/get#top')}#reviews")
    assert replaced.url == f"{bin_url}/get#top"
    api.transport.close()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with tinyproxy(tmp_path_factory.mktemp("tinyproxy")) as found:
        yield found


def test_all_proxy_is_used_and_no_proxy_takes_networks(
    bin_url: str, proxy: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy_url, log = proxy
    monkeypatch.setenv("ALL_PROXY", proxy_url)  # for every scheme without its own, as requests
    api = client(bin_url)
    assert api.get("/get", params={"via": "all"}).json()["args"] == {"via": "all"}
    assert f"GET {bin_url}/get?via=all" in log.read_text()
    api.transport.close()
    monkeypatch.setenv("NO_PROXY", "10.0.0.0/8, 127.0.0.0/8")  # requests reads networks
    direct = client(bin_url)
    assert direct.get("/get", params={"via": "net"}).json()["args"] == {"via": "net"}
    assert "via=net" not in log.read_text()
    direct.transport.close()


UPGRADE_CONF = """\
worker_processes 1;
daemon off;
{user}
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 16; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp_body;
  proxy_temp_path {d}/tmp_proxy;
  fastcgi_temp_path {d}/tmp_fastcgi;
  uwsgi_temp_path {d}/tmp_uwsgi;
  scgi_temp_path {d}/tmp_scgi;
  server {{ listen 127.0.0.1:80; return 301 https://localhost$request_uri; }}
  server {{
    listen 127.0.0.1:443 ssl;
    ssl_certificate {d}/pki/server.pem;
    ssl_certificate_key {d}/pki/server.key;
    location / {{ default_type text/plain; return 200 "auth=$http_authorization"; }}
  }}
}}
"""


def _default_ports_free() -> bool:
    for port in (80, 443):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx binds
            try:
                s.bind(("127.0.0.1", port))
            except OSError:  # not root, or taken
                return False
    return True


def test_authorization_survives_the_redirect_from_http_to_https_on_default_ports(
    tmp_path: Path,
) -> None:
    """requests and httpx keep it from http://host (80) to https://host (443) alone: the same
    host, upgraded; every other change of origin drops it (unit tests hold the table)."""
    if not _default_ports_free():
        pytest.skip("needs 127.0.0.1:80 and :443 free and the right to bind them")
    pki = make_pki(tmp_path / "pki")
    user = "user root;" if os.geteuid() == 0 else ""  # the worker reads the test's files
    (tmp_path / "nginx.conf").write_text(UPGRADE_CONF.format(d=tmp_path, user=user))
    argv = [_binary("nginx"), "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)]
    argv += ["-e", str(tmp_path / "error.log")]
    with _started(argv, 443, tmp_path / "error.log", "nginx", signal.SIGQUIT):
        api = ApiClient(
            "http://localhost/", open_transport(HttpSettings(verify=str(pki.ca))), headers={}
        )
        api.bearer("t0k")
        assert api.get("/account").text == "auth=Bearer t0k"  # dropped before
        api.transport.close()
