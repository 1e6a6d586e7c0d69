"""The API touchpoint's HTTP client against real servers on loopback, as requests and httpx
behave: httpbin (cookies, redirects, encodings, bodies, basic auth, streamed bodies), nginx with
TLS and client certificates, and tinyproxy as the environment's forward proxy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import ConnectionFailed, HttpStatusError
from harness.faults.process import ProxyProcess
from harness.http.transport import HttpSettings, open_transport
from harness.records import RequestRecord
from harness.touchpoints.api import ApiClient
from tests.integration.conftest import only_run_dir, run_cli
from tests.integration.http_servers import TlsNginx, httpbin, tinyproxy, tls_nginx

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with httpbin(tmp_path_factory.mktemp("httpbin")) as url:
        yield url


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsNginx]:
    with tls_nginx(tmp_path_factory.mktemp("nginx")) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with tinyproxy(tmp_path_factory.mktemp("tinyproxy")) as found:
        yield found


@pytest.fixture(autouse=True)
def no_proxy_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def client(
    base: str, settings: HttpSettings | None = None, seen: list[RequestRecord] | None = None
) -> ApiClient:
    observer = seen.append if seen is not None else None
    return ApiClient(base, open_transport(settings or HttpSettings()), observer=observer)


def test_cookies_set_by_one_answer_are_sent_with_the_next_and_reset_per_iteration(
    bin_url: str,
) -> None:
    seen: list[RequestRecord] = []
    api = client(bin_url, seen=seen)
    # two Set-Cookie lines, then a redirect to /cookies, which shows what the client sent
    got = api.get("/cookies/set", params={"session": "s3cr3t", "theme": "dark"}).json()
    assert got == {"cookies": {"session": "s3cr3t", "theme": "dark"}}
    assert [(r.status, r.url.split("?")[0].rsplit("/", 1)[1]) for r in seen] == [
        (302, "set"),
        (200, "cookies"),
    ]
    assert api.get("/cookies").json() == {"cookies": {"session": "s3cr3t", "theme": "dark"}}
    api.get("/cookies/delete", params={"theme": ""})
    assert api.get("/cookies").json() == {"cookies": {"session": "s3cr3t"}}
    api.renew(None, None)  # a new iteration: a new visitor
    assert api.get("/cookies").json() == {"cookies": {}}
    api.transport.close()


def test_redirects_are_followed_recorded_limited_and_can_be_refused(bin_url: str) -> None:
    seen: list[RequestRecord] = []
    api = client(bin_url, seen=seen)
    final = api.get("/redirect/3")
    assert final.status == 200 and final.url.endswith("/get")
    assert [r.status for r in seen] == [302, 302, 302, 200]
    assert api.get("/redirect/3", follow_redirects=False, expect=302).status == 302
    api.max_redirects = 2
    with pytest.raises(HttpStatusError, match="more than 2 times"):
        api.get("/redirect/3")
    # a POST answered 303 goes on as a GET when asked to follow, as requests and httpx do
    api.max_redirects = 20
    after_post = api.post(
        "/redirect-to", params={"url": "/get", "status_code": 303}, follow_redirects=True
    )
    assert after_post.method == "GET" and after_post.url.endswith("/get")
    # not followed for a POST by default
    assert api.post("/redirect-to", params={"url": "/get", "status_code": 302}).status == 302
    api.transport.close()


@pytest.mark.parametrize("coding", ["gzip", "deflate", "brotli"])
def test_compressed_bodies_are_decoded(bin_url: str, coding: str) -> None:
    api = client(bin_url)
    body = api.get(f"/{coding}").json()
    assert body[{"gzip": "gzipped", "deflate": "deflated", "brotli": "brotli"}[coding]] is True
    assert "br" in body["headers"]["Accept-Encoding"]
    api.transport.close()


def test_bodies_params_and_basic_auth_as_requests_sends_them(bin_url: str) -> None:
    api = client(bin_url)
    form = api.post("/post", data={"name": "Ada", "tag": ["a", "b"]}).json()
    assert form["form"] == {"name": "Ada", "tag": ["a", "b"]}
    assert form["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    upload = api.post(
        "/post", data={"kind": "avatar"}, files={"file": ("me.txt", b"hello", "text/plain")}
    ).json()
    assert upload["files"] == {"file": "hello"} and upload["form"] == {"kind": "avatar"}
    raw = api.post("/post", content="plain words").json()
    assert raw["data"] == "plain words" and raw["headers"]["Content-Type"].startswith("text/plain")
    assert api.get("/get", params={"q": ["1", "2"], "x": "y"}).json()["args"] == {
        "q": ["1", "2"],
        "x": "y",
    }
    api.get("/basic-auth/ada/pw", auth=("ada", "pw"))
    with_userinfo = bin_url.replace("http://", "http://ada:pw@") + "/basic-auth/ada/pw"
    assert api.get(with_userinfo).json() == {"authenticated": True, "user": "ada"}
    assert api.get("/basic-auth/ada/pw", expect=401).status == 401
    api.transport.close()


def test_streamed_and_large_bodies_are_read_whole_in_linear_time(
    bin_url: str, nginx: TlsNginx
) -> None:
    api = client(bin_url)
    assert len(api.get("/stream-bytes/60000", params={"chunk_size": 1000}).content) == 60000
    (nginx.www / "big.bin").write_bytes(b"x" * (16 * 1024 * 1024))
    plain = client(nginx.http)
    plain.get("/who")  # the connection is open before the clock starts
    started = time.perf_counter()
    assert len(plain.get("/big.bin").content) == 16 * 1024 * 1024
    assert time.perf_counter() - started < 1.5  # 0.05 s with http.client, 3 s when quadratic
    api.transport.close()
    plain.transport.close()


def test_a_host_header_replaces_the_default_instead_of_doubling_it(nginx: TlsNginx) -> None:
    api = client(nginx.http)
    # nginx answers 400 to a request with two Host lines
    assert api.get("/who", headers={"Host": "shop.example"}).text == "host=shop.example"
    api.transport.close()


def test_tls_with_a_private_ca_and_a_client_certificate(
    nginx: TlsNginx, monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = nginx.pki
    cert = (str(pki.client_cert), str(pki.client_key))
    mtls = client(nginx.https, HttpSettings(verify=str(pki.ca), client_cert=cert))
    assert mtls.get("/who").text == "CN=client host=localhost"
    no_cert = client(nginx.https, HttpSettings(verify=str(pki.ca)))
    assert "No required SSL certificate" in no_cert.get("/who", expect=400).text
    unknown_ca = client(nginx.https, HttpSettings(client_cert=cert))
    with pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED"):
        unknown_ca.get("/who")
    unverified = client(nginx.https, HttpSettings(verify=False, client_cert=cert))
    assert unverified.get("/who").text.startswith("CN=client")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca))
    from_env = client(nginx.https, HttpSettings(client_cert=cert))
    assert from_env.get("/who").text.startswith("CN=client")
    for each in (mtls, no_cert, unknown_ca, unverified, from_env):
        each.transport.close()


def test_the_environments_proxy_carries_http_and_tunnels_https(
    bin_url: str, nginx: TlsNginx, proxy: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy_url, log = proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setenv("HTTPS_PROXY", proxy_url)
    api = client(bin_url)
    assert api.get("/get", params={"via": "proxy"}).json()["args"] == {"via": "proxy"}
    assert f"GET {bin_url}/get?via=proxy" in log.read_text()
    pki = nginx.pki
    cert = (str(pki.client_cert), str(pki.client_key))
    tunnelled = client(nginx.https, HttpSettings(verify=str(pki.ca), client_cert=cert))
    assert tunnelled.get("/who").text == "CN=client host=localhost"
    assert f"CONNECT {nginx.https.removeprefix('https://')}" in log.read_text()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = client(bin_url)
    assert direct.get("/get", params={"via": "direct"}).json()["args"] == {"via": "direct"}
    assert "via=direct" not in log.read_text()
    for each in (api, tunnelled, direct):
        each.transport.close()


SETTINGS_JOURNEYS = """\
from harness import journey


