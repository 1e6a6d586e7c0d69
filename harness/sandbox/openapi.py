"""The OpenAPI 3.1 document of the JSON API, served at /api/v1/openapi.json.

Paths come from the route table (so a new API route without a description here fails the
sandbox's tests); schemas are written out by hand because the API has no model layer.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from harness.shop_routes import API_PREFIX, ROUTES, Surface

__all__ = ["openapi_document"]

Json = dict[str, Any]


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **props: Json) -> Json:
    return {"type": "object", "required": required, "properties": props}


_NUM: Json = {"type": "number"}
_INT: Json = {"type": "integer"}
_STR: Json = {"type": "string"}
_EUR: Json = {"type": "string", "const": "EUR"}

_ITEM = _obj(
    ["product_id", "name", "quantity", "unit_price", "line_total"],
    product_id=_INT,
    name=_STR,
    quantity=_INT,
    unit_price=_NUM,
    line_total=_NUM,
)
_SCHEMAS: Json = {
    "Error": _obj(["error"], error=_STR, detail=_STR),
    "Product": _obj(
        ["id", "sku", "name", "category", "price", "currency", "stock"],
        id=_INT,
        sku=_STR,
        name=_STR,
        category=_STR,
        price=_NUM,
        currency=_EUR,
        stock=_INT,
    ),
    "ProductPage": _obj(
        ["items", "total"], items={"type": "array", "items": _ref("Product")}, total=_INT
    ),
    "Item": _ITEM,
    "Cart": _obj(
        ["items", "total", "currency"],
        items={"type": "array", "items": _ref("Item")},
        total=_NUM,
        currency=_EUR,
    ),
    "Order": _obj(
        ["id", "user_id", "status", "items", "total", "currency", "created_at", "channel"],
        id=_INT,
        user_id=_INT,
        status={"type": "string", "enum": ["paid"]},
        items={"type": "array", "items": _ref("Item")},
        total=_NUM,
        currency=_EUR,
        created_at={"type": "string", "format": "date-time"},
        channel={"type": "string", "enum": ["api", "web", "mobile"]},
    ),
    "OrderList": _obj(["items"], items={"type": "array", "items": _ref("Order")}),
    "NewUser": _obj(
        ["email", "password", "name"],
        email={"type": "string", "format": "email"},
        password={"type": "string", "minLength": 8},
        name={"type": "string", "minLength": 1, "maxLength": 100},
    ),
    "User": _obj(["id", "email", "name"], id=_INT, email=_STR, name=_STR),
    "Credentials": _obj(["email", "password"], email=_STR, password=_STR),
    "Token": _obj(["token", "user_id"], token=_STR, user_id=_INT),
    "CartAdd": _obj(
        ["product_id"],
        product_id={"type": "integer", "minimum": 1},
        quantity={"type": "integer", "minimum": 1, "maximum": 999, "default": 1},
    ),
    "OrderRequest": _obj(
        ["card"],
        card=_obj(
            ["number", "expiry", "cvc"],
            number=_STR,
            expiry={"type": "string", "pattern": "^\\d{1,2}/(\\d{2}|\\d{4})$"},
            cvc=_STR,
        ),
    ),
    "Health": _obj(
        ["status", "release"],
        status=_STR,
        release=_STR,
        # With regressions: per spec, requests changed so far and the first one's epoch time.
        regressions={"type": "array", "items": {"type": "object"}},
    ),
}

# name -> (request schema or None, success status, success schema or None, error statuses)
_OPS: dict[str, tuple[str | None, int, str | None, tuple[int, ...]]] = {
    "api.openapi": (None, 200, None, ()),
    "api.health": (None, 200, "Health", ()),
    "api.products.list": (None, 200, "ProductPage", (422,)),
    "api.products.get": (None, 200, "Product", (404,)),
    "api.users.create": ("NewUser", 201, "User", (409, 422, 503)),
    "api.users.delete": (None, 204, None, (401, 404)),
    "api.tokens.create": ("Credentials", 201, "Token", (401, 422)),
    "api.cart.get": (None, 200, "Cart", (401,)),
    "api.cart.add": ("CartAdd", 201, "Cart", (401, 404, 422, 503)),
    "api.cart.remove": (None, 200, "Cart", (401,)),
    "api.orders.create": ("OrderRequest", 201, "Order", (400, 401, 402, 422, 503)),
    "api.orders.list": (None, 200, "OrderList", (401,)),
    "api.orders.get": (None, 200, "Order", (401, 404)),
}
_PUBLIC = frozenset(
    {"api.openapi", "api.health", "api.products.list", "api.products.get", "api.users.create"}
    | {"api.tokens.create"}
)
_QUERY = {
    "api.products.list": [
        ("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
        ("offset", {"type": "integer", "minimum": 0, "default": 0}),
        ("q", {"type": "string"}),
    ]
}


def _operation(name: str, summary: str, path: str) -> Json:
    request, status, schema, errors = _OPS[name]
    ok: Json = {"description": "success"}
    if schema is not None:
        ok["content"] = {"application/json": {"schema": _ref(schema)}}
    elif status == 200:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    responses: Json = {str(status): ok}
    for code in (*errors, 500):
        responses[str(code)] = {
            "description": "error",
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    op: Json = {"operationId": name, "summary": summary, "responses": responses}
    params: list[Json] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "integer"}}
        for p in ("id", "product_id")
        if "{" + p + "}" in path
    ]
    params += [{"name": n, "in": "query", "schema": s} for n, s in _QUERY.get(name, [])]
    if params:
        op["parameters"] = params
    if request is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(request)}},
        }
    if name not in _PUBLIC:
        op["security"] = [{"bearer": []}, {"cookie": []}]
    if name == "api.orders.create":
        op["parameters"] = [
            {
                "name": "X-Channel",
                "in": "header",
                "schema": {"type": "string", "enum": ["api", "web"], "default": "api"},
            }
        ]
    return op


@cache
def openapi_document() -> Json:
    """The OpenAPI 3.1 document describing every /api/v1 route (built once)."""
    paths: Json = {}
    for route in ROUTES:
        if route.surface is not Surface.API:
            continue
        relative = route.path.removeprefix(API_PREFIX)
        for method in route.methods:
            operation = _operation(route.name, route.summary, route.path)
            paths.setdefault(relative, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "journey-harness sandbox shop API",
            "version": "1.0.0",
            "description": "The JSON API of the bundled sandbox target.",
        },
        "servers": [{"url": API_PREFIX}],
        "paths": paths,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "sid"},
            },
        },
    }
