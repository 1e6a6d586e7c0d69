"""One person across all three touchpoints: the journey that breaks when teams drift apart."""

from _shop import MobileCart, Order, card_payload

from harness import journey


@journey(weight=2, tags={"web", "mobile", "api", "cross"})
def web_mobile_api_order(j):
    """Sign up on the web, fill the cart in the app, pay through the API, see it on the web."""
    credentials = {"email": j.user.email, "password": j.user.password}

    with j.step("sign up", on="web"):
        j.web.goto("/signup")
        j.web.fill("input[name=name]", j.user.name)
        j.web.fill("input[name=email]", j.user.email)
        j.web.fill("input[name=password]", j.user.password)
        j.web.click("[data-testid=signup-submit]")
        j.web.expect_visible("[data-testid=user-name]")

    with j.step("add to cart in the app", on="mobile"):
        j.mobile.start_session("/session", json=credentials)
        product_id = j.synth.pick(range(1, 13))
        cart = j.mobile.post("/cart", json={"id": product_id, "q": 1}, expect=201).json(MobileCart)
        assert cart.items, "the app's cart is empty after adding a product"

    with j.step("pay through the API", on="api"):
        j.api.sign_in("/tokens", credentials)
        order = j.api.post("/orders", json={"card": card_payload(j.synth.card)}, expect=201).json(
            Order
        )
        assert [line.product_id for line in order.items] == [product_id]
        j.vars["order_id"] = order.id

    with j.step("see the order on the web", on="web"):
        j.web.goto(f"/orders/{j.vars['order_id']}")
        j.web.expect_text("[data-testid=order-id]", str(j.vars["order_id"]))
        j.web.expect_text("[data-testid=order-status]", "paid")
