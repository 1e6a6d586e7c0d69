"""The bundled shop's route table: every route's name, surface, methods and path template.

This module is the single list of routes. The sandbox builds its Starlette routes from it, its
regression parser matches `ROUTE` globs against it, and `--list-routes` prints it; the drill's
fault specs (`harness.faults.spec`) name the same routes in their scopes. It lives beside both,
importing neither, so that the drill proxy never imports the sandbox; and it imports nothing
heavy, so specs are validated without loading the web stack.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "API_PREFIX",
    "MOBILE_PREFIX",
    "ROUTES",
    "ROUTE_NAMES",
    "RouteInfo",
    "Surface",
    "match_routes",
    "route_by_name",
]

API_PREFIX = "/api/v1"
MOBILE_PREFIX = "/mobile/v2"


class Surface(StrEnum):
    """Which touchpoint a route belongs to; decides error bodies and mobile header checks."""

    WEB = "web"
    API = "api"
    MOBILE = "mobile"


@dataclass(frozen=True)
class RouteInfo:
    """One route of the sandbox: a stable dotted name, its surface, methods and path template."""

    name: str
    surface: Surface
    methods: tuple[str, ...]
    path: str
    summary: str

    @property
    def funnel_step(self) -> str | None:
        """The funnel step (`signup`, `cart`, `checkout`) this route performs, if any."""
        return _FUNNEL_STEPS.get(self.name)


def _web(name: str, methods: tuple[str, ...], path: str, summary: str) -> RouteInfo:
    return RouteInfo(f"web.{name}", Surface.WEB, methods, path, summary)


def _api(name: str, methods: tuple[str, ...], path: str, summary: str) -> RouteInfo:
    return RouteInfo(f"api.{name}", Surface.API, methods, API_PREFIX + path, summary)


def _mobile(name: str, methods: tuple[str, ...], path: str, summary: str) -> RouteInfo:
    return RouteInfo(f"mobile.{name}", Surface.MOBILE, methods, MOBILE_PREFIX + path, summary)


_GET = ("GET",)
_POST = ("POST",)
_DELETE = ("DELETE",)
_FORM = ("GET", "POST")

ROUTES: tuple[RouteInfo, ...] = (
    _web("catalog", _GET, "/", "catalog page"),
    _web("product", _GET, "/products/{id}", "product page with add-to-cart"),
    _web("signup", _FORM, "/signup", "sign-up form and its submission"),
    _web("login", _FORM, "/login", "log-in form and its submission"),
    _web("logout", _GET, "/logout", "log out (clears the sid cookie)"),
    _web("cart", _GET, "/cart", "cart page"),
    _web("checkout", _GET, "/checkout", "checkout page (card form, place-order)"),
    _web("order", _GET, "/orders/{id}", "order confirmation page"),
    _api("openapi", _GET, "/openapi.json", "OpenAPI 3.1 document"),
    _api("health", _GET, "/health", "liveness and release"),
    _api("products.list", _GET, "/products", "list or search products"),
    _api("products.get", _GET, "/products/{id}", "one product"),
    _api("users.create", _POST, "/users", "sign up"),
    _api("users.delete", _DELETE, "/users/{id}", "delete the calling user and their data"),
    _api("tokens.create", _POST, "/tokens", "log in (bearer token)"),
    _api("cart.get", _GET, "/cart", "the caller's cart"),
    _api("cart.add", _POST, "/cart/items", "add a quantity of a product to the cart"),
    _api("cart.remove", _DELETE, "/cart/items/{product_id}", "remove a product from the cart"),
    _api("orders.create", _POST, "/orders", "pay for the cart (creates an order)"),
    _api("orders.list", _GET, "/orders", "the caller's orders"),
    _api("orders.get", _GET, "/orders/{id}", "one of the caller's orders"),
    _mobile("session", _POST, "/session", "log in from a device (token bound to it)"),
    _mobile("users.create", _POST, "/users", "sign up from the app"),
    _mobile("catalog", _GET, "/catalog", "catalog page of compact products"),
    _mobile("cart.get", _GET, "/cart", "the caller's cart (compact)"),
    _mobile("cart.add", _POST, "/cart", "add a quantity of a product to the cart"),
    _mobile("orders.create", _POST, "/orders", "pay for the cart (channel mobile)"),
    _mobile("orders.list", _GET, "/orders", "the caller's orders (paged)"),
    _mobile("orders.reorder", _POST, "/orders/{id}/reorder", "put an order's items into the cart"),
)

ROUTE_NAMES: tuple[str, ...] = tuple(route.name for route in ROUTES)

_BY_NAME = {route.name: route for route in ROUTES}

# Routes whose success moves a user past a funnel step; `funnel:STEP=N%` blocks exactly these.
_FUNNEL_STEPS = {
    "web.signup": "signup",
    "api.users.create": "signup",
    "mobile.users.create": "signup",
    "web.product": "cart",
    "api.cart.add": "cart",
    "mobile.cart.add": "cart",
    "mobile.orders.reorder": "cart",
    "web.checkout": "checkout",
    "api.orders.create": "checkout",
    "mobile.orders.create": "checkout",
}


def route_by_name(name: str) -> RouteInfo:
    """Return the route called `name`; raises `KeyError` for an unknown name."""
    return _BY_NAME[name]


def match_routes(pattern: str) -> tuple[str, ...]:
    """Names of the routes a `ROUTE` pattern selects, in table order (empty when none match).

    A pattern starting with `/` is an fnmatch glob over path templates (`/api/v1/orders`,
    `/mobile/v2/*`); anything else is an fnmatch glob over route names (`*.orders.create`).
    Matching is case-sensitive.
    """
    if pattern.startswith("/"):
        return tuple(r.name for r in ROUTES if fnmatch.fnmatchcase(r.path, pattern))
    return tuple(r.name for r in ROUTES if fnmatch.fnmatchcase(r.name, pattern))
