"""Catalog and order queries through the public JSON API, as an integrator would."""

from _shop import Cart, Order, OrderList, Product, ProductPage, card_payload

from harness import journey


@journey(weight=2, tags={"api", "catalog"})
def api_catalog_and_orders(j):
    """List and read products, create an account, order, and query the orders back."""
    with j.step("list products", on="api"):
        page = j.api.get("/products", params={"limit": 20}).json(ProductPage)
        assert page.items, "no products listed"

    with j.step("product detail", on="api"):
        wanted = j.synth.pick(page.items)
        product = j.api.get(f"/products/{wanted.id}").json(Product)
        assert product.id == wanted.id

    with j.step("create account", on="api"):
        credentials = {"email": j.user.email, "password": j.user.password}
        j.api.post("/users", json={**credentials, "name": j.user.name}, expect=201)
        j.api.sign_in("/tokens", credentials)

    with j.step("add to cart", on="api"):
        cart = j.api.post(
            "/cart/items", json={"product_id": product.id, "quantity": 1}, expect=201
        ).json(Cart)
        assert len(cart.items) == 1

    with j.step("pay", on="api"):
        order = j.api.post("/orders", json={"card": card_payload(j.synth.card)}, expect=201).json(
            Order
        )
        assert order.status == "paid", f"order status is {order.status!r}"

    with j.step("query orders", on="api"):
        orders = j.api.get("/orders").json(OrderList)
        assert order.id in {o.id for o in orders.items}
        again = j.api.get(f"/orders/{order.id}").json(Order)
        assert again.total == order.total
