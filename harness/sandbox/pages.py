"""HTML of the sandbox's web shop: small, valid, self-contained pages with `data-testid` hooks.

Rendering is plain string building over escaped values (no template engine), so this module is
cheap to import; `TESTIDS` lists every test id a page can carry and is what `ui:TESTID`
regressions are validated against (`uifilter.strip_testids` removes those elements).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = [
    "TESTIDS",
    "PageContext",
    "cart_page",
    "catalog_page",
    "checkout_page",
    "error_page",
    "login_page",
    "money",
    "order_page",
    "product_page",
    "signup_page",
]

TESTIDS: frozenset[str] = frozenset(
    [
        "home-link",
        "cart-link",
        "cart-count",
        "login-link",
        "signup-link",
        "user-name",
        "logout-link",
        "release",
        "product-card",
        "product-link",
        "product-card-price",
        "product-name",
        "product-category",
        "product-price",
        "quantity",
        "add-to-cart",
        "cart-notice",
        "cart-error",
        "signup-form",
        "signup-name",
        "signup-email",
        "signup-password",
        "signup-submit",
        "login-form",
        "login-email",
        "login-password",
        "login-submit",
        "form-error",
        "step-unavailable",
        "cart-empty",
        "cart-item",
        "cart-item-name",
        "cart-item-quantity",
        "cart-item-total",
        "remove-item",
        "cart-total",
        "go-checkout",
        "checkout-total",
        "checkout-form",
        "card-number",
        "card-expiry",
        "card-cvc",
        "place-order",
        "checkout-error",
        "order-id",
        "order-status",
        "order-total",
        "order-item",
        "order-item-name",
        "order-item-quantity",
        "order-item-total",
        "order-channel",
        "not-found",
        "server-error",
    ]
)

_CSS = (
    "body{font-family:system-ui,sans-serif;margin:0;color:#222}"
    "header,main,footer{padding:.75rem 1.5rem}header{display:flex;justify-content:space-between;"
    "background:#f3efe9}nav a,nav span{margin-left:1rem}footer{color:#777;font-size:.8rem}"
    "ul.products{list-style:none;padding:0;display:grid;"
    "grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.75rem}"
    "ul.products li{border:1px solid #ddd;border-radius:6px;padding:.75rem}"
    "label{display:block;margin:.5rem 0}td,th{padding:.25rem .75rem;text-align:left}"
    "[role=alert]{color:#b00020}"
)


@dataclass(frozen=True)
class PageContext:
    """What every page's frame shows: the release, who is logged in and the cart count."""

    release: str
    user_name: str | None = None
    cart_count: int = 0


def money(cents: int) -> str:
    """Format integer cents as the web shop shows prices: `€24.90`."""
    return f"€{cents // 100}.{cents % 100:02d}"


def _page(ctx: PageContext, title: str, body: str, script: str = "") -> str:
    if ctx.user_name is None:
        auth = (
            '<a href="/login" data-testid="login-link">Log in</a>'
            '<a href="/signup" data-testid="signup-link">Sign up</a>'
        )
    else:
        auth = (
            f'<span data-testid="user-name">{escape(ctx.user_name)}</span>'
            '<a href="/logout" data-testid="logout-link">Log out</a>'
        )
    script_tag = f"<script>{script}</script>" if script else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · Sandbox Shop</title><style>{_CSS}</style></head><body>"
        '<header><a href="/" data-testid="home-link">Sandbox Shop</a><nav>'
        '<a href="/cart" data-testid="cart-link">Cart '
        f'(<span data-testid="cart-count">{ctx.cart_count}</span>)</a>{auth}</nav></header>'
        f"<main>{body}</main>"
        f'<footer data-testid="release">release {escape(ctx.release)}</footer>'
        f"{script_tag}</body></html>\n"
    )


# Shared by the product and checkout pages: find an element by test id (null when removed).
_JS_TESTID = "var q=function(t){return document.querySelector('[data-testid=\"'+t+'\"]');};"


def catalog_page(ctx: PageContext, products: Sequence[tuple[int, str, int]]) -> str:
    """The catalog: one product link per `(id, name, price_cents)`."""
    cards = "".join(
        f'<li data-testid="product-card"><a href="/products/{pid}" data-testid="product-link">'
        f"{escape(name)}</a><br>"
        f'<span data-testid="product-card-price">{money(cents)}</span></li>'
        for pid, name, cents in products
    )
    return _page(ctx, "Catalog", f'<h1>Catalog</h1><ul class="products">{cards}</ul>')


