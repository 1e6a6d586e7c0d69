"""The sandbox shop's data: one SQLite database in WAL mode behind one connection and a lock.

Products are seeded deterministically (ids 1..24); users, tokens, carts and orders are shared by
the web, API and mobile surfaces, which is what makes cross-touchpoint journeys possible. All
calls are short synchronous statements; the lock makes the shared connection safe from any
thread, and on the event loop it is never contended.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.sandbox.catalog import SEED_PRODUCTS
from harness.sandbox.sqltime import timed_connection_class

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

__all__ = ["Line", "Order", "Product", "Store", "User"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    category TEXT NOT NULL, price_cents INTEGER NOT NULL, stock INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    salt TEXT NOT NULL, password_hash TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, user_id INTEGER NOT NULL, device_id TEXT, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens (user_id);
CREATE TABLE IF NOT EXISTS cart_items (
    user_id INTEGER NOT NULL, product_id INTEGER NOT NULL, quantity INTEGER NOT NULL,
    PRIMARY KEY (user_id, product_id));
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, status TEXT NOT NULL,
    total_cents INTEGER NOT NULL, channel TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS orders_user ON orders (user_id, id);
CREATE TABLE IF NOT EXISTS order_items (
    order_id INTEGER NOT NULL, product_id INTEGER NOT NULL, name TEXT NOT NULL,
    quantity INTEGER NOT NULL, unit_cents INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS order_items_order ON order_items (order_id);
"""


@dataclass(frozen=True)
class Product:
    """A catalog product; prices are integer cents in EUR."""

    id: int
    sku: str
    name: str
    category: str
    price_cents: int
    stock: int


@dataclass(frozen=True)
class User:
    """A shop account, the same on every surface."""

    id: int
    email: str
    name: str


@dataclass(frozen=True)
class Line:
    """One line of a cart or an order."""

    product_id: int
    name: str
    quantity: int
    unit_cents: int

    @property
    def line_cents(self) -> int:
        return self.quantity * self.unit_cents


@dataclass(frozen=True)
class Order:
    """A paid order with its lines."""

    id: int
    user_id: int
    status: str
    total_cents: int
    channel: str
    created_at: str
    lines: tuple[Line, ...]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _hash(salt: str, password: str) -> str:
    # One fast salted hash: this is a load-test target, not a place to keep real secrets.
    return hashlib.sha256(f"{salt}:{password}".encode()).hexdigest()


