"""Regression spec parsing and route matching of the sandbox (no server involved)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import harness.sandbox
from harness.errors import SpecError, UsageError
from harness.sandbox.contract import ContractMode, ContractRule
from harness.sandbox.pages import TESTIDS
from harness.sandbox.regressions import RegressionKind, parse_regression, parse_regressions
from harness.shop_routes import ROUTE_NAMES, ROUTES, match_routes, route_by_name


def test_public_api_is_pinned() -> None:
    assert harness.sandbox.__all__ == sorted(harness.sandbox.__all__)
    assert harness.sandbox.__all__ == [
        "ROUTES",
        "ROUTE_NAMES",
        "Regression",
        "RegressionKind",
        "RouteInfo",
        "SandboxProcess",
        "SandboxUrls",
        "match_routes",
        "parse_regression",
        "parse_regressions",
    ]


def test_importing_the_package_does_not_load_the_web_stack() -> None:
    code = (
        "import sys, harness.sandbox, harness.sandbox.process\n"
        "print(','.join(m for m in sys.modules if m.split('.')[0] in "
        "('starlette', 'uvicorn', 'uvloop', 'httptools', 'pydantic')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_route_names_are_unique_and_every_surface_is_present() -> None:
    assert len(ROUTE_NAMES) == len(set(ROUTE_NAMES))
    assert {name.split(".")[0] for name in ROUTE_NAMES} == {"web", "api", "mobile"}
    assert route_by_name("api.orders.create").path == "/api/v1/orders"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("api.orders.create", ("api.orders.create",)),
        ("*.orders.create", ("api.orders.create", "mobile.orders.create")),
        ("/api/v1/orders", ("api.orders.create", "api.orders.list")),
        (
            "/mobile/v2/orders*",
            ("mobile.orders.create", "mobile.orders.list", "mobile.orders.reorder"),
        ),
        ("nothing.here", ()),
        ("/api/v1/order", ()),
    ],
)
def test_match_routes(pattern: str, expected: tuple[str, ...]) -> None:
    assert match_routes(pattern) == expected


def test_web_glob_matches_exactly_the_web_routes() -> None:
    assert match_routes("web.*") == tuple(r.name for r in ROUTES if r.surface == "web")
    assert len(match_routes("web.*")) == 8


def test_latency_spec() -> None:
    reg = parse_regression("latency:api.orders.create=+200ms")
    assert reg.kind is RegressionKind.LATENCY
    assert reg.routes == ("api.orders.create",)
    assert reg.delay == pytest.approx(0.2)
    assert reg.share == 1.0


def test_latency_spec_in_seconds_with_a_tail_share() -> None:
    reg = parse_regression(" latency:web.*=+1.5s@10% ")
    assert reg.delay == pytest.approx(1.5)
    assert reg.share == pytest.approx(0.10)
    assert reg.spec == "latency:web.*=+1.5s@10%"
    assert len(reg.routes) == 8


def test_errors_spec() -> None:
    reg = parse_regression("errors:/api/v1/orders=5%")
    assert reg.kind is RegressionKind.ERRORS
    assert reg.routes == ("api.orders.create", "api.orders.list")
    assert reg.share == pytest.approx(0.05)


def test_contract_spec() -> None:
    reg = parse_regression("contract:order.total=string")
    assert reg.contract == ContractRule("order", "total", ContractMode.STRING)
    assert parse_regression("contract:order.status=missing").contract == ContractRule(
        "order", "status", ContractMode.MISSING
    )


def test_render_spec_and_its_page() -> None:
    from starlette.responses import HTMLResponse

    from harness.sandbox.profile import ReleaseProfile
    from harness.sandbox.web import delay_rendering

    reg = parse_regression("render:web.product=+400ms")
    assert (reg.kind, reg.routes, reg.delay) == (RegressionKind.RENDER, ("web.product",), 0.4)
    profile = ReleaseProfile("candidate", (reg,))
    assert profile.render_delays == {"web.product": ("render:web.product=+400ms", 0.4)}
    page = HTMLResponse("<html><head></head><body><main>x</main></body></html>")
    delay_rendering(page, 0.4)
    body = bytes(page.body).decode()
    assert "<style>main{visibility:hidden}</style></head>" in body
    assert "visibility='visible'},400)</script></body>" in body
    assert page.headers["content-length"] == str(len(page.body))
    with pytest.raises(SpecError, match="invalid render delay '0s'"):
        parse_regression("render:web.product=0s")


def test_ui_and_funnel_specs() -> None:
    assert parse_regression("ui:place-order").target == "place-order"
    funnel = parse_regression("funnel:checkout=20%")
    assert funnel.kind is RegressionKind.FUNNEL
    assert funnel.share == pytest.approx(0.2)
    assert set(funnel.routes) == {"web.checkout", "api.orders.create", "mobile.orders.create"}
    assert all(route_by_name(n).funnel_step == "checkout" for n in funnel.routes)


def test_every_funnel_step_has_a_route_on_every_surface() -> None:
    for step in ("signup", "cart", "checkout"):
        routes = parse_regression(f"funnel:{step}=100%").routes
        assert {name.split(".")[0] for name in routes} == {"web", "api", "mobile"}, step


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("latency", ["has no kind", "latency, errors, contract, ui, funnel", "Example:"]),
        ("render:web.product", ["incomplete", "render:ROUTE=+DURATION"]),
        ("slow:api.health=+1s", ["unknown kind 'slow'", "allowed kinds"]),
        ("latncy:api.health=+1s", ["did you mean 'latency'"]),
        ("latency:api.health", ["incomplete", "latency:ROUTE=+DURATION[@SHARE%]"]),
        (
            "latency:api.order.create=+200ms",
            ["matches no route", "did you mean 'api.orders.create'", "mobile.orders.reorder"],
        ),
        ("latency:api.health=+200", ["invalid delay '+200'", "ms or s"]),
        ("latency:api.health=+0ms", ["more than 0"]),
        ("latency:api.health=+61s", ["at most 60s"]),
        ("latency:api.health=+1s@150%", ["invalid share '150%'", "0% to 100%"]),
        ("errors:api.health=5", ["invalid share '5'", "errors:*.orders.create=5%"]),
        (
            "contract:order.totl=string",
            ["unknown field 'order.totl'", "did you mean 'order.total'"],
        ),
        ("contract:order.total=text", ["unknown mode 'text'", "string", "missing", "null"]),
        ("contract:order.status=string", ["not a number", "use missing or null"]),
        ("ui:place-ordr", ["unknown data-testid", "did you mean 'place-order'"]),
        ("funnel:pay=20%", ["unknown funnel step 'pay'", "signup, cart, checkout"]),
        ("funnel:checkout=lots", ["invalid share 'lots'", "funnel:checkout=20%"]),
    ],
)
def test_bad_specs_say_what_is_wrong_and_show_an_example(spec: str, fragments: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        parse_regression(spec)
    message = str(info.value)
    assert spec.strip() in message or repr(spec) in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "Example:" in message
    assert "\n" not in message  # one paragraph
    assert isinstance(info.value, UsageError)  # exit code 2 at the CLI edge


def test_parse_regressions_stops_at_the_first_bad_spec() -> None:
    assert len(parse_regressions(["ui:place-order", "errors:web.*=1%"])) == 2
    with pytest.raises(SpecError, match="nope"):
        parse_regressions(["ui:place-order", "nope"])


def test_testids_named_in_the_brief_are_known() -> None:
    required = {
        "product-link",
        "cart-count",
        "login-link",
        "signup-link",
        "user-name",
        "product-name",
        "product-price",
        "quantity",
        "add-to-cart",
        "cart-notice",
        "signup-submit",
        "form-error",
        "login-submit",
        "cart-item",
        "cart-total",
        "go-checkout",
        "place-order",
        "checkout-error",
        "order-id",
        "order-status",
        "order-total",
        "order-item",
        "step-unavailable",
    }
    assert required <= TESTIDS


@pytest.mark.parametrize("delay", ["+200ms", "+1.5s", "+1s500ms", "+0.5m"])
@pytest.mark.parametrize("share", ["0.5%", "10%", "100%"])
def test_regressions_and_faults_read_one_grammar_of_delays_and_shares(
    delay: str, share: str
) -> None:
    """A regression's delay had a grammar of its own (`ms` or `s` only): `+1s500ms` and
    `+0.5m` were refused there and accepted in a fault. One grammar now (harness.durations,
    harness.shares), each with its own bounds."""
    from harness.durations import seconds
    from harness.faults.spec import parse_fault
    from harness.shares import percent

    regression = parse_regression(f"latency:api.orders.create={delay}@{share}")
    fault = parse_fault(f"latency:api.orders.create={delay}@{share}")
    assert regression.delay == fault.delay_s == seconds(delay.lstrip("+"))
    assert regression.share == fault.share == percent(share)


@pytest.mark.parametrize("bad", ["latency:api.health=+30", "errors:api.health=101%"])
def test_a_delay_names_its_unit_and_a_share_is_at_most_100_percent(bad: str) -> None:
    from harness.faults.spec import parse_fault

    with pytest.raises(SpecError):
        parse_regression(bad)
    with pytest.raises(SpecError):
        parse_fault(bad.replace("api.health", "api"))


def test_a_regression_with_a_window_acts_only_inside_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.sandbox import profile as profile_module
    from harness.sandbox.profile import ReleaseProfile

    spec = "errors:api.products.list=100%,after=4s,for=6s"
    regression = parse_regression(spec)
    assert (regression.share, regression.after_s, regression.for_s) == (1.0, 4.0, 6.0)
    assert [regression.active(t) for t in (0.0, 3.9, 4.0, 9.9, 10.0)] == [
        False,
        False,
        True,
        True,
        False,
    ]
    assert parse_regression("latency:web.*=+300ms@10%,after=2s").for_s is None
    clock = [100.0]
    monkeypatch.setattr(profile_module.time, "monotonic", lambda: clock[0])
    shop = ReleaseProfile("candidate", (regression, parse_regression("errors:api.cart.get=100%")))
    listing, cart = shop.route("api.products.list"), shop.route("api.cart.get")
    fails = []
    for clock[0] in (101.0, 105.0, 111.0):
        fails.append((shop.inject_error(listing), shop.inject_error(cart)))
    assert fails == [(False, True), (True, True), (False, True)]  # the unwindowed one always


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("ui:place-order,after=2s", "only latency, errors, contention, cpu specs take a window"),
        ("errors:api.products.list=5%,after=soon", "invalid after='soon'"),
        ("errors:api.products.list=5%,for=0s", "invalid for='0s'"),
    ],
)
def test_a_bad_window_is_a_spec_error(spec: str, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        parse_regression(spec)
