"""The request after a redirect, response headers and the proxy for a URL, as requests and
httpx make them (the integration tests in test_http_fidelity.py check them against servers)."""

from __future__ import annotations

import pytest

from harness.http.headers import Headers, charset_of
from harness.http.network import proxy_for
from harness.http.redirects import next_request

SENT = {"authorization": "Bearer t", "cookie": "a=1", "content-type": "application/json"}


@pytest.mark.parametrize(
    ("method", "status", "after"),
    [
        ("POST", 301, "GET"),
        ("PUT", 301, "PUT"),
        ("POST", 302, "GET"),
        ("PUT", 302, "GET"),
        ("DELETE", 302, "GET"),
        ("HEAD", 302, "HEAD"),
        ("PATCH", 303, "GET"),
        ("HEAD", 303, "HEAD"),
        ("POST", 307, "POST"),
        ("PUT", 308, "PUT"),
    ],
)
def test_the_method_after_a_redirect_is_the_one_requests_and_httpx_send(
    method: str, status: int, after: str
) -> None:
    body = b"{}" if method not in ("HEAD", "DELETE") else None
    got, _, headers, sent_body = next_request(method, "http://a/x", SENT, body, status, "/y")
    assert got == after
    if after == method:
        assert sent_body == body and "content-type" in headers
    else:
        assert sent_body is None and "content-type" not in headers


def test_the_next_url_and_headers_after_a_redirect() -> None:
    _, url, headers, _ = next_request("GET", "http://a/x/y#top", SENT, None, 302, "z")
    assert url == "http://a/x/z#top" and headers["authorization"] == "Bearer t"
    assert "cookie" not in headers and SENT["cookie"] == "a=1"  # the jar decides; SENT kept
    _, url, headers, _ = next_request("GET", "http://a/x#top", SENT, None, 302, "//b:81/w#end")
    assert url == "http://b:81/w#end" and "authorization" not in headers


@pytest.mark.parametrize(
    ("before", "after", "kept"),
    [
        ("http://a/x", "https://a/y", True),  # the upgrade on default ports, as both libraries
        ("http://a:80/x", "https://a:443/y", True),
        ("http://a:8080/x", "https://a/y", False),
        ("http://a/x", "https://a:8443/y", False),
        ("https://a/x", "http://a/y", False),  # a downgrade
        ("http://a/x", "https://b/y", False),
        ("http://a/x", "http://a:80/y", True),
    ],
)
def test_authorization_survives_a_redirect_to_the_same_origin_or_its_https(
    before: str, after: str, kept: bool
) -> None:
    _, _, headers, _ = next_request("GET", before, SENT, None, 302, after)
    assert ("authorization" in headers) is kept


def test_headers_are_read_whatever_the_case_of_the_name() -> None:
    headers = Headers.of({"Content-Type": "text/plain; charset=ISO-8859-1", "x-a": "1"})
    assert headers["content-type"] == headers["CONTENT-TYPE"] == headers.get("Content-Type")
    assert "X-A" in headers and headers.get("x-b", "none") == "none" and 1 not in headers
    assert Headers.of(headers) is headers
    assert charset_of(headers["Content-Type"]) == "ISO-8859-1"
    assert charset_of('application/json; charset="utf-16"') == "utf-16"
    assert charset_of("application/json") is None and charset_of(None) is None


def test_all_proxy_and_no_proxy_networks_as_requests_reads_them() -> None:
    proxies = {"all": "http://px:3128", "https": "http://tls-px:3129", "no": "10.0.0.0/8, .corp"}
    assert proxy_for("http", "shop.example", 80, proxies) is not None
    assert proxy_for("https", "shop.example", 443, proxies).host == "tls-px"  # type: ignore[union-attr]
    assert proxy_for("http", "10.2.3.4", 80, proxies) is None
    assert proxy_for("http", "11.2.3.4", 80, proxies) is not None
    assert proxy_for("http", "api.corp", 80, proxies) is None
    assert proxy_for("http", "::1", 80, {"http": "px:1", "no": "::1/128"}) is None
