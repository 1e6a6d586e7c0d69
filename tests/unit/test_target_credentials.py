"""Credentials in a target URL (`http://user:password@host/`): read as curl and requests read
them, sent as HTTP basic authentication to the target's origin only, never kept in a URL."""

from __future__ import annotations

from harness.targets import Target, basic_authorization, split_userinfo, without_userinfo
from harness.testing import FakeTransport, json_response
from harness.touchpoints.api import ApiClient
from harness.touchpoints.http import HttpRequest, RawResponse
from harness.touchpoints.mobile import MobileClient

BOB = "Basic Ym9iOmh1bnRlcjI="  # bob:hunter2


def ok(request: HttpRequest) -> RawResponse:
    return json_response(200, {"ok": True})


def test_userinfo_is_split_off_and_percent_decoded() -> None:
    assert split_userinfo("http://bob:hunter2@127.0.0.1:8800/x?y=1") == (
        "http://127.0.0.1:8800/x?y=1",
        ("bob", "hunter2"),
    )
    assert split_userinfo("http://b%40b:p%3Aw@host/") == ("http://host/", ("b@b", "p:w"))
    assert split_userinfo("http://host:1/") == ("http://host:1/", None)
    assert without_userinfo("https://a:b@host") == "https://host"
    assert basic_authorization(("bob", "hunter2")) == BOB


def test_a_target_named_by_its_url_is_named_without_the_password() -> None:
    target = Target.from_base_url("http://bob:hunter2@127.0.0.1:8800/")
    assert target.name == "http://127.0.0.1:8800"
    assert target.hosts == {"127.0.0.1"}


def test_the_api_client_sends_basic_auth_and_never_the_userinfo() -> None:
    transport = FakeTransport(ok)
    client = ApiClient("http://bob:hunter2@127.0.0.1:8800/api/v1", transport)
    client.get("/products")
    client.bearer("t0k3n")
    client.get("/orders")
    client.bearer(None)  # signing out puts the target's own credentials back
    client.get("/products")
    urls = [r.url for r in transport.requests]
    assert urls[0] == "http://127.0.0.1:8800/api/v1/products"
    assert all("hunter2" not in url and "bob" not in url for url in urls)
    auth = [r.headers.get("authorization") for r in transport.requests]
    assert auth == [BOB, "Bearer t0k3n", BOB]


def test_the_target_credentials_do_not_go_to_another_origin() -> None:
    transport = FakeTransport(ok)
    client = ApiClient("http://bob:hunter2@127.0.0.1:8800/api/v1", transport)
    client.get("http://127.0.0.1:9900/elsewhere")
    client.get("http://127.0.0.1:8800/api/v1/same")
    auth = [r.headers.get("authorization") for r in transport.requests]
    assert auth == [None, BOB]


def test_the_mobile_client_keeps_basic_auth_across_devices() -> None:
    class Device:
        device_id = "d-1"
        model = "Pixel"
        os = "Android"
        os_version = "15"
        app_version = "4.2.0"

    transport = FakeTransport(ok)
    client = MobileClient("http://bob:hunter2@127.0.0.1:8800/mobile/v2", transport, device=Device())
    client.get("/ping")
    client.renew(None, None)
    client.get("/ping")
    assert [r.headers.get("authorization") for r in transport.requests] == [BOB, BOB]