@journey(tags={"bin"})
def sends_the_targets_headers(j):
    with j.step("headers", on="api"):
        sent = j.api.get("/headers").json()["headers"]
        assert sent["X-Token"] == j.vars.setdefault("token", sent["X-Token"])
        assert sent["User-Agent"] == "acme-tests/1"
        assert sent["X-Team"] == "checkout" and sent["X-Env"] == "staging"
    with j.step("app", on="mobile"):
        sent = j.mobile.get("/headers").json()["headers"]
        assert sent["User-Agent"].startswith("Acme/5.1 (iPadOS "), sent
        assert sent["X-Team"] == "checkout" and sent["X-Env"] == "mobile", sent
        assert "X-Token" not in sent
    with j.step("quote the headers", on="api"):
        assert False, j.api.get("/headers").text


@journey(tags={"tls"})
def who_am_i(j):
    with j.step("who", on="api"):
        assert j.api.get("/who").text == "CN=client host=localhost"
"""


def test_per_target_settings_from_harness_toml(
    bin_url: str,
    nginx: TlsNginx,
    proxy: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`[targets.NAME.http]`: headers and a user agent per touchpoint, the mobile app's
    identity, a proxy, a CA and a client certificate, `${VARIABLES}` read from the environment
    and never written or printed."""
    proxy_url, log = proxy
    pki = nginx.pki
    (tmp_path / "journeys").mkdir()
    (tmp_path / "journeys" / "settings.py").write_text(SETTINGS_JOURNEYS)
    (tmp_path / "harness.toml").write_text(
        f'[targets.bin]\nurl = "{bin_url}"\napi = "{bin_url}/"\nmobile = "{bin_url}/"\n'
        f'[targets.bin.http]\nproxy = "{proxy_url}"\n'
        'headers = { X-Team = "checkout", X-Env = "staging" }\n'
        '[targets.bin.http.api]\nheaders = { X-Token = "${HB_TOKEN}" }\n'
        'user_agent = "acme-tests/1"\n'
        '[targets.bin.http.mobile]\napp = { name = "Acme", version = "5.1", platform = "iPadOS" }\n'
        'headers = { X-Env = "mobile" }\n'
        f'[targets.tls]\nurl = "{nginx.https}"\napi = "{nginx.https}/"\n'
        f'[targets.tls.http]\nproxy = "{proxy_url}"\nca = "{pki.ca}"\n'
        f'client_cert = "{pki.client_cert}"\nclient_key = "${{CLIENT_KEY}}"\n'
    )
    token = "tok-8c1f5e0d2b"
    monkeypatch.setenv("HB_TOKEN", token)
    monkeypatch.setenv("CLIENT_KEY", str(pki.client_key))
    done = run_cli(
        "smoke", "--target", "bin", "-k", "bin", "--results", str(tmp_path / "bin"), cwd=tmp_path
    )  # fmt: skip
    tls = run_cli(
        "smoke", "--target", "tls", "-k", "tls", "--results", str(tmp_path / "tls"), cwd=tmp_path
    )  # fmt: skip
    output = done.out + done.err
    assert done.code == 1, output  # the third step fails on purpose, quoting the headers
    assert "✓ sends_the_targets_headers › headers" in output
    assert "✓ sends_the_targets_headers › app" in output
    assert (
        f"http settings of bin: proxy {proxy_url}; header X-Team; header X-Env; api: header "
        "X-Token, user agent 'acme-tests/1'; mobile: header X-Env, app Acme 5.1 (iPadOS)"
    ) in output
    assert token not in output
    run_dir = only_run_dir(tmp_path / "bin")
    written = "".join(p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file())
    assert "[redacted]" in written and token not in written
    assert f"GET {bin_url}/headers" in log.read_text()
    assert tls.code == 0, tls.out + tls.err
    assert f"CA {pki.ca}" in tls.out and f"client certificate {pki.client_cert}" in tls.out
    load = run_cli(
        "load", "--target", "tls", "-k", "tls", "--users", "2", "--duration", "2s",
        "--browser-users", "0", "--results", str(tmp_path / "load"), cwd=tmp_path,
    )  # fmt: skip
    assert load.code == 0, load.out + load.err  # the settings reach the load's processes
    assert "0 failed" in load.out


