"""One HTTP stack: journeys, seeding, rollout hooks and the reachability check all send through
the transport `harness.http.transport.open_transport` makes (faked here), with its timeouts
and its error classes; and nothing else in the product opens an HTTP connection of its own."""

from __future__ import annotations

import ast
import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.errors import ConnectionFailed, StepTimeout, TargetUnavailable
from harness.http import transport as http_transport
from harness.http.transport import HttpRequest, HttpSettings, RawResponse
from harness.rollout.hooks import call_hook, first_effect
from harness.run.targets import check_reachable
from harness.target_http import TargetHttp, TouchpointHttp
from harness.targets import Target
from harness.testing import FakeTransport, RecordingSink, json_response
from synth.seed_manifest import read_manifest
from synth.seeding import cleanup_manifest, seed_target

Handler = Callable[[HttpRequest], RawResponse]


class Opened:
    """Every transport `open_transport` made, with the settings it was given."""

    def __init__(self) -> None:
        self.handler: Handler = lambda request: json_response(200, {})
        self.transports: list[FakeTransport] = []
        self.settings: list[HttpSettings | None] = []

    def __call__(self, settings: HttpSettings | None = None) -> FakeTransport:
        made = FakeTransport(lambda request: self.handler(request))
        self.transports.append(made)
        self.settings.append(settings)
        return made

    @property
    def requests(self) -> list[HttpRequest]:
        return [r for t in self.transports for r in t.requests]


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[Opened]:
    fake = Opened()
    monkeypatch.setattr(http_transport, "open_transport", fake)
    yield fake


def test_a_webhook_goes_through_the_shared_transport_with_its_deadline(opened: Opened) -> None:
    opened.handler = lambda request: RawResponse(202, {}, b"noted")
    call = call_hook("on_stage", "http://hooks.test/rollout?team=a", {"stage": 1}, timeout_s=3)
    (request,) = opened.requests
    assert (request.method, request.url, request.timeout) == (
        "POST",
        "http://hooks.test/rollout?team=a",
        3,
    )
    assert json.loads(request.body or b"") == {"stage": 1}
    assert call.ok and call.detail == "HTTP 202 noted"
    assert all(t.closed for t in opened.transports)


def test_a_webhook_reports_the_transports_errors(opened: Opened) -> None:
    def slow(request: HttpRequest) -> RawResponse:
        raise StepTimeout("POST /hook timed out after 1 s")

    opened.handler = slow
    late = call_hook("on_stage", "https://hooks.test/hook", {}, timeout_s=1)
    assert not late.ok and late.detail == "timed out after 1 s"

    def refused(request: HttpRequest) -> RawResponse:
        raise ConnectionFailed(f"POST {request.url} could not connect: Connection refused")

    opened.handler = refused
    gone = call_hook("on_stage", "http://hooks.test/hook", {})
    assert not gone.ok and "could not reach" in gone.detail and "refused" in gone.detail


def test_a_webhook_url_with_credentials_sends_basic_auth_not_the_password(
    opened: Opened,
) -> None:
    call_hook("on_stage", "http://ops:s3cret@hooks.test/hook", {})
    (request,) = opened.requests
    assert request.url == "http://hooks.test/hook"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"ops:s3cret").decode()


def test_first_effect_reads_the_candidates_health_through_the_transport(opened: Opened) -> None:
    opened.handler = lambda request: json_response(
        200, {"regressions": [{"first_effect_at": 12.5}, {"first_effect_at": 10.0}, {}]}
    )
    assert first_effect(Target.from_base_url("http://candidate.test")) == 10.0
    (request,) = opened.requests
    assert (request.method, request.url) == ("GET", "http://candidate.test/api/v1/health")

    def down(request: HttpRequest) -> RawResponse:
        raise ConnectionFailed("refused")

    opened.handler = down
    assert first_effect(Target.from_base_url("http://candidate.test")) is None


def test_the_reachability_check_goes_through_the_transport(opened: Opened) -> None:
    opened.handler = lambda request: RawResponse(302, {"location": "http://elsewhere/"}, b"")
    check_reachable(Target.from_base_url("http://bob:pw@shop.test"), timeout=4.0)
    (request,) = opened.requests
    assert (request.method, request.url, request.timeout) == ("GET", "http://shop.test/", 4.0)
    assert request.headers["authorization"].startswith("Basic ")

    def refused(request: HttpRequest) -> RawResponse:
        raise ConnectionFailed(f"GET {request.url} could not connect: Connection refused")

    opened.handler = refused
    with pytest.raises(TargetUnavailable, match=r"did not answer.*Connection refused"):
        check_reachable(Target.from_base_url("http://shop.test"))


def test_seeding_and_cleanup_go_through_the_transport(opened: Opened, tmp_path: Path) -> None:
    users: dict[str, int] = {}

    def api(request: HttpRequest) -> RawResponse:
        body = json.loads(request.body) if request.body else {}
        if request.url.endswith("/users") and request.method == "POST":
            users[body["email"]] = len(users) + 1
            return json_response(201, {"id": users[body["email"]]})
        if request.url.endswith("/tokens"):
            return json_response(201, {"token": "t", "user_id": users[body["email"]]})
        return RawResponse(204, {}, b"")

    opened.handler = api
    manifest = tmp_path / "m.jsonl"
    seeded = seed_target(Target.from_base_url("http://shop.test"), 2, manifest=manifest, timeout=7)
    assert seeded.created == 2
    assert [(r.method, r.url, r.timeout) for r in opened.requests] == [
        ("POST", "http://shop.test/api/v1/users", 7),
        ("POST", "http://shop.test/api/v1/users", 7),
    ]
    assert len(opened.transports) == 1 and opened.transports[0].closed  # one, kept alive
    cleaned = cleanup_manifest(read_manifest(manifest))
    assert cleaned.removed == 2
    assert [r.method for r in opened.requests[2:]] == ["POST", "DELETE", "POST", "DELETE"]


