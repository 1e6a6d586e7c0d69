"""Contract models of the bundled sandbox shop, shared by the sample journeys.

Validating a response against these (`response.json(Order)`) is what turns a changed field into
a `contract` failure naming the field.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt


class Product(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: StrictInt
    sku: str
    name: str
    price: StrictFloat | StrictInt
    currency: str
    stock: StrictInt


class ProductPage(BaseModel):
    items: list[Product]
    total: StrictInt


class Line(BaseModel):
    product_id: StrictInt
    quantity: StrictInt
    unit_price: StrictFloat | StrictInt
    line_total: StrictFloat | StrictInt


class Cart(BaseModel):
    items: list[Line]
    total: StrictFloat | StrictInt


class Order(BaseModel):
    id: StrictInt
    status: str
    items: list[Line]
    total: StrictFloat | StrictInt
    currency: str
    channel: str


class OrderList(BaseModel):
    items: list[Order]


class MobileItem(BaseModel):
    id: StrictInt
    n: str
    p: StrictInt


class MobileCatalog(BaseModel):
    p: StrictInt
    more: bool
    items: list[MobileItem]


class MobileCart(BaseModel):
    items: list[dict[str, int]]
    t: StrictInt


class MobileOrder(BaseModel):
    id: StrictInt
    t: StrictInt
    s: str


class MobileOrderPage(BaseModel):
    p: StrictInt
    more: bool
    items: list[MobileOrder]


def card_payload(card: object) -> dict[str, str]:
    """The `card` object the shop's order endpoints take, from a synthetic `PaymentCard`."""
    return {
        "number": getattr(card, "number"),  # noqa: B009 - typed loosely on purpose
        "expiry": getattr(card, "expiry"),  # noqa: B009
        "cvc": getattr(card, "cvc"),  # noqa: B009
    }
