"""The sandbox shop's SQLite store, on a temp file (no server)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.sandbox.catalog import SEED_PRODUCTS
from harness.sandbox.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "shop.sqlite3")
    yield opened
    opened.close()


def test_catalog_is_seeded_deterministically_in_wal_mode(store: Store, tmp_path: Path) -> None:
    products, total = store.list_products(100, 0)
    assert total == 24 and [p.id for p in products] == list(range(1, 25))
    assert products[0].sku == "SKU-0001" and products[0].price_cents == SEED_PRODUCTS[0][4]
    assert len({p.name for p in products}) == 24
    mode = sqlite3.connect(tmp_path / "shop.sqlite3").execute("PRAGMA journal_mode").fetchone()
    assert mode == ("wal",)


def test_search_and_paging(store: Store) -> None:
    page, total = store.list_products(2, 1, "tea")
    assert total == 4 and [p.category for p in page] == ["tea", "tea"]
    assert page[0].id == 6
    assert store.get_product(99) is None


def test_users_are_unique_by_case_folded_email(store: Store) -> None:
    user = store.create_user("Ada@Example.com", "secret123", "Ada")
    assert user is not None and user.email == "ada@example.com"
    assert store.create_user("ada@example.com", "other-password", "Ada 2") is None
    assert store.authenticate("ADA@example.com", "secret123") == user
    assert store.authenticate("ada@example.com", "wrong-password") is None


def test_cart_order_reorder_and_delete(store: Store) -> None:
    user = store.create_user("bob@example.com", "secret123", "Bob")
    assert user is not None
    assert store.place_order(user.id, "api") is None  # empty cart
    assert store.add_to_cart(user.id, 3, 2) and store.add_to_cart(user.id, 3, 1)
    assert store.add_to_cart(user.id, 5, 1)
    assert not store.add_to_cart(user.id, 999, 1)
    assert store.cart_count(user.id) == 4
    order = store.place_order(user.id, "web")
    assert order is not None and order.status == "paid" and order.channel == "web"
    assert [(ln.product_id, ln.quantity) for ln in order.lines] == [(3, 3), (5, 1)]
    assert order.total_cents == 3 * 790 + 990
    assert store.cart(user.id) == []
    assert store.get_product(3) is not None and store.get_product(3).stock == 1_000_000 - 3  # type: ignore[union-attr]
    assert store.orders(user.id) == [order] and store.order(user.id, order.id) == order
    other = store.create_user("eve@example.com", "secret123", "Eve")
    assert other is not None and store.order(other.id, order.id) is None
    assert not store.reorder(other.id, order.id)
    assert store.reorder(user.id, order.id) and store.cart_count(user.id) == 4
    token = store.issue_token(user.id, "device-1")
    assert store.resolve_token(token) == (user, "device-1")
    assert store.delete_user(user.id)
    assert store.resolve_token(token) is None and store.orders(user.id) == []
    assert store.cart(user.id) == [] and not store.delete_user(user.id)
