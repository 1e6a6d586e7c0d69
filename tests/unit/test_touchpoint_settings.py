"""Per-touchpoint HTTP settings on top of the target's (`[targets.NAME.http.api|mobile|web]`):
what each touchpoint sends and how it connects, its own transport when it connects otherwise,
what `harness smoke` prints, and what the config refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError, UsageError
from harness.http import transport as http_transport
from harness.http.transport import HttpRequest, HttpSettings, RawResponse, settings_for
from harness.journey import journey, journeys_in
from harness.runtime import RunSettings
from harness.target_http import AppIdentity, TargetHttp, TouchpointHttp, WebHttp, check, describe
from harness.targets import Target
from harness.testing import FakeTransport, RecordingSink
from harness.virtual_user import VirtualUser

SETTINGS = TargetHttp(
    proxy="http://proxy.test:3128",
    ca="/certs/target-ca.pem",
    headers={"X-Team": "checkout", "X-Env": "staging"},
    auth=("ci", "pw"),
    user_agent="acme-ci/1",
    web=WebHttp(headers={"X-Env": "web"}),
    api=TouchpointHttp(headers={"x-env": "api"}),
    mobile=TouchpointHttp(
        proxy="",
        ca="/certs/mobile-ca.pem",
        client_cert="/certs/app.pem",
        app=AppIdentity(name="Acme", version="5.1", platform="iOS"),
    ),
)


def target(http: TargetHttp = SETTINGS) -> Target:
    return Target.from_base_url("https://shop.test", name="stg").model_copy(update={"http": http})


def test_a_touchpoint_adds_its_headers_and_replaces_what_it_sets() -> None:
    api = SETTINGS.touchpoint("api")
    assert api.headers == {"X-Team": "checkout", "x-env": "api"}  # one X-Env, the api's
    assert (api.auth, api.user_agent, api.ca, api.proxy) == (
        ("ci", "pw"),
        "acme-ci/1",
        "/certs/target-ca.pem",
        "http://proxy.test:3128",
    )
    mobile = SETTINGS.touchpoint("mobile")
    assert (mobile.ca, mobile.proxy, mobile.client_cert) == (
        "/certs/mobile-ca.pem",
        "",
        "/certs/app.pem",
    )
    assert mobile.user_agent is None  # the app's identity makes the mobile user agent
    assert SETTINGS.web_headers() == {
        "X-Team": "checkout",
        "X-Env": "web",
        "User-Agent": "acme-ci/1",
    }


def test_each_touchpoint_connects_with_its_own_settings() -> None:
    assert settings_for(target(), "api") == HttpSettings(
        proxies={"http": "http://proxy.test:3128", "https": "http://proxy.test:3128"},
        verify="/certs/target-ca.pem",
    )
    assert settings_for(target(), "mobile") == HttpSettings(
        proxies={}, verify="/certs/mobile-ca.pem", client_cert=("/certs/app.pem", None)
    )
    assert settings_for(target(), "api") == settings_for(target())  # nothing of its own


def test_a_virtual_user_opens_a_transport_per_distinct_connection_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[tuple[HttpSettings | None, FakeTransport]] = []
    seen: list[HttpRequest] = []

    def open_transport(settings: HttpSettings | None = None) -> FakeTransport:
        def answer(request: HttpRequest) -> RawResponse:
            seen.append(request)
            return RawResponse(200, {}, b"{}")

        made = FakeTransport(answer)
        made.settings = settings  # type: ignore[attr-defined]
        opened.append((settings, made))
        return made

    monkeypatch.setattr(http_transport, "open_transport", open_transport)

    @journey
    def both(j):  # type: ignore[no-untyped-def]
        with j.step("api", on="api"):
            j.api.get("/me")
        with j.step("mobile", on="mobile"):
            j.mobile.get("/me")

    def run(http: TargetHttp) -> list[HttpRequest]:
        seen.clear()
        settings = RunSettings(run_id="r", target=target(http), artifacts_dir=Path("."))
        user = VirtualUser(
            index=0,
            settings=settings,
            sink=RecordingSink(),
            browser=lambda: None,  # type: ignore[arg-type,return-value]
        )
        (spec,) = journeys_in({"both": both})
        record = user.run_iteration(spec, 0)
        assert record.outcome.value == "passed", record.message
        user.close()
        assert all(t.closed for _, t in opened)
        return list(seen)

    api, mobile = run(SETTINGS)
    assert [s for s, _ in opened] == [
        settings_for(target(), "api"),
        settings_for(target(), "mobile"),
    ]
    assert api.headers["x-env"] == "api" and api.headers["x-team"] == "checkout"
    assert api.headers["user-agent"] == "acme-ci/1"
    assert api.headers["authorization"] == "Basic Y2k6cHc="
    assert mobile.headers["x-env"] == "staging" and mobile.headers["x-team"] == "checkout"
    assert mobile.headers["user-agent"].startswith("Acme/5.1 (iOS ")
    opened.clear()
    run(TargetHttp(ca="/certs/ca.pem"))  # the same settings for both: one transport
    assert len(opened) == 1


def test_smoke_prints_the_target_and_each_touchpoints_settings() -> None:
    assert describe(SETTINGS) == [
        "proxy http://proxy.test:3128",
        "CA /certs/target-ca.pem",
        "header X-Team",
        "header X-Env",
        "basic auth as ci",
        "user agent 'acme-ci/1'",
        "web: header X-Env",
        "api: header x-env",
        "mobile: proxy none, CA /certs/mobile-ca.pem, client certificate /certs/app.pem, "
        "app Acme 5.1 (iOS)",
    ]


def test_a_missing_variable_is_named_where_it_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_TOKEN", raising=False)
    for http, key in (
        (TargetHttp(headers={"X-Token": "${NOT_SET_TOKEN}"}), "targets.t.http.headers.X-Token"),
        (TargetHttp(web=WebHttp(user_agent="${NOT_SET_TOKEN}")), "targets.t.http.web.user_agent"),
        (TargetHttp(mobile=TouchpointHttp(ca="${NOT_SET_TOKEN}")), "targets.t.http.mobile.ca"),
    ):
        with pytest.raises(UsageError, match=key.replace(".", r"\.")):
            check(http, "t")


def test_a_drill_keeps_what_passes_through_and_drops_how_to_connect() -> None:
    behind = SETTINGS.reached_directly()
    assert (behind.proxy, behind.ca, behind.mobile.ca, behind.mobile.client_cert) == (
        "",
        None,
        None,
        None,
    )
    assert behind.mobile.proxy is None and behind.mobile.app == SETTINGS.mobile.app
    assert behind.headers == SETTINGS.headers and behind.api.headers == SETTINGS.api.headers
    assert settings_for(target(behind), "mobile") == HttpSettings(proxies={})


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[targets.x.http.web]\nca = "c.pem"\n',
            r"`targets.x.http.web.ca`.*Allowed keys here: headers, user_agent",
        ),
        (
            '[targets.x.http.api]\napp = { name = "A", version = "1" }\n',
            r"mobile touchpoint's identity",
        ),
        ('[targets.x.http.mobile]\nclient_crt = "c.pem"\n', r"did you mean `client_cert`"),
    ],
)
def test_the_config_refuses_settings_a_touchpoint_cannot_take(
    tmp_path: Path, toml: str, expected: str
) -> None:
    from harness.config import load_config

    (tmp_path / "harness.toml").write_text('[targets.x]\nurl = "http://127.0.0.1:9"\n' + toml)
    with pytest.raises(ConfigError, match=expected):
        load_config(tmp_path / "harness.toml")


def test_the_browser_context_gets_the_web_headers_with_variables_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CANARY_TOKEN", "c4n4ry")
    given: dict[str, object] = {}

    class Session:
        trace_parent = None
        closed = False

        def close(self) -> None:
            """Nothing to close."""

        def drain_requests(self) -> list[object]:
            return []

        def step_vitals(self, step: object) -> tuple[None, None]:
            """No Web Vitals from a fake page."""
            return None, None

    class Browser:
        def new_session(self, **options: object) -> Session:
            given.update(options)
            return Session()

    http = SETTINGS.model_copy(update={"web": WebHttp(headers={"X-Canary": "${CANARY_TOKEN}"})})

    @journey
    def browse(j):  # type: ignore[no-untyped-def]
        with j.step("home", on="web"):
            j.web  # noqa: B018 - opens the browser context

    settings = RunSettings(run_id="r", target=target(http), artifacts_dir=Path("."))
    user = VirtualUser(index=0, settings=settings, sink=RecordingSink(), browser=Browser)  # type: ignore[arg-type]
    (spec,) = journeys_in({"browse": browse})
    record = user.run_iteration(spec, 0)
    assert record.outcome.value == "passed", record.message
    assert given["extra_headers"] == {
        "X-Team": "checkout",
        "X-Env": "staging",
        "X-Canary": "c4n4ry",
        "User-Agent": "acme-ci/1",
    }