def test_seeding_errors_say_which_request_failed(opened: Opened, tmp_path: Path) -> None:
    def slow(request: HttpRequest) -> RawResponse:
        raise StepTimeout("POST /api/v1/users timed out after 2 s")

    opened.handler = slow
    target = Target.from_base_url("http://shop.test")
    with pytest.raises(TargetUnavailable, match=r"POST http://shop.test/api/v1/users: no answer"):
        seed_target(target, 1, manifest=tmp_path / "m.jsonl", timeout=2)

    def refused(request: HttpRequest) -> RawResponse:
        raise ConnectionFailed(f"POST {request.url} could not connect: Connection refused")

    opened.handler = refused
    with pytest.raises(TargetUnavailable, match=r"POST http://shop.test/api/v1/users could not"):
        seed_target(target, 1, manifest=tmp_path / "m.jsonl")


def test_a_virtual_users_journeys_use_the_shared_transport(opened: Opened) -> None:
    from harness.runtime import RunSettings
    from harness.virtual_user import VirtualUser

    settings = RunSettings("r", Target.from_base_url("http://shop.test"), Path("."))
    user = VirtualUser(0, settings, RecordingSink(), browser=lambda: None)  # type: ignore[arg-type,return-value]
    assert user.transport() is opened.transports[0] and user.transport() is user.transport()


#: modules that may speak HTTP or open sockets themselves: the one stack, the servers (the
#: sandbox, the drill proxy), and a free-port probe
_OWN_SOCKETS = ("harness/http/", "harness/sandbox/", "harness/faults/", "harness/engine/network.py")
_OTHER_STACKS = {"http.client", "urllib.request", "socket", "ssl", "requests", "httpx", "urllib3"}


def test_no_other_http_stack_in_the_product() -> None:
    found = []
    for path in sorted([*Path("harness").rglob("*.py"), *Path("synth").rglob("*.py")]):
        if str(path).startswith(_OWN_SOCKETS):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            found += [f"{path}:{node.lineno} {n}" for n in names if n in _OTHER_STACKS]
    assert not found, f"use harness.http instead: {found}"


def test_a_webhook_on_a_targets_origin_gets_that_targets_settings(
    opened: Opened, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The candidate's own flag endpoint is reached as the candidate is (its proxy, CA and
    client certificate, its API headers and basic auth); any other hook with the environment's."""
    monkeypatch.setenv("FLAGS_TOKEN", "tok-1")
    candidate = Target.from_base_url("https://cand.test:8443", name="cand").model_copy(
        update={
            "http": TargetHttp(
                proxy="http://proxy.test:3128",
                ca="/certs/ca.pem",
                client_cert="/certs/client.pem",
                api=TouchpointHttp(headers={"X-Token": "${FLAGS_TOKEN}"}, auth=("ops", "pw")),
            )
        }
    )
    baseline = Target.from_base_url("http://base.test", name="base")
    targets = (candidate, baseline)
    call_hook("on_stage", "https://cand.test:8443/flags/rollout", {}, targets=targets)
    call_hook("on_stage", "https://hooks.test/rollout", {}, targets=targets)
    call_hook("on_stage", "https://cand.test/flags", {}, targets=targets)  # another port
    on_target, elsewhere, other_port = opened.settings
    assert on_target is not None
    assert on_target.proxies == {
        "http": "http://proxy.test:3128",
        "https": "http://proxy.test:3128",
    }
    assert on_target.verify == "/certs/ca.pem"
    assert on_target.client_cert == ("/certs/client.pem", None)
    assert elsewhere == other_port == HttpSettings()
    first = opened.requests[0]
    assert first.headers["x-token"] == "tok-1"
    assert first.headers["authorization"] == "Basic " + base64.b64encode(b"ops:pw").decode()
    assert first.headers["content-type"] == "application/json"
    assert "x-token" not in opened.requests[1].headers


def test_seeding_sends_the_targets_api_settings(opened: Opened, tmp_path: Path) -> None:
    """Seeding reaches the API as `j.api` does: the api touchpoint's connection settings, and
    the target's and the touchpoint's headers and basic auth on every request."""
    opened.handler = lambda request: json_response(201, {"id": 1})
    http = TargetHttp(
        headers={"X-Team": "checkout"},
        api=TouchpointHttp(headers={"X-Api-Key": "k1"}, auth=("ci", "pw"), ca="/certs/api.pem"),
    )
    target = Target.from_base_url("http://shop.test").model_copy(update={"http": http})
    seed_target(target, 1, manifest=tmp_path / "m.jsonl", timeout=2)
    (request,) = opened.requests
    assert request.headers["x-team"] == "checkout" and request.headers["x-api-key"] == "k1"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"ci:pw").decode()
    assert opened.settings == [HttpSettings(verify="/certs/api.pem")]