def test_the_drill_proxy_forwards_to_https_with_the_upstreams_host(
    nginx: TlsNginx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In front of an https upstream (trusted through REQUESTS_CA_BUNDLE), the drill proxy
    sends the upstream's own Host, as name-based ingress needs, or the client's when told."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(nginx.pki.ca))
    upstream = nginx.https_open
    port = upstream.rsplit(":", 1)[1]
    for preserve in (False, True):
        with ProxyProcess(upstream, preserve_host=preserve) as proxy:
            api = client(proxy.url)
            sent = proxy.url.removeprefix("http://") if preserve else f"localhost:{port}"
            assert api.get("/who").text == f"host={sent}"
            api.transport.close()


def test_the_drill_proxy_reaches_an_mtls_upstream_with_the_targets_settings(
    bin_url: str, nginx: TlsNginx, proxy: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drill in front of a target whose `[targets.NAME.http]` names a CA, a client
    certificate (its key through `${VARIABLE}`) and a forward proxy: the drill proxy reaches
    the mTLS upstream with them (CONNECT through tinyproxy), the journeys reach the drill
    proxy directly, and nothing of it is in the drill proxy's command line."""
    from contextlib import ExitStack

    from harness.http.transport import settings_for
    from harness.run.drill import _Run, _through_proxy
    from harness.target_http import TargetHttp
    from harness.targets import Target

    proxy_url, log = proxy
    pki = nginx.pki
    monkeypatch.setenv("DRILL_CLIENT_KEY", str(pki.client_key))
    settings = TargetHttp(
        proxy=proxy_url, ca=str(pki.ca), client_cert=str(pki.client_cert),
        client_key="${DRILL_CLIENT_KEY}",
    )  # fmt: skip
    target = Target.from_base_url(nginx.https, name="tls").model_copy(update={"http": settings})
    state = _Run()
    with ExitStack() as stack:
        behind = _through_proxy(target, [], stack, state, seed=1, names={"tls": "tls"})
        assert behind.web.startswith("http://127.0.0.1:") and behind.http.proxy == ""
        command = " ".join(state.proxies[0].command())
        assert str(pki.client_key) not in command and proxy_url not in command
        api = client(behind.web.rstrip("/"), settings_for(behind))
        assert api.get("/who").text == "CN=client host=localhost"
        api.transport.close()
    assert f"CONNECT {nginx.https.removeprefix('https://')}" in log.read_text()
    without = Target.from_base_url(nginx.https, name="bare")
    with ExitStack() as stack:  # without the settings: the CA is unknown, so no answer but 502
        behind = _through_proxy(without, [], stack, _Run(), seed=1)
        api = client(behind.web.rstrip("/"))
        assert api.get("/who", expect=502).status == 502
        api.transport.close()
    # a plain-http upstream through the forward proxy: requests in absolute form
    with ProxyProcess(bin_url, http=TargetHttp(proxy=proxy_url), name="bin") as drill:
        api = client(drill.url)
        assert api.get("/get", params={"via": "drill"}).json()["args"] == {"via": "drill"}
        api.transport.close()
    assert f"GET {bin_url}/get?via=drill" in log.read_text()
