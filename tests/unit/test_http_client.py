"""The API client's requests-like behaviour, on a fake transport: redirects (method rewriting,
credentials kept to their origin), cookies per iteration, bodies; and the stack's pieces
(body decoding, the proxy for a URL, one Host line)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import pytest

from harness.http.network import decode_body, proxy_for
from harness.http.transport import HttpRequest, RawResponse
from harness.http.wire import Proxy, encode_request, parse_head
from harness.testing import FakeTransport
from harness.touchpoints.api import ApiClient


def redirecting(request: HttpRequest) -> RawResponse:
    if request.url.endswith("/login"):
        return RawResponse(
            303, {"location": "/home"}, b"", ("sid=1; Path=/", "theme=dark; Path=/; Max-Age=60")
        )
    if request.url.endswith("/away"):
        return RawResponse(302, {"location": "http://other.test/x"}, b"")
    return RawResponse(200, {}, request.headers.get("cookie", "").encode())


def test_a_303_after_a_post_goes_on_as_a_get_with_the_cookies_it_set() -> None:
    fake = FakeTransport(redirecting)
    api = ApiClient("http://shop.test/", fake)
    response = api.post("/login", data={"user": "ada"}, follow_redirects=True)
    assert [(r.method, r.url, r.body is None) for r in fake.requests] == [
        ("POST", "http://shop.test/login", False),
        ("GET", "http://shop.test/home", True),
    ]
    assert "content-type" not in fake.requests[1].headers
    assert response.text == "sid=1; theme=dark"
    api.renew(None, None)
    assert api.get("/home").text == ""


def test_credentials_of_the_target_stay_on_its_origin() -> None:
    fake = FakeTransport(redirecting)
    api = ApiClient("http://bob:pw@shop.test/", fake)
    api.get("/away")
    assert "authorization" in fake.requests[0].headers
    assert fake.requests[1].url == "http://other.test/x"
    assert "authorization" not in fake.requests[1].headers


def test_bodies_and_params() -> None:
    fake = FakeTransport(lambda r: RawResponse(200, {}, b""))
    api = ApiClient("http://shop.test/", fake)
    api.post("/f", data={"a": ["1", "2"], "b": None, "c": 3}, params=[("q", "x y")])
    sent = fake.requests[-1]
    assert sent.url == "http://shop.test/f?q=x+y"
    assert sent.body == b"a=1&a=2&c=3"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    api.post("/u", files={"f": ("a.txt", b"hi")}, data={"k": "v"})
    multipart = fake.requests[-1]
    kind = multipart.headers["content-type"]
    assert kind.startswith("multipart/form-data; boundary=")
    boundary = kind.split("=", 1)[1].encode()
    assert multipart.body is not None and multipart.body.count(b"--" + boundary) == 3
    assert b'name="f"; filename="a.txt"' in multipart.body and b"\r\nhi\r\n" in multipart.body
    api.put("/c", content=b"\x00", headers={"Content-Type": "image/png"}, auth=("u", "p"))
    last = fake.requests[-1]
    assert last.headers["content-type"] == "image/png" and last.body == b"\x00"
    assert last.headers["authorization"] == "Basic dTpw"


@pytest.mark.parametrize(
    ("coding", "encoded"),
    [
        ("gzip", gzip.compress(b"hello", mtime=0) + gzip.compress(b" world", mtime=0)),
        ("deflate", zlib.compress(b"hello world")),
        ("deflate", zlib.compress(b"hello world")[2:-4]),  # raw deflate, as some servers send
        ("br", brotli.compress(b"hello world")),
        ("identity", b"hello world"),
    ],
    ids=["gzip", "deflate", "raw-deflate", "br", "identity"],
)
def test_bodies_are_decoded(coding: str, encoded: bytes) -> None:
    assert decode_body(coding, encoded) == b"hello world"


def test_the_proxy_for_a_url() -> None:
    proxies = {"http": "http://u:p%40ss@proxy.test:3128", "no": "internal.test,.corp"}
    assert proxy_for("http", "shop.test", 80, proxies) == Proxy(
        "proxy.test", 3128, "Basic dTpwQHNz"
    )
    assert proxy_for("https", "shop.test", 443, proxies) is None
    assert proxy_for("http", "internal.test", 80, proxies) is None
    assert proxy_for("http", "a.corp", 80, proxies) is None


def test_one_host_line_whoever_sets_it() -> None:
    head = encode_request("GET", "/", "shop.test", {"Host": "other.test", "x": "1"}, None)
    assert head.count(b"host:") + head.count(b"Host:") == 1 and b"host: other.test" in head
    _, _, headers = parse_head(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2")
    assert headers["set-cookie"] == "a=1\nb=2"  # the transport splits them


def test_variables_of_target_settings_are_read_checked_and_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.errors import UsageError
    from harness.redact import redact
    from harness.target_http import TargetHttp, TouchpointHttp, check, describe

    settings = TargetHttp(
        proxy="http://proxy.test:3128", api=TouchpointHttp(headers={"X-Key": "${HX_KEY}"})
    )
    monkeypatch.delenv("HX_KEY", raising=False)
    with pytest.raises(UsageError, match=r"targets.t.http.api.headers.X-Key names \$\{HX_KEY\}"):
        check(settings, "t")
    monkeypatch.setenv("HX_KEY", "v3ry-s3cret-value")
    check(settings, "t")
    assert redact("sent v3ry-s3cret-value back") == "sent [redacted] back"
    assert describe(settings) == ["proxy http://proxy.test:3128", "api: header X-Key"]
    fake = FakeTransport(lambda r: RawResponse(200, {}, b""))
    ApiClient("http://shop.test/", fake, config=settings.api, config_key="k").get("/")
    assert fake.requests[0].headers["x-key"] == "v3ry-s3cret-value"


def test_a_typo_in_target_settings_names_the_nested_keys(tmp_path: Path) -> None:
    from harness.config import load_config
    from harness.errors import ConfigError

    (tmp_path / "harness.toml").write_text(
        '[targets.x]\nurl = "http://127.0.0.1:9"\n[targets.x.http]\nproxyy = "http://p:1"\n'
    )
    with pytest.raises(ConfigError, match=r"did you mean `proxy`\?.* client_cert"):
        load_config(tmp_path / "harness.toml")


def test_the_bundled_sandbox_is_reached_directly_whatever_http_proxy_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A proxy set for the package registries must not carry the sandbox's load: the run
    # started that server on loopback itself. A URL target still follows the environment.
    from harness.http.transport import settings_for
    from harness.run.targets import sandbox_target
    from harness.sandbox.process import SandboxUrls
    from harness.targets import Target

    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:3128")
    sandbox = sandbox_target(SandboxUrls.from_base("http://127.0.0.1:8800"), "baseline")
    assert settings_for(sandbox).proxies == {}
    assert proxy_for("http", "127.0.0.1", 8800, settings_for(sandbox).proxies or {}) is None
    named = Target.from_base_url("http://127.0.0.1:8800", name="staging")
    assert settings_for(named).proxies is None  # None: the environment's, read on connect
