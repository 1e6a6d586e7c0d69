"""The web shop: server-rendered pages over the same store, with a `sid` session cookie.

Forms are posted form-encoded and parsed with the standard library (no multipart support).
Every page goes through `html`, which applies the release's `ui:TESTID` regressions.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from harness.sandbox import pages
from harness.sandbox.pages import PageContext
from harness.sandbox.shop import COOKIE, Handler, Invalid, Shop, validate_signup
from harness.sandbox.store import User
from harness.sandbox.uifilter import strip_testids

__all__ = ["HANDLERS", "delay_rendering", "html", "page_context"]

_COOKIE_MAX_AGE = 7 * 24 * 3600


def page_context(shop: Shop, user: User | None) -> PageContext:
    """The frame of a page for `user` (None: logged out)."""
    if user is None:
        return PageContext(shop.profile.release)
    return PageContext(shop.profile.release, user.name, shop.store.cart_count(user.id))


def html(shop: Shop, body: str, status: int = 200) -> HTMLResponse:
    """An HTML response with the release's hidden test ids removed."""
    return HTMLResponse(strip_testids(body, shop.profile.hidden_testids), status_code=status)


def delay_rendering(response: HTMLResponse, seconds: float) -> None:
    """Keep the page's `<main>` hidden for `seconds` after it loads (`render:` regressions)."""
    ms = round(seconds * 1000)
    body = bytes(response.body).replace(
        b"</head>", b"<style>main{visibility:hidden}</style></head>", 1
    )
    show = (
        f"setTimeout(function(){{document.querySelector('main').style.visibility='visible'}},{ms})"
    )
    body = body.replace(b"</body>", f"<script>{show}</script></body>".encode(), 1)
    response.body = body
    response.headers["content-length"] = str(len(body))


def _user(request: Request, shop: Shop) -> User | None:
    found = shop.user(request)
    return found[0] if found else None


def _safe_next(value: str | None) -> str:
    # Only same-site paths: "//host" and "/\host" would leave the site.
    if not value or not value.startswith("/") or value[1:2] in ("/", "\\"):
        return "/"
    return value


def _to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


def _logged_in(shop: Shop, user: User, next_url: str) -> RedirectResponse:
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        COOKIE, shop.store.issue_token(user.id), max_age=_COOKIE_MAX_AGE, httponly=True
    )
    return response


async def catalog(request: Request, shop: Shop) -> Response:
    ctx = page_context(shop, _user(request, shop))
    products, _ = shop.store.list_products(1000, 0)
    return html(shop, pages.catalog_page(ctx, [(p.id, p.name, p.price_cents) for p in products]))


async def product(request: Request, shop: Shop) -> Response:
    user = _user(request, shop)
    ctx = page_context(shop, user)
    found = shop.store.get_product(request.path_params["id"])
    if found is None:
        return html(shop, pages.error_page(ctx, 404), 404)
    blocked = user is not None and shop.profile.step_blocked("cart", user.email)
    page = pages.product_page(
        ctx, found.id, found.name, found.category, found.price_cents, blocked=blocked
    )
    return html(shop, page)


async def signup(request: Request, shop: Shop) -> Response:
    next_url = _safe_next(request.query_params.get("next"))
    ctx = page_context(shop, _user(request, shop))
    if request.method == "GET":
        return html(shop, pages.signup_page(ctx, next_url=next_url))
    form = await _form(request)
    name, email = form.get("name", ""), form.get("email", "")
    try:
        email, password, name = validate_signup(email, form.get("password"), name)
    except Invalid as exc:
        page = pages.signup_page(ctx, next_url=next_url, error=str(exc), name=name, email=email)
        return html(shop, page, 422)
    if shop.profile.step_blocked("signup", email):
        return html(shop, pages.signup_page(ctx, next_url=next_url, blocked=True), 503)
    user = shop.store.create_user(email, password, name)
    if user is None:
        message = "An account with this email already exists."
        page = pages.signup_page(ctx, next_url=next_url, error=message, name=name, email=email)
        return html(shop, page, 409)
    return _logged_in(shop, user, next_url)


async def login(request: Request, shop: Shop) -> Response:
    next_url = _safe_next(request.query_params.get("next"))
    ctx = page_context(shop, _user(request, shop))
    if request.method == "GET":
        return html(shop, pages.login_page(ctx, next_url=next_url))
    form = await _form(request)
    email = form.get("email", "").strip()
    user = shop.store.authenticate(email, form.get("password", ""))
    if user is None:
        page = pages.login_page(
            ctx, next_url=next_url, error="Wrong email or password.", email=email
        )
        return html(shop, page, 401)
    return _logged_in(shop, user, next_url)


async def logout(request: Request, shop: Shop) -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        shop.store.revoke_token(token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE)
    return response


async def cart(request: Request, shop: Shop) -> Response:
    user = _user(request, shop)
    if user is None:
        return _to_login(request)
    lines = [
        (ln.product_id, ln.name, ln.quantity, ln.unit_cents) for ln in shop.store.cart(user.id)
    ]
    return html(shop, pages.cart_page(page_context(shop, user), lines))


async def checkout(request: Request, shop: Shop) -> Response:
    user = _user(request, shop)
    if user is None:
        return _to_login(request)
    total = sum(line.line_cents for line in shop.store.cart(user.id))
    blocked = shop.profile.step_blocked("checkout", user.email)
    return html(shop, pages.checkout_page(page_context(shop, user), total, blocked=blocked))


async def order(request: Request, shop: Shop) -> Response:
    user = _user(request, shop)
    if user is None:
        return _to_login(request)
    ctx = page_context(shop, user)
    found = shop.store.order(user.id, request.path_params["id"])
    if found is None:
        return html(shop, pages.error_page(ctx, 404), 404)
    lines = [(ln.product_id, ln.name, ln.quantity, ln.unit_cents) for ln in found.lines]
    page = pages.order_page(ctx, found.id, found.status, found.total_cents, found.channel, lines)
    return html(shop, page)


HANDLERS: dict[str, Handler] = {
    "web.catalog": catalog,
    "web.product": product,
    "web.signup": signup,
    "web.login": login,
    "web.logout": logout,
    "web.cart": cart,
    "web.checkout": checkout,
    "web.order": order,
}
