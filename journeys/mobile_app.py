"""Reorder from the mobile app: the journey of a returning customer on a phone."""

from _shop import MobileCart, MobileCatalog, MobileOrder, MobileOrderPage, card_payload

from harness import journey


@journey(weight=3, tags={"mobile", "reorder"})
def mobile_reorder(j):
    """Sign up in the app, order, then order the same again from the order history."""
    credentials = {"email": j.user.email, "password": j.user.password}

    with j.step("sign up", on="mobile"):
        j.mobile.post("/users", json={**credentials, "name": j.user.name}, expect=201)

    with j.step("log in", on="mobile"):
        j.mobile.start_session("/session", json=credentials)

    with j.step("browse catalog", on="mobile"):
        catalog = j.mobile.get("/catalog", params={"page": 1, "size": 20}).json(MobileCatalog)
        assert catalog.items, "the catalog is empty"
        product = j.synth.pick(catalog.items)

    with j.step("add to cart", on="mobile"):
        cart = j.mobile.post("/cart", json={"id": product.id, "q": 2}, expect=201).json(MobileCart)
        assert cart.t >= 2 * product.p, f"cart total {cart.t} is below 2 x {product.p}"

    with j.step("place order", on="mobile"):
        body = {"card": card_payload(j.synth.card)}
        first = j.mobile.post("/orders", json=body, expect=201).json(MobileOrder)

    with j.step("reorder", on="mobile"):
        j.mobile.post(f"/orders/{first.id}/reorder", expect=201).json(MobileCart)
        again = j.mobile.post("/orders", json=body, expect=201).json(MobileOrder)
        assert again.t == first.t, f"reorder total {again.t} differs from {first.t}"

    with j.step("order history", on="mobile"):
        history = j.mobile.get("/orders", params={"page": 1}).json(MobileOrderPage)
        ids = {o.id for o in history.items}
        assert {first.id, again.id} <= ids, f"orders {first.id}, {again.id} missing from {ids}"
