"""The sandbox's ASGI application: the route table wired to handlers, regressions and headers.

Each route's handler is wrapped once at start-up with what the release's regressions do to it
(delay, injected 500s), the mobile header checks and the mapping of handler exceptions to
error responses. Every response carries `X-Release`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.flags import FLAG_HEADER, flags_on
from harness.sandbox import api, mobile, pages, web
from harness.sandbox.profile import ReleaseProfile, RouteEffects
from harness.sandbox.shop import Handler, Invalid, Shop, StepUnavailable, Unauthorized, error
from harness.sandbox.store import Store
from harness.shop_routes import API_PREFIX, MOBILE_PREFIX, ROUTES, RouteInfo, Surface

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

__all__ = ["ReleaseHeader", "build_app", "create_app"]

HANDLERS: dict[str, Handler] = {**web.HANDLERS, **api.HANDLERS, **mobile.HANDLERS}

Endpoint = Callable[[Request], Awaitable[Response]]
ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]

#: The candidate's code path behind the `new_checkout` flag: placing an order (the web checkout
#: places it through the API from the page). It answers with `X-Checkout: new`; regressions
#: with `;flag=new_checkout` act only there.
NEW_CHECKOUT = "new_checkout"
NEW_CHECKOUT_ROUTES = frozenset({"api.orders.create", "mobile.orders.create"})

# Path parameters are integers everywhere; a non-integer id is simply an unknown path.
_CONVERTERS = {"{id}": "{id:int}", "{product_id}": "{product_id:int}"}


class ReleaseHeader:
    """ASGI middleware adding `X-Release: <release>` to every HTTP response, errors included."""

    def __init__(self, app: ASGIApp, release: str) -> None:
        self.app = app
        self.header = (b"x-release", release.encode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_release(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), self.header]
            await send(message)

        await self.app(scope, receive, send_with_release)


def _failure(route: RouteInfo, shop: Shop, status: int, code: str) -> Response:
    if route.surface is Surface.WEB:
        ctx = web.page_context(shop, None)
        return web.html(shop, pages.error_page(ctx, status), status)
    return error(status, code)


async def _regression_delay(spec: str, seconds: float, tracer: Tracer | None) -> None:
    if tracer is None:
        await asyncio.sleep(seconds)
        return
    # A child span of the request, so that the trace shows where the time went.
    with tracer.start_as_current_span("regression latency", attributes={"shop.regression": spec}):
        await asyncio.sleep(seconds)


def _endpoint(route: RouteInfo, handler: Handler, shop: Shop, tracer: Tracer | None) -> Endpoint:
    plain = shop.profile.route(route.name)
    profile = shop.profile
    is_mobile = route.surface is Surface.MOBILE
    flagged = bool(profile.flag_effects) or (
        profile.has_new_checkout and route.name in NEW_CHECKOUT_ROUTES
    )

    async def endpoint(request: Request) -> Response:
        flags = flags_on(request.headers.get(FLAG_HEADER, "")) if flagged else frozenset()
        effects = profile.route(route.name, flags) if flags else plain
        for spec, seconds in profile.contend(effects):
            await _regression_delay(spec, seconds, tracer)
        response = await _handled(request, effects)
        if effects.cpu:
            from harness.sandbox.burn import burn_later

            burn_later(profile.burn(effects))
        if NEW_CHECKOUT in flags and profile.has_new_checkout and route.name in NEW_CHECKOUT_ROUTES:
            response.headers["x-checkout"] = "new"
        render = profile.render_delays.get(route.name)
        if render is not None and isinstance(response, HTMLResponse):
            web.delay_rendering(response, render[1])
            profile.noticed(render[0])
        return response

    async def _handled(request: Request, effects: RouteEffects) -> Response:
        if effects.delays:
            for spec, seconds in profile.roll_delays(effects):
                await _regression_delay(spec, seconds, tracer)
        if effects.error_shares and profile.inject_error(effects):
            return _failure(route, shop, 500, "injected")
        if is_mobile:
            rejected = mobile.check_device_headers(request)
            if rejected is not None:
                return rejected
        try:
            return await handler(request, shop)
        except Invalid as exc:
            return error(422, "invalid", detail=str(exc))
        except Unauthorized:
            return error(401, "unauthorized")
        except StepUnavailable:
            return _failure(route, shop, 503, "step_unavailable")

    return endpoint


def _not_found(shop: Shop) -> ExceptionHandler:
    async def handle(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        path = request.url.path
        if path.startswith((API_PREFIX, MOBILE_PREFIX)):
            return error(status, "not_found" if status == 404 else "method_not_allowed")
        return web.html(shop, pages.error_page(web.page_context(shop, None), status), status)

    return handle


def create_app(shop: Shop, tracer: Tracer | None = None) -> ASGIApp:
    """The complete sandbox ASGI app over `shop` (store and release profile).

    With a `tracer`, each request is a SERVER span (`harness.sandbox.httptrace`) and latency
    regressions are child spans; without one, nothing of OpenTelemetry is imported. Every route
    is counted and timed for `/metrics` (`harness.sandbox.metrics`).
    """
    from harness.sandbox.metrics import METRICS_PATH, SandboxMetrics

    metrics = SandboxMetrics(shop.profile.release)
    routes = [Route(METRICS_PATH, metrics.endpoint, methods=["GET"], name="metrics")]
    for route in ROUTES:
        path = route.path
        for plain, typed in _CONVERTERS.items():
            path = path.replace(plain, typed)
        endpoint = metrics.timed(route.name, _endpoint(route, HANDLERS[route.name], shop, tracer))
        routes.append(Route(path, endpoint, methods=list(route.methods), name=route.name))
    handler = _not_found(shop)
    app = Starlette(routes=routes, exception_handlers={404: handler, 405: handler})
    released = ReleaseHeader(app, shop.profile.release)
    if tracer is None:
        return released
    from harness.sandbox.httptrace import TracingMiddleware

    return TracingMiddleware(released, tracer, shop.profile.release)


def build_app(
    db_path: Path, profile: ReleaseProfile, tracer: Tracer | None = None
) -> tuple[ASGIApp, Store]:
    """Open (and seed if new) the database at `db_path` and build the app over it.

    With a `tracer`, requests and SQL statements are traced (see `create_app` and `Store`).
    """
    store = Store(db_path, tracer=tracer)
    return create_app(Shop(store, profile), tracer), store
