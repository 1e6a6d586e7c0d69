"""Contract models of the bundled sandbox shop, shared by the sample journeys.

Validating a response against these (`response.json(Order)`) is what turns a changed field into
a `contract` failure naming the field. Strict models: a number sent as a string is a break.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class Product(Contract):
    id: int
    sku: str
    name: str
    price: float
    currency: str
    stock: int


class ProductPage(Contract):
    items: list[Product]
    total: int


class Line(Contract):
    product_id: int
    quantity: int
    unit_price: float
    line_total: float


class Cart(Contract):
    items: list[Line]
    total: float


class Order(Contract):
    id: int
    status: str
    items: list[Line]
    total: float
    currency: str
    channel: str


class OrderList(Contract):
    items: list[Order]


class MobileItem(Contract):
    id: int
    n: str
    p: int


class MobileCatalog(Contract):
    p: int
    more: bool
    items: list[MobileItem]


class MobileCart(Contract):
    items: list[dict[str, int]]
    t: int


class MobileOrder(Contract):
    id: int
    t: int
    s: str


class MobileOrderPage(Contract):
    p: int
    more: bool
    items: list[MobileOrder]


def card_payload(card: object) -> dict[str, str]:
    """The `card` object the shop's order endpoints take, from a synthetic `PaymentCard`."""
    return {
        "number": getattr(card, "number"),  # noqa: B009 - typed loosely on purpose
        "expiry": getattr(card, "expiry"),  # noqa: B009
        "cvc": getattr(card, "cvc"),  # noqa: B009
    }
