"""The real sandbox on a free loopback port: every surface, cross-surface state, each regression."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from harness.sandbox.process import SandboxProcess

pytestmark = pytest.mark.integration

CARD = {"number": "4111 1111 1111 1111", "expiry": "12/39", "cvc": "123"}
DEVICE = {"X-Device-Id": "device-a", "X-App-Version": "3.2.1"}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Client:
    """A stdlib HTTP client for one sandbox; `headers` are sent with every request."""

    base: str
    headers: dict[str, str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        url = urlsplit(self.base)
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=20)
        sent = {**self.headers, **(headers or {})}
        data: bytes | None = None
        if form is not None:
            data = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            return Reply(
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()

    def with_headers(self, **extra: str) -> Client:
        return Client(self.base, {**self.headers, **extra})


def new_email() -> str:
    return f"p-{uuid.uuid4().hex[:12]}@example.com"


def sign_up(client: Client, email: str | None = None) -> tuple[Client, int, str]:
    """A new API user: a client sending their bearer token, their id and email."""
    email = email or new_email()
    created = client.call(
        "POST", "/api/v1/users", {"email": email, "password": "secret123", "name": "Pat"}
    )
    assert created.status == 201, created.text
    token = client.call("POST", "/api/v1/tokens", {"email": email, "password": "secret123"})
    assert token.status == 201, token.text
    body = token.json()
    return client.with_headers(Authorization=f"Bearer {body['token']}"), body["user_id"], email


@pytest.fixture(scope="module")
def shop() -> Iterator[Client]:
    with SandboxProcess("candidate") as process:
        yield Client(process.urls.base)


@pytest.fixture
def regressed(request: pytest.FixtureRequest) -> Iterator[Client]:
    """A sandbox with the regression specs given by indirect parametrisation."""
    with SandboxProcess("candidate", request.param) as process:
        yield Client(process.urls.base)


# baseline behaviour ------------------------------------------------------------------------


def test_every_surface_answers_with_the_release_header(shop: Client) -> None:
    health = shop.call("GET", "/api/v1/health")
    assert health.status == 200 and health.json() == {"status": "ok", "release": "candidate"}
    for reply in (
        health,
        shop.call("GET", "/"),
        shop.call("GET", "/mobile/v2/catalog", headers=DEVICE),
        shop.call("GET", "/api/v1/missing"),
        shop.call("GET", "/no/such/page"),
    ):
        assert reply.headers["x-release"] == "candidate"
    assert shop.call("GET", "/api/v1/missing").json() == {"error": "not_found"}
    assert 'data-testid="not-found"' in shop.call("GET", "/no/such/page").text


def test_openapi_document_describes_the_api(shop: Client) -> None:
    doc = shop.call("GET", "/api/v1/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    assert {"get", "post"} <= set(doc["paths"]["/orders"])
    assert doc["paths"]["/orders"]["post"]["responses"]["402"]
    assert "Order" in doc["components"]["schemas"]


def test_catalog_and_products(shop: Client) -> None:
    page = shop.call("GET", "/api/v1/products?limit=5&offset=20").json()
    assert page["total"] == 24 and [p["id"] for p in page["items"]] == [21, 22, 23, 24]
    product = shop.call("GET", "/api/v1/products/3").json()
    assert set(product) == {"id", "sku", "name", "category", "price", "currency", "stock"}
    assert product["currency"] == "EUR" and isinstance(product["price"], float)
    assert shop.call("GET", "/api/v1/products?q=tea").json()["total"] == 4
    assert shop.call("GET", "/api/v1/products/999").status == 404
    bad = shop.call("GET", "/api/v1/products?limit=0")
    assert bad.status == 422 and bad.json()["error"] == "invalid"


def test_api_signup_token_cart_order_and_order_list(shop: Client) -> None:
    user, user_id, email = sign_up(shop)
    dup = shop.call("POST", "/api/v1/users", {"email": email, "password": "x" * 9, "name": "X"})
    assert dup.status == 409 and dup.json() == {"error": "email_taken"}
    assert user.call("POST", "/api/v1/orders", {"card": CARD}).json() == {"error": "empty_cart"}
    cart = user.call("POST", "/api/v1/cart/items", {"product_id": 3, "quantity": 2})
    assert cart.status == 201
    assert cart.json()["items"][0]["quantity"] == 2 and cart.json()["total"] == 15.8
    assert user.call("POST", "/api/v1/cart/items", {"product_id": 99}).status == 404
    declined = user.call("POST", "/api/v1/orders", {"card": {**CARD, "number": "4111111111111112"}})
    assert declined.status == 402 and declined.json() == {"error": "card_declined"}
    expired = user.call("POST", "/api/v1/orders", {"card": {**CARD, "expiry": "01/20"}})
    assert expired.status == 402
    placed = user.call("POST", "/api/v1/orders", {"card": CARD})
    assert placed.status == 201, placed.text
    order = placed.json()
    assert order["status"] == "paid" and order["channel"] == "api" and order["user_id"] == user_id
    assert order["total"] == 15.8 and order["created_at"].endswith("Z")
    assert user.call("GET", "/api/v1/cart").json()["items"] == []
    assert user.call("GET", "/api/v1/orders").json()["items"] == [order]
    assert user.call("GET", f"/api/v1/orders/{order['id']}").json() == order
    other, _, _ = sign_up(shop)
    assert other.call("GET", f"/api/v1/orders/{order['id']}").status == 404
    assert user.call("DELETE", f"/api/v1/users/{user_id}").status == 204
    assert user.call("GET", "/api/v1/cart").status == 401


def test_api_rejects_bad_input_and_auth(shop: Client) -> None:
    missing = shop.call("POST", "/api/v1/users", {"email": new_email(), "name": "No Password"})
    assert missing.status == 422 and "password" in missing.json()["detail"]
    bad_login = shop.call("POST", "/api/v1/tokens", {"email": new_email(), "password": "nope"})
    assert bad_login.status == 401 and bad_login.json() == {"error": "bad_credentials"}
    assert shop.call("GET", "/api/v1/cart").json() == {"error": "unauthorized"}
    forged = shop.with_headers(Authorization="Bearer forged")
    assert forged.call("GET", "/api/v1/orders").status == 401


def test_mobile_headers_session_binding_and_orders(shop: Client) -> None:
    assert shop.call("GET", "/mobile/v2/catalog").json() == {"error": "device_id_required"}
    old = shop.call("GET", "/mobile/v2/catalog", headers={**DEVICE, "X-App-Version": "2.9.0"})
    assert old.status == 426
    assert old.json() == {"error": "upgrade_required", "min_version": "3.0.0"}
    app = shop.with_headers(**DEVICE)
    email = new_email()
    signup = app.call(
        "POST", "/mobile/v2/users", {"email": email, "password": "pw123456", "name": "M"}
    )
    assert signup.status == 201 and set(signup.json()) == {"uid"}
    session = app.call("POST", "/mobile/v2/session", {"email": email, "password": "pw123456"})
    assert session.status == 201 and session.json()["uid"] == signup.json()["uid"]
    me = app.with_headers(Authorization=f"Bearer {session.json()['token']}")
    elsewhere = me.with_headers(**{"X-Device-Id": "device-b"})
    assert elsewhere.call("GET", "/mobile/v2/cart").json() == {"error": "unauthorized"}
    catalog = me.call("GET", "/mobile/v2/catalog?page=2&size=20").json()
    assert catalog["p"] == 2 and catalog["more"] is False and len(catalog["items"]) == 4
    assert set(catalog["items"][0]) == {"id", "n", "p"} and isinstance(
        catalog["items"][0]["p"], int
    )
    cart = me.call("POST", "/mobile/v2/cart", {"id": 1, "q": 2})
    assert cart.status == 201 and cart.json() == {
        "items": [{"id": 1, "q": 2, "p": 2490}],
        "t": 4980,
    }
    order = me.call("POST", "/mobile/v2/orders", {"card": CARD})
    assert order.status == 201 and order.json()["t"] == 4980 and order.json()["s"] == "paid"
    listed = me.call("GET", "/mobile/v2/orders").json()
    assert listed["more"] is False and listed["items"][0]["id"] == order.json()["id"]
    again = me.call("POST", f"/mobile/v2/orders/{order.json()['id']}/reorder")
    assert again.status == 201 and again.json()["t"] == 4980
    api_token = shop.call("POST", "/api/v1/tokens", {"email": email, "password": "pw123456"})
    api = shop.with_headers(Authorization=f"Bearer {api_token.json()['token']}")
    seen = api.call("GET", f"/api/v1/orders/{order.json()['id']}").json()
    assert seen["channel"] == "mobile" and seen["total"] == 49.8


def test_cart_filled_on_mobile_shows_on_the_web_cart_page(shop: Client) -> None:
    user, _, email = sign_up(shop)
    session = shop.call(
        "POST", "/mobile/v2/session", {"email": email, "password": "secret123"}, headers=DEVICE
    )
    phone = shop.with_headers(**DEVICE, Authorization=f"Bearer {session.json()['token']}")
    assert phone.call("POST", "/mobile/v2/cart", {"id": 7, "q": 3}).status == 201
    web_token = user.headers["Authorization"].removeprefix("Bearer ")
    page = shop.call("GET", "/cart", headers={"Cookie": f"sid={web_token}"})
    assert page.status == 200
    assert page.text.count('data-testid="cart-item"') == 1
    assert "Rooibos Vanilla" in page.text and '<strong data-testid="cart-total">€21.60' in page.text
    assert '<span data-testid="cart-count">3</span>' in page.text
    assert 'href="/checkout" data-testid="go-checkout"' in page.text


def test_web_signup_login_checkout_pages_and_order_page(shop: Client) -> None:
    assert shop.call("GET", "/checkout").headers["location"] == "/login?next=/checkout"
    form = shop.call("GET", "/signup?next=/checkout").text
    assert 'data-testid="signup-submit"' in form and 'name="password"' in form
    email = new_email()
    fields = {"name": "Web Pat", "email": email, "password": "secret123"}
    created = shop.call("POST", "/signup?next=/checkout", form=fields)
    assert created.status == 303 and created.headers["location"] == "/checkout"
    sid = created.headers["set-cookie"].split(";")[0]
    assert sid.startswith("sid=")
    again = shop.call("POST", "/signup", form=fields)
    assert again.status == 409 and 'data-testid="form-error"' in again.text
    bad = shop.call("POST", "/login", form={"email": email, "password": "wrong-one"})
    assert bad.status == 401 and 'data-testid="form-error"' in bad.text
    web = shop.with_headers(Cookie=sid)
    home = web.call("GET", "/").text
    assert home.count('data-testid="product-link"') == 24 and "Web Pat" in home
    product = web.call("GET", "/products/2").text
    assert 'data-testid="add-to-cart"' in product and 'data-testid="quantity"' in product
    assert web.call("POST", "/api/v1/cart/items", {"product_id": 2, "quantity": 1}).status == 201
    assert 'data-testid="place-order"' in web.call("GET", "/checkout").text
    order = web.call("POST", "/api/v1/orders", {"card": CARD}, headers={"X-Channel": "web"})
    assert order.status == 201 and order.json()["channel"] == "web"
    page = web.call("GET", f"/orders/{order.json()['id']}").text
    assert '<span data-testid="order-status">paid</span>' in page
    assert f'<span data-testid="order-id">{order.json()["id"]}</span>' in page
    assert page.count('data-testid="order-item"') == 1
    assert shop.call("GET", f"/orders/{order.json()['id']}").status == 303
    logout = web.call("GET", "/logout")
    assert logout.status == 303 and 'data-testid="login-link"' in shop.call("GET", "/").text
    assert web.call("GET", "/api/v1/cart").status == 401  # the session is gone


# regressions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("regressed", [["latency:api.products.get=+400ms"]], indirect=True)
def test_latency_regression_slows_only_the_matched_route(regressed: Client) -> None:
    started = time.perf_counter()
    assert regressed.call("GET", "/api/v1/products/1").status == 200
    slow = time.perf_counter() - started
    started = time.perf_counter()
    assert regressed.call("GET", "/api/v1/products").status == 200
    fast = time.perf_counter() - started
    assert slow >= 0.38
    assert fast < 0.3


@pytest.mark.parametrize(
    "regressed", [["errors:*.orders.list=100%", "errors:api.products.list=30%"]], indirect=True
)
def test_errors_regression_answers_500_for_the_given_share(regressed: Client) -> None:
    user, _, _ = sign_up(regressed)
    failed = user.call("GET", "/api/v1/orders")
    assert failed.status == 500 and failed.json() == {"error": "injected"}
    assert user.call("GET", "/api/v1/cart").status == 200
    statuses = [regressed.call("GET", "/api/v1/products").status for _ in range(300)]
    share = statuses.count(500) / len(statuses)
    assert set(statuses) == {200, 500} and 0.18 < share < 0.42


@pytest.mark.parametrize("regressed", [["errors:web.catalog=100%"]], indirect=True)
def test_errors_regression_on_web_renders_an_error_page(regressed: Client) -> None:
    page = regressed.call("GET", "/")
    assert page.status == 500 and 'data-testid="server-error"' in page.text
    assert page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "regressed",
    [["contract:order.total=string", "contract:product.price=null", "contract:cart.total=missing"]],
    indirect=True,
)
def test_contract_regression_changes_fields_on_api_and_mobile(regressed: Client) -> None:
    assert regressed.call("GET", "/api/v1/products/1").json()["price"] is None
    user, _, email = sign_up(regressed)
    cart = user.call("POST", "/api/v1/cart/items", {"product_id": 1, "quantity": 1}).json()
    assert "total" not in cart and cart["currency"] == "EUR"
    order = user.call("POST", "/api/v1/orders", {"card": CARD}).json()
    assert order["total"] == "24.90"
    session = regressed.call(
        "POST", "/mobile/v2/session", {"email": email, "password": "secret123"}, headers=DEVICE
    )
    phone = regressed.with_headers(**DEVICE, Authorization=f"Bearer {session.json()['token']}")
    assert phone.call("GET", "/mobile/v2/orders").json()["items"][0]["t"] == "2490"
    assert phone.call("GET", "/mobile/v2/catalog").json()["items"][0]["p"] is None
    assert "t" not in phone.call("GET", "/mobile/v2/cart").json()


@pytest.mark.parametrize("regressed", [["ui:place-order", "ui:cart-count"]], indirect=True)
def test_ui_regression_removes_elements_from_pages(regressed: Client) -> None:
    user, _, _ = sign_up(regressed)
    sid = user.headers["Authorization"].removeprefix("Bearer ")
    checkout = regressed.call("GET", "/checkout", headers={"Cookie": f"sid={sid}"}).text
    assert 'data-testid="place-order"' not in checkout and "Place order" not in checkout
    assert 'data-testid="card-number"' in checkout
    assert 'data-testid="cart-count"' not in regressed.call("GET", "/").text


@pytest.mark.parametrize(
    "regressed", [["funnel:checkout=100%", "funnel:signup=100%"]], indirect=True
)
def test_funnel_regression_blocks_the_step_on_every_surface(regressed: Client) -> None:
    blocked = regressed.call(
        "POST", "/api/v1/users", {"email": new_email(), "password": "secret123", "name": "B"}
    )
    assert blocked.status == 503 and blocked.json() == {"error": "step_unavailable"}
    page = regressed.call(
        "POST", "/signup", form={"email": new_email(), "password": "secret123", "name": "B"}
    )
    assert page.status == 503 and 'data-testid="step-unavailable"' in page.text


@pytest.mark.parametrize("regressed", [["funnel:checkout=100%"]], indirect=True)
def test_funnel_checkout_regression_blocks_api_mobile_and_web(regressed: Client) -> None:
    user, _, email = sign_up(regressed)
    assert user.call("POST", "/api/v1/cart/items", {"product_id": 1}).status == 201
    blocked = user.call("POST", "/api/v1/orders", {"card": CARD})
    assert blocked.status == 503 and blocked.json() == {"error": "step_unavailable"}
    session = regressed.call(
        "POST", "/mobile/v2/session", {"email": email, "password": "secret123"}, headers=DEVICE
    )
    phone = regressed.with_headers(**DEVICE, Authorization=f"Bearer {session.json()['token']}")
    assert phone.call("POST", "/mobile/v2/orders", {"card": CARD}).status == 503
    sid = user.headers["Authorization"].removeprefix("Bearer ")
    page = regressed.call("GET", "/checkout", headers={"Cookie": f"sid={sid}"}).text
    assert 'data-testid="step-unavailable"' in page and 'data-testid="place-order"' not in page
    assert user.call("GET", "/api/v1/cart").json()["items"]  # the cart is kept
