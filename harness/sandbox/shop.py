"""What every surface's handlers share: the store, the release profile, auth and payload shapes.

Handlers of the three surfaces receive one `Shop`. JSON payloads are built here, once, with the
release's contract regressions applied, so the API and the mobile API cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from harness.sandbox.profile import ReleaseProfile
from harness.sandbox.store import Line, Order, Product, Store, User

__all__ = [
    "COOKIE",
    "Handler",
    "Invalid",
    "Shop",
    "StepUnavailable",
    "Unauthorized",
    "cents",
    "error",
    "int_param",
    "read_json",
    "validate_signup",
]

COOKIE = "sid"
CURRENCY = "EUR"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8


class Invalid(Exception):
    """A request's input is missing or malformed; answered 422 `{"error":"invalid"}`."""


class Unauthorized(Exception):
    """A protected JSON or mobile route was called without valid auth; answered 401."""


class StepUnavailable(Exception):
    """A funnel regression blocks this step for this user; answered 503."""


def error(status: int, code: str, **extra: object) -> JSONResponse:
    """A JSON error body `{"error": code, ...}` with `status`."""
    return JSONResponse({"error": code, **extra}, status_code=status)


def cents(amount: int) -> float:
    """Integer cents as the JSON API's 2-decimal float."""
    return round(amount / 100, 2)


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; raises `Invalid` for anything else."""
    body = await request.body()
    try:
        data = json.loads(body) if body else None
    except ValueError:
        raise Invalid("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Invalid("the body must be a JSON object")
    return data


def int_param(value: object, name: str, *, default: int, low: int, high: int) -> int:
    """An integer field or query value within [low, high]; raises `Invalid` otherwise."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise Invalid(f"{name} must be an integer, got {value!r}") from None
    if type(value) is not int or not low <= value <= high:
        raise Invalid(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def validate_signup(email: object, password: object, name: object) -> tuple[str, str, str]:
    """Checked sign-up fields (email lower-cased); raises `Invalid` naming the first bad one."""
    if not isinstance(email, str) or not _EMAIL.match(email.strip()):
        raise Invalid("email must be an address like ada@example.com")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise Invalid(f"password must be a string of at least {MIN_PASSWORD} characters")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
        raise Invalid("name must be a non-empty string of at most 100 characters")
    return email.strip().lower(), password, name.strip()


@dataclass
class Shop:
    """The store and release profile of one sandbox process."""

    store: Store
    profile: ReleaseProfile

    # auth ----------------------------------------------------------------------------------

    def token_of(self, request: Request) -> str | None:
        """The bearer token, else the `sid` cookie, of a request."""
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            return header[7:].strip() or None
        return request.cookies.get(COOKIE) or None

    def user(self, request: Request) -> tuple[User, str | None] | None:
        """The authenticated user and the device their token is bound to, if any."""
        token = self.token_of(request)
        return self.store.resolve_token(token) if token else None

    def require_user(self, request: Request) -> User:
        """The authenticated user (any token, any device); raises `Unauthorized`."""
        found = self.user(request)
        if found is None:
            raise Unauthorized
        return found[0]

    def require_device_user(self, request: Request) -> User:
        """Like `require_user`, but a device-bound token must come from its own device."""
        found = self.user(request)
        if found is None:
            raise Unauthorized
        user, device = found
        if device is not None and device != request.headers.get("x-device-id"):
            raise Unauthorized
        return user

    def check_step(self, step: str, email: str) -> None:
        """Raise `StepUnavailable` when a funnel regression blocks `step` for this user."""
        if self.profile.step_blocked(step, email):
            raise StepUnavailable

    # JSON API shapes -------------------------------------------------------------------------

    def product_json(self, p: Product) -> dict[str, Any]:
        return self.profile.contract.api(
            "product",
            {
                "id": p.id,
                "sku": p.sku,
                "name": p.name,
                "category": p.category,
                "price": cents(p.price_cents),
                "currency": CURRENCY,
                "stock": p.stock,
            },
        )

    def _item_json(self, line: Line) -> dict[str, Any]:
        return self.profile.contract.api(
            "item",
            {
                "product_id": line.product_id,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": cents(line.unit_cents),
                "line_total": cents(line.line_cents),
            },
        )

    def cart_json(self, lines: list[Line]) -> dict[str, Any]:
        return self.profile.contract.api(
            "cart",
            {
                "items": [self._item_json(line) for line in lines],
                "total": cents(sum(line.line_cents for line in lines)),
                "currency": CURRENCY,
            },
        )

    def order_json(self, order: Order) -> dict[str, Any]:
        return self.profile.contract.api(
            "order",
            {
                "id": order.id,
                "user_id": order.user_id,
                "status": order.status,
                "items": [self._item_json(line) for line in order.lines],
                "total": cents(order.total_cents),
                "currency": CURRENCY,
                "created_at": order.created_at,
                "channel": order.channel,
            },
        )

    # mobile shapes ---------------------------------------------------------------------------

    def mobile_cart(self, lines: list[Line]) -> dict[str, Any]:
        contract = self.profile.contract
        items = [
            contract.mobile("item", {"id": ln.product_id, "q": ln.quantity, "p": ln.unit_cents})
            for ln in lines
        ]
        total = sum(line.line_cents for line in lines)
        return contract.mobile("cart", {"items": items, "t": total})

    def mobile_order(self, order: Order, *, with_time: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {"id": order.id, "t": order.total_cents, "s": order.status}
        if with_time:
            payload["at"] = order.created_at
        return self.profile.contract.mobile("order", payload)


Handler = Callable[[Request, Shop], Awaitable[Response]]
