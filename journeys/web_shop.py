"""Browse and buy on the web site, as a new customer would."""

from _shop import card_payload

from harness import journey


@journey(weight=3, tags={"web", "checkout"})
def browse_and_buy(j):
    """Open the catalog, sign up, put a product in the cart, pay, see the order."""
    with j.step("open catalog", on="web"):
        j.web.goto("/")
        j.web.expect_visible("[data-testid=product-link]")

    with j.step("sign up", on="web"):
        j.web.goto("/signup")
        j.web.fill("input[name=name]", j.user.name)
        j.web.fill("input[name=email]", j.user.email)
        j.web.fill("input[name=password]", j.user.password)
        j.web.click("[data-testid=signup-submit]")
        j.web.expect_visible("[data-testid=user-name]")

    with j.step("open product", on="web"):
        product_id = j.synth.pick(range(1, 13))
        j.web.goto(f"/products/{product_id}")
        j.web.expect_visible("[data-testid=product-name]")

    with j.step("add to cart", on="web"):
        j.web.click("[data-testid=add-to-cart]")
        j.web.expect_text("[data-testid=cart-notice]", "Added")

    with j.step("checkout", on="web"):
        card = card_payload(j.synth.card)
        j.web.goto("/cart")
        j.web.expect_visible("[data-testid=cart-item]")
        j.web.click("[data-testid=go-checkout]")
        j.web.fill("input[name=card_number]", card["number"])
        j.web.fill("input[name=card_expiry]", card["expiry"])
        j.web.fill("input[name=card_cvc]", card["cvc"])
        j.web.click("[data-testid=place-order]")
        j.web.expect_url("**/orders/*")

    with j.step("see order", on="web"):
        j.web.expect_text("[data-testid=order-status]", "paid")
