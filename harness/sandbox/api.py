"""The JSON API under /api/v1: products, users, tokens, cart and orders.

Each handler is registered under its route name in `HANDLERS`; the app wraps it with the
release's regressions and turns `Invalid`, `Unauthorized` and `StepUnavailable` into errors.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from harness.sandbox.cards import card_accepted
from harness.sandbox.openapi import openapi_document
from harness.sandbox.shop import (
    Handler,
    Invalid,
    Shop,
    error,
    int_param,
    read_json,
    validate_signup,
)
from harness.sandbox.store import Order

__all__ = ["HANDLERS", "card_from", "checkout"]

_CHANNELS = frozenset({"api", "web"})


async def openapi(request: Request, shop: Shop) -> Response:
    return JSONResponse(openapi_document())


async def health(request: Request, shop: Shop) -> Response:
    profile = shop.profile
    body: dict[str, Any] = {"status": "ok", "release": profile.release}
    if profile.regressions:
        body["regressions"] = profile.effects_report()
    return JSONResponse(body)


async def products_list(request: Request, shop: Shop) -> Response:
    params = request.query_params
    limit = int_param(params.get("limit"), "limit", default=20, low=1, high=100)
    offset = int_param(params.get("offset"), "offset", default=0, low=0, high=1_000_000)
    products, total = shop.store.list_products(limit, offset, params.get("q", "").strip())
    return JSONResponse({"items": [shop.product_json(p) for p in products], "total": total})


async def products_get(request: Request, shop: Shop) -> Response:
    product = shop.store.get_product(request.path_params["id"])
    if product is None:
        return error(404, "not_found")
    return JSONResponse(shop.product_json(product))


async def users_create(request: Request, shop: Shop) -> Response:
    body = await read_json(request)
    email, password, name = validate_signup(
        body.get("email"), body.get("password"), body.get("name")
    )
    shop.check_step("signup", email)
    user = shop.store.create_user(email, password, name)
    if user is None:
        return error(409, "email_taken")
    payload = {"id": user.id, "email": user.email, "name": user.name}
    return JSONResponse(shop.profile.contract.api("user", payload), status_code=201)


async def users_delete(request: Request, shop: Shop) -> Response:
    user = shop.require_user(request)
    # Only the account itself may delete it; any other id looks "gone" to this caller.
    if request.path_params["id"] != user.id or not shop.store.delete_user(user.id):
        return error(404, "not_found")
    return Response(status_code=204)


async def tokens_create(request: Request, shop: Shop) -> Response:
    body = await read_json(request)
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        raise Invalid("email and password must be strings")
    user = shop.store.authenticate(email.strip(), password)
    if user is None:
        return error(401, "bad_credentials")
    token = shop.store.issue_token(user.id)
    payload = {"token": token, "user_id": user.id}
    return JSONResponse(shop.profile.contract.api("token", payload), status_code=201)


async def cart_get(request: Request, shop: Shop) -> Response:
    user = shop.require_user(request)
    return JSONResponse(shop.cart_json(shop.store.cart(user.id)))


async def cart_add(request: Request, shop: Shop) -> Response:
    user = shop.require_user(request)
    body = await read_json(request)
    product_id = int_param(body.get("product_id"), "product_id", default=0, low=1, high=10**9)
    quantity = int_param(body.get("quantity"), "quantity", default=1, low=1, high=999)
    shop.check_step("cart", user.email)
    if not shop.store.add_to_cart(user.id, product_id, quantity):
        return error(404, "not_found")
    return JSONResponse(shop.cart_json(shop.store.cart(user.id)), status_code=201)


async def cart_remove(request: Request, shop: Shop) -> Response:
    user = shop.require_user(request)
    shop.store.remove_from_cart(user.id, request.path_params["product_id"])
    return JSONResponse(shop.cart_json(shop.store.cart(user.id)))


def card_from(body: dict[str, Any]) -> dict[str, Any]:
    """The `card` object of an order request; raises `Invalid` when it is missing."""
    card = body.get("card")
    if not isinstance(card, dict) or not all(k in card for k in ("number", "expiry", "cvc")):
        raise Invalid('card must be an object {"number", "expiry": "MM/YY", "cvc"}')
    return card


def checkout(
    shop: Shop, user_id: int, email: str, card: dict[str, Any], channel: str
) -> Order | Response:
    """Pay for the cart: an `Order`, or the error response (503, 400, 402) to send instead."""
    shop.check_step("checkout", email)
    if shop.store.cart_count(user_id) == 0:
        return error(400, "empty_cart")
    if not card_accepted(card):
        return error(402, "card_declined")
    order = shop.store.place_order(user_id, channel)
    return order if order is not None else error(400, "empty_cart")


async def orders_create(request: Request, shop: Shop) -> Response:
    user = shop.require_user(request)
    card = card_from(await read_json(request))
    channel = request.headers.get("x-channel", "api").strip().lower()
    result = checkout(shop, user.id, user.email, card, channel if channel in _CHANNELS else "api")
    if isinstance(result, Response):
        return result
    return JSONResponse(shop.order_json(result), status_code=201)


async def orders_list(request: Request, shop: Shop) -> Response:
    user = shop.require_user(request)
    return JSONResponse({"items": [shop.order_json(o) for o in shop.store.orders(user.id)]})


async def orders_get(request: Request, shop: Shop) -> Response:
    user = shop.require_user(request)
    order = shop.store.order(user.id, request.path_params["id"])
    if order is None:
        return error(404, "not_found")
    return JSONResponse(shop.order_json(order))


HANDLERS: dict[str, Handler] = {
    "api.openapi": openapi,
    "api.health": health,
    "api.products.list": products_list,
    "api.products.get": products_get,
    "api.users.create": users_create,
    "api.users.delete": users_delete,
    "api.tokens.create": tokens_create,
    "api.cart.get": cart_get,
    "api.cart.add": cart_add,
    "api.cart.remove": cart_remove,
    "api.orders.create": orders_create,
    "api.orders.list": orders_list,
    "api.orders.get": orders_get,
}