class Store:
    """All reads and writes of the shop; one instance per sandbox process.

    With a `tracer`, every statement run during a traced request is a CLIENT span (see
    `harness.sandbox.sqltrace`); without one, OpenTelemetry is not even imported.
    """

    def __init__(self, path: Path, *, tracer: Tracer | None = None) -> None:
        self.path = path
        factory = sqlite3.Connection
        if tracer is not None:
            from harness.sandbox.sqltrace import traced_connection_class

            factory = traced_connection_class(tracer)
        factory = timed_connection_class(factory)  # SQL time per request, for /metrics
        self._db = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, factory=factory
        )
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            if self._db.execute("SELECT COUNT(*) FROM products").fetchone()[0] == 0:
                self._db.executemany(
                    "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)",
                    [(p.id, p.sku, p.name, p.category, p.price_cents, p.stock) for p in _seed()],
                )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # products ------------------------------------------------------------------------------

    def list_products(self, limit: int, offset: int, query: str = "") -> tuple[list[Product], int]:
        """A page of products (by id) matching `query` in name, sku or category, and the total."""
        where, args = "", []
        if query:
            where = "WHERE name LIKE ? OR sku LIKE ? OR category LIKE ?"
            args = [f"%{query}%"] * 3
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM products {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT * FROM products {where} ORDER BY id LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [Product(*row) for row in rows], int(total)

    def get_product(self, product_id: int) -> Product | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM products WHERE id = ?", (product_id,)).fetchone()
        return Product(*row) if row else None

    # users and tokens ----------------------------------------------------------------------

    def create_user(self, email: str, password: str, name: str) -> User | None:
        """Create an account; None when the (case-folded) email is taken."""
        salt = secrets.token_hex(8)
        try:
            with self._tx() as db:
                cursor = db.execute(
                    "INSERT INTO users (email, name, salt, password_hash, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (email.lower(), name, salt, _hash(salt, password), _now()),
                )
        except sqlite3.IntegrityError:
            return None
        return User(int(cursor.lastrowid or 0), email.lower(), name)

    def authenticate(self, email: str, password: str) -> User | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, email, name, salt, password_hash FROM users WHERE email = ?",
                (email.lower(),),
            ).fetchone()
        if row is None or not secrets.compare_digest(_hash(row[3], password), row[4]):
            return None
        return User(row[0], row[1], row[2])

    def delete_user(self, user_id: int) -> bool:
        """Delete a user with their tokens, cart and orders; False when there was no such user."""
        with self._tx() as db:
            db.execute("DELETE FROM tokens WHERE user_id = ?", (user_id,))
            db.execute("DELETE FROM cart_items WHERE user_id = ?", (user_id,))
            db.execute(
                "DELETE FROM order_items WHERE order_id IN "
                "(SELECT id FROM orders WHERE user_id = ?)",
                (user_id,),
            )
            db.execute("DELETE FROM orders WHERE user_id = ?", (user_id,))
            return db.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount > 0

    def issue_token(self, user_id: int, device_id: str | None = None) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?)", (token, user_id, device_id, _now())
            )
        return token

    def resolve_token(self, token: str) -> tuple[User, str | None] | None:
        """The user a token belongs to and the device it is bound to (None: any device)."""
        with self._lock:
            row = self._db.execute(
                "SELECT u.id, u.email, u.name, t.device_id FROM tokens t "
                "JOIN users u ON u.id = t.user_id WHERE t.token = ?",
                (token,),
            ).fetchone()
        return (User(row[0], row[1], row[2]), row[3]) if row else None

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM tokens WHERE token = ?", (token,))

    # cart ----------------------------------------------------------------------------------

    def cart(self, user_id: int) -> list[Line]:
        with self._lock:
            rows = self._db.execute(
                "SELECT c.product_id, p.name, c.quantity, p.price_cents FROM cart_items c "
                "JOIN products p ON p.id = c.product_id WHERE c.user_id = ? ORDER BY c.rowid",
                (user_id,),
            ).fetchall()
        return [Line(*row) for row in rows]

    def add_to_cart(self, user_id: int, product_id: int, quantity: int) -> bool:
        """Add `quantity` of a product; False when the product does not exist."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM products WHERE id = ?", (product_id,)).fetchone() is None:
                return False
            db.execute(
                "INSERT INTO cart_items VALUES (?, ?, ?) ON CONFLICT (user_id, product_id) "
                "DO UPDATE SET quantity = quantity + excluded.quantity",
                (user_id, product_id, quantity),
            )
        return True

    def remove_from_cart(self, user_id: int, product_id: int) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM cart_items WHERE user_id = ? AND product_id = ?", (user_id, product_id)
            )

    def cart_count(self, user_id: int) -> int:
        """Total quantity in the cart (what the web header shows)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(quantity), 0) FROM cart_items WHERE user_id = ?", (user_id,)
            ).fetchone()
        return int(row[0])

    # orders --------------------------------------------------------------------------------

    def place_order(self, user_id: int, channel: str) -> Order | None:
        """Turn the cart into a paid order and empty it; None when the cart is empty."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT c.product_id, p.name, c.quantity, p.price_cents FROM cart_items c "
                "JOIN products p ON p.id = c.product_id WHERE c.user_id = ? ORDER BY c.rowid",
                (user_id,),
            ).fetchall()
            if not rows:
                return None
            lines = tuple(Line(*row) for row in rows)
            total = sum(line.line_cents for line in lines)
            created = _now()
            cursor = db.execute(
                "INSERT INTO orders (user_id, status, total_cents, channel, created_at) "
                "VALUES (?, 'paid', ?, ?, ?)",
                (user_id, total, channel, created),
            )
            order_id = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO order_items VALUES (?, ?, ?, ?, ?)",
                [(order_id, ln.product_id, ln.name, ln.quantity, ln.unit_cents) for ln in lines],
            )
            db.executemany(
                "UPDATE products SET stock = MAX(stock - ?, 0) WHERE id = ?",
                [(line.quantity, line.product_id) for line in lines],
            )
            db.execute("DELETE FROM cart_items WHERE user_id = ?", (user_id,))
        return Order(order_id, user_id, "paid", total, channel, created, lines)

    def orders(self, user_id: int, limit: int = -1, offset: int = 0) -> list[Order]:
        """The user's orders, newest first (`limit=-1`: all)."""
        with self._lock:
            heads = self._db.execute(
                "SELECT id, user_id, status, total_cents, channel, created_at FROM orders "
                "WHERE user_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                (user_id, limit, offset),
            ).fetchall()
            lines: dict[int, list[Line]] = {head[0]: [] for head in heads}
            if heads:
                marks = ",".join("?" * len(heads))
                for row in self._db.execute(
                    "SELECT order_id, product_id, name, quantity, unit_cents FROM order_items "
                    f"WHERE order_id IN ({marks}) ORDER BY rowid",
                    list(lines),
                ):
                    lines[row[0]].append(Line(*row[1:]))
        return [_order(head, lines[head[0]]) for head in heads]

    def order(self, user_id: int, order_id: int) -> Order | None:
        """One of the user's orders; None when it does not exist or belongs to someone else."""
        with self._lock:
            head = self._db.execute(
                "SELECT id, user_id, status, total_cents, channel, created_at FROM orders "
                "WHERE id = ? AND user_id = ?",
                (order_id, user_id),
            ).fetchone()
            if head is None:
                return None
            rows = self._db.execute(
                "SELECT product_id, name, quantity, unit_cents FROM order_items "
                "WHERE order_id = ? ORDER BY rowid",
                (order_id,),
            ).fetchall()
        return _order(head, [Line(*row) for row in rows])

    def reorder(self, user_id: int, order_id: int) -> bool:
        """Add an order's lines to the cart again; False when the order is not the user's."""
        order = self.order(user_id, order_id)
        if order is None:
            return False
        for line in order.lines:
            self.add_to_cart(user_id, line.product_id, line.quantity)
        return True


def _order(head: tuple[Any, ...], lines: list[Line]) -> Order:
    order_id, user_id, status, total_cents, channel, created_at = head
    return Order(order_id, user_id, status, total_cents, channel, created_at, tuple(lines))


def _seed() -> list[Product]:
    return [Product(*row) for row in SEED_PRODUCTS]