def product_page(
    ctx: PageContext, pid: int, name: str, category: str, cents: int, *, blocked: bool
) -> str:
    """A product with quantity and add-to-cart (or `step-unavailable` when `blocked`)."""
    if blocked:
        action = (
            '<p data-testid="step-unavailable">Adding to the cart is unavailable right now.</p>'
        )
    else:
        action = (
            '<label>Quantity <input type="number" min="1" value="1" name="quantity" '
            'data-testid="quantity"></label>'
            '<button type="button" data-testid="add-to-cart">Add to cart</button>'
        )
    body = (
        f'<h1 data-testid="product-name">{escape(name)}</h1>'
        f'<p data-testid="product-category">{escape(category)}</p>'
        f'<p data-testid="product-price">{money(cents)}</p>{action}'
        '<p data-testid="cart-notice" role="status" hidden>Added to cart</p>'
        '<p data-testid="cart-error" role="alert" hidden></p>'
    )
    state = json.dumps({"id": pid, "loggedIn": ctx.user_name is not None})
    script = (
        f"(function(){{var S={state};{_JS_TESTID}var b=q('add-to-cart');if(!b)return;"
        "function login(){location.href='/login?next='+encodeURIComponent(location.pathname);}"
        "b.addEventListener('click',async function(){if(!S.loggedIn){login();return;}"
        "var i=q('quantity'),n=parseInt(i?i.value:'1',10)||1,e=q('cart-error');"
        "b.disabled=true;try{var r=await fetch('/api/v1/cart/items',{method:'POST',"
        "credentials:'same-origin',headers:{'Content-Type':'application/json'},"
        "body:JSON.stringify({product_id:S.id,quantity:n})});"
        "if(r.status===401){login();return;}var d=await r.json().catch(function(){return{};});"
        "if(!r.ok){if(e){e.textContent='Could not add to cart: '+(d.error||r.status);"
        "e.hidden=false;}return;}var c=0;(d.items||[]).forEach(function(x){c+=x.quantity;});"
        "var k=q('cart-count');if(k)k.textContent=String(c);if(e)e.hidden=true;"
        "var o=q('cart-notice');if(o)o.hidden=false;}"
        "catch(x){if(e){e.textContent='Could not add to cart: '+x;e.hidden=false;}}"
        "finally{b.disabled=false;}});})();"
    )
    return _page(ctx, name, body, script)


def _auth_form(kind: str, fields: Sequence[tuple[str, str, str, str]], submit: str) -> str:
    inputs = "".join(
        f'<label>{label} <input type="{kind_}" name="{name}" value="{escape(value)}" '
        f'data-testid="{kind}-{name}"></label>'
        for label, kind_, name, value in fields
    )
    return inputs + f'<button type="submit" data-testid="{kind}-submit">{submit}</button>'


def signup_page(
    ctx: PageContext,
    *,
    next_url: str,
    error: str | None = None,
    name: str = "",
    email: str = "",
    blocked: bool = False,
) -> str:
    """The sign-up form (or `step-unavailable`), with `form-error` when `error` is set."""
    if blocked:
        body = '<p data-testid="step-unavailable">Sign-up is unavailable right now.</p>'
    else:
        fields = _auth_form(
            "signup",
            [
                ("Name", "text", "name", name),
                ("Email", "email", "email", email),
                ("Password", "password", "password", ""),
            ],
            "Create account",
        )
        body = (
            _form_error(error) + f'<form method="post" action="/signup{_next_query(next_url)}" '
            f'data-testid="signup-form" novalidate>{fields}</form>'
            f'<p>Already have an account? <a href="/login{_next_query(next_url)}">Log in</a></p>'
        )
    return _page(ctx, "Sign up", "<h1>Create an account</h1>" + body)


def login_page(
    ctx: PageContext, *, next_url: str, error: str | None = None, email: str = ""
) -> str:
    """The log-in form, with `form-error` when `error` is set."""
    fields = _auth_form(
        "login",
        [("Email", "email", "email", email), ("Password", "password", "password", "")],
        "Log in",
    )
    body = (
        "<h1>Log in</h1>"
        + _form_error(error)
        + f'<form method="post" action="/login{_next_query(next_url)}" '
        f'data-testid="login-form" novalidate>{fields}</form>'
        f'<p>New here? <a href="/signup{_next_query(next_url)}">Create an account</a></p>'
    )
    return _page(ctx, "Log in", body)


def cart_page(ctx: PageContext, lines: Sequence[tuple[int, str, int, int]]) -> str:
    """The cart: rows of `(product_id, name, quantity, unit_cents)`, total and go-checkout."""
    if not lines:
        return _page(ctx, "Cart", '<h1>Your cart</h1><p data-testid="cart-empty">Empty.</p>')
    rows = "".join(
        f'<tr data-testid="cart-item" data-product-id="{pid}">'
        f'<td data-testid="cart-item-name">{escape(name)}</td>'
        f'<td data-testid="cart-item-quantity">{qty}</td>'
        f'<td data-testid="cart-item-total">{money(qty * unit)}</td>'
        f'<td><button type="button" data-testid="remove-item" data-product-id="{pid}">'
        "Remove</button></td></tr>"
        for pid, name, qty, unit in lines
    )
    total = sum(qty * unit for _, _, qty, unit in lines)
    body = (
        "<h1>Your cart</h1><table><thead><tr><th>Product</th><th>Qty</th><th>Total</th>"
        f"<th></th></tr></thead><tbody>{rows}</tbody></table>"
        f'<p>Total: <strong data-testid="cart-total">{money(total)}</strong></p>'
        '<p><a href="/checkout" data-testid="go-checkout">Checkout</a></p>'
    )
    script = (
        "document.querySelectorAll('[data-testid=\"remove-item\"]').forEach(function(b){"
        "b.addEventListener('click',async function(){await fetch('/api/v1/cart/items/'+"
        "b.dataset.productId,{method:'DELETE',credentials:'same-origin'});location.reload();});});"
    )
    return _page(ctx, "Cart", body, script)


