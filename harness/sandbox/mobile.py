"""The mobile API under /mobile/v2: compact payloads, prices in cents, device-bound sessions.

Every request must carry `X-Device-Id` and a semver `X-App-Version` of at least 3.0.0;
`check_device_headers` enforces that before any handler runs.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from harness.sandbox.api import card_from, checkout
from harness.sandbox.shop import (
    Handler,
    Invalid,
    Shop,
    error,
    int_param,
    read_json,
    validate_signup,
)

__all__ = ["HANDLERS", "MIN_APP_VERSION", "check_device_headers"]

MIN_APP_VERSION = (3, 0, 0)
_MIN_TEXT = ".".join(map(str, MIN_APP_VERSION))
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$")
_PAGE_SIZE = 20


def check_device_headers(request: Request) -> Response | None:
    """The error to answer when device headers are missing or the app is too old, else None."""
    if not request.headers.get("x-device-id", "").strip():
        return error(400, "device_id_required")
    match = _SEMVER.match(request.headers.get("x-app-version", "").strip())
    if match is None:
        return error(400, "app_version_required", min_version=_MIN_TEXT)
    if tuple(int(part) for part in match.groups()) < MIN_APP_VERSION:
        return error(426, "upgrade_required", min_version=_MIN_TEXT)
    return None


async def session(request: Request, shop: Shop) -> Response:
    body = await read_json(request)
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        raise Invalid("email and password must be strings")
    user = shop.store.authenticate(email.strip(), password)
    if user is None:
        return error(401, "bad_credentials")
    token = shop.store.issue_token(user.id, request.headers["x-device-id"].strip())
    payload = {"token": token, "uid": user.id}
    return JSONResponse(shop.profile.contract.mobile("token", payload), status_code=201)


async def users_create(request: Request, shop: Shop) -> Response:
    body = await read_json(request)
    email, password, name = validate_signup(
        body.get("email"), body.get("password"), body.get("name")
    )
    shop.check_step("signup", email)
    user = shop.store.create_user(email, password, name)
    if user is None:
        return error(409, "email_taken")
    return JSONResponse(shop.profile.contract.mobile("user", {"uid": user.id}), status_code=201)


async def catalog(request: Request, shop: Shop) -> Response:
    page = int_param(request.query_params.get("page"), "page", default=1, low=1, high=100_000)
    size = int_param(request.query_params.get("size"), "size", default=20, low=1, high=100)
    products, total = shop.store.list_products(size, (page - 1) * size)
    contract = shop.profile.contract
    items = [
        contract.mobile("product", {"id": p.id, "n": p.name, "p": p.price_cents}) for p in products
    ]
    return JSONResponse({"p": page, "n": size, "more": page * size < total, "items": items})


async def cart_get(request: Request, shop: Shop) -> Response:
    user = shop.require_device_user(request)
    return JSONResponse(shop.mobile_cart(shop.store.cart(user.id)))


async def cart_add(request: Request, shop: Shop) -> Response:
    user = shop.require_device_user(request)
    body = await read_json(request)
    product_id = int_param(body.get("id"), "id", default=0, low=1, high=10**9)
    quantity = int_param(body.get("q"), "q", default=1, low=1, high=999)
    shop.check_step("cart", user.email)
    if not shop.store.add_to_cart(user.id, product_id, quantity):
        return error(404, "not_found")
    return JSONResponse(shop.mobile_cart(shop.store.cart(user.id)), status_code=201)


async def orders_create(request: Request, shop: Shop) -> Response:
    user = shop.require_device_user(request)
    card = card_from(await read_json(request))
    result = checkout(shop, user.id, user.email, card, "mobile")
    if isinstance(result, Response):
        return result
    return JSONResponse(shop.mobile_order(result, with_time=False), status_code=201)


async def orders_list(request: Request, shop: Shop) -> Response:
    user = shop.require_device_user(request)
    page = int_param(request.query_params.get("page"), "page", default=1, low=1, high=100_000)
    # One extra row tells whether another page exists without a COUNT query.
    orders = shop.store.orders(user.id, _PAGE_SIZE + 1, (page - 1) * _PAGE_SIZE)
    items = [shop.mobile_order(order, with_time=True) for order in orders[:_PAGE_SIZE]]
    return JSONResponse({"p": page, "more": len(orders) > _PAGE_SIZE, "items": items})


async def orders_reorder(request: Request, shop: Shop) -> Response:
    user = shop.require_device_user(request)
    shop.check_step("cart", user.email)
    if not shop.store.reorder(user.id, request.path_params["id"]):
        return error(404, "not_found")
    return JSONResponse(shop.mobile_cart(shop.store.cart(user.id)), status_code=201)


HANDLERS: dict[str, Handler] = {
    "mobile.session": session,
    "mobile.users.create": users_create,
    "mobile.catalog": catalog,
    "mobile.cart.get": cart_get,
    "mobile.cart.add": cart_add,
    "mobile.orders.create": orders_create,
    "mobile.orders.list": orders_list,
    "mobile.orders.reorder": orders_reorder,
}
