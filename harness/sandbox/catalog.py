"""The sandbox's fixed catalog: 24 products, the same on every start (ids 1..24, prices in EUR).

Journeys and synthetic orders may rely on these ids and prices, so changing a row here is a
user-visible change.
"""

from __future__ import annotations

__all__ = ["SEED_PRODUCTS", "SEED_STOCK"]

SEED_STOCK = 1_000_000

_ROWS: tuple[tuple[str, str, int], ...] = (
    # (name, category, price in cents)
    ("Espresso Beans 1 kg", "coffee", 2490),
    ("Filter Coffee 500 g", "coffee", 1190),
    ("Decaf Blend 250 g", "coffee", 790),
    ("Cold Brew Concentrate", "coffee", 1450),
    ("Green Tea Sencha", "tea", 990),
    ("Earl Grey Loose Leaf", "tea", 850),
    ("Rooibos Vanilla", "tea", 720),
    ("Chai Spice Mix", "tea", 1100),
    ("Pour-Over Dripper", "brewing", 2900),
    ("French Press 1 l", "brewing", 3495),
    ("Gooseneck Kettle", "brewing", 5990),
    ("Burr Grinder", "brewing", 12900),
    ("Paper Filters x100", "brewing", 450),
    ("Milk Frother", "brewing", 2499),
    ("Ceramic Mug", "tableware", 1299),
    ("Double-Wall Glass", "tableware", 1650),
    ("Travel Tumbler", "tableware", 2200),
    ("Espresso Cup Set", "tableware", 2750),
    ("Dark Chocolate 70%", "snacks", 399),
    ("Almond Biscotti", "snacks", 549),
    ("Oat Cookies", "snacks", 325),
    ("Barista Handbook", "books", 2390),
    ("World Atlas of Coffee", "books", 3100),
    ("Gift Card 50 EUR", "gifts", 5000),
)

# (id, sku, name, category, price_cents, stock)
SEED_PRODUCTS: tuple[tuple[int, str, str, str, int, int], ...] = tuple(
    (index, f"SKU-{index:04d}", name, category, cents, SEED_STOCK)
    for index, (name, category, cents) in enumerate(_ROWS, start=1)
)