def checkout_page(ctx: PageContext, total_cents: int, *, blocked: bool) -> str:
    """The card form and place-order button (or `step-unavailable` when `blocked`)."""
    if blocked:
        form = '<p data-testid="step-unavailable">Checkout is unavailable right now.</p>'
    else:
        form = (
            '<form data-testid="checkout-form" novalidate>'
            '<label>Card number <input name="card_number" autocomplete="cc-number" '
            'data-testid="card-number"></label>'
            '<label>Expiry (MM/YY) <input name="card_expiry" autocomplete="cc-exp" '
            'data-testid="card-expiry"></label>'
            '<label>CVC <input name="card_cvc" autocomplete="cc-csc" data-testid="card-cvc">'
            "</label>"
            '<button type="submit" data-testid="place-order">Place order</button></form>'
        )
    body = (
        f'<h1>Checkout</h1><p>Total: <strong data-testid="checkout-total">{money(total_cents)}'
        f'</strong></p>{form}<p data-testid="checkout-error" role="alert" hidden></p>'
    )
    messages = json.dumps(
        {"card_declined": "Your card was declined.", "empty_cart": "Your cart is empty."}
    )
    script = (
        f"(function(){{var M={messages};{_JS_TESTID}var f=q('checkout-form');if(!f)return;"
        "function v(n){var i=f.querySelector('[name=\"'+n+'\"]');return i?i.value:'';}"
        "function fail(m){var e=q('checkout-error');if(e){e.textContent=m;e.hidden=false;}}"
        "f.addEventListener('submit',async function(ev){ev.preventDefault();"
        "var b=q('place-order');if(b)b.disabled=true;try{"
        "var r=await fetch('/api/v1/orders',{method:'POST',credentials:'same-origin',"
        "headers:{'Content-Type':'application/json','X-Channel':'web'},body:JSON.stringify("
        "{card:{number:v('card_number'),expiry:v('card_expiry'),cvc:v('card_cvc')}})});"
        "var d=await r.json().catch(function(){return{};});"
        "if(r.status===401){location.href='/login?next=/checkout';return;}"
        "if(!r.ok){fail(M[d.error]||('Order failed: '+(d.error||r.status)));return;}"
        "location.href='/orders/'+d.id;}catch(x){fail('Order failed: '+x);}"
        "finally{if(b)b.disabled=false;}});})();"
    )
    return _page(ctx, "Checkout", body, script)


def order_page(
    ctx: PageContext,
    order_id: int,
    status: str,
    total_cents: int,
    channel: str,
    lines: Sequence[tuple[int, str, int, int]],
) -> str:
    """An order confirmation: id, status, total and one row per line."""
    rows = "".join(
        f'<tr data-testid="order-item" data-product-id="{pid}">'
        f'<td data-testid="order-item-name">{escape(name)}</td>'
        f'<td data-testid="order-item-quantity">{qty}</td>'
        f'<td data-testid="order-item-total">{money(qty * unit)}</td></tr>'
        for pid, name, qty, unit in lines
    )
    body = (
        f'<h1>Thank you</h1><p>Order <span data-testid="order-id">{order_id}</span> is '
        f'<span data-testid="order-status">{escape(status)}</span>.</p>'
        f"<table><tbody>{rows}</tbody></table>"
        f'<p>Total: <strong data-testid="order-total">{money(total_cents)}</strong></p>'
        f'<p data-testid="order-channel">Placed via {escape(channel)}</p>'
    )
    return _page(ctx, f"Order {order_id}", body)


def error_page(ctx: PageContext, status: int) -> str:
    """A plain error page: `not-found` for 404, `server-error` otherwise."""
    if status == 404:
        body = '<h1 data-testid="not-found">Not found</h1><p><a href="/">Back to the shop</a></p>'
    else:
        body = f'<h1 data-testid="server-error">Something went wrong ({status})</h1>'
    return _page(ctx, "Error", body)


def _form_error(error: str | None) -> str:
    return f'<p data-testid="form-error" role="alert">{escape(error)}</p>' if error else ""


def _next_query(next_url: str) -> str:
    return f"?next={escape(next_url)}" if next_url and next_url != "/" else ""
