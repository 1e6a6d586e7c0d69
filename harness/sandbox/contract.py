"""Contract regressions: change one field of a JSON payload the way a careless release would.

`contract:FIELD=MODE` names a field as `ENTITY.KEY` in the JSON API's vocabulary (`order.total`,
`product.price`); the mobile API applies the same rule to its compact key (`order.total` is
`t` there). Pure functions over plain dicts, so they are unit-testable without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "CONTRACT_FIELDS",
    "MOBILE_KEYS",
    "NUMERIC_FIELDS",
    "ContractMode",
    "ContractRule",
    "ContractRules",
    "apply_mode",
]


class ContractMode(StrEnum):
    """How a contract regression changes a field."""

    STRING = "string"  # a number becomes its string form: 12.34 -> "12.34"
    MISSING = "missing"  # the key is removed
    NULL = "null"  # the value becomes null


# Every field a contract regression may name, per entity, as the JSON API spells it.
CONTRACT_FIELDS: dict[str, tuple[str, ...]] = {
    "product": ("id", "sku", "name", "category", "price", "currency", "stock"),
    "cart": ("items", "total", "currency"),
    "item": ("product_id", "name", "quantity", "unit_price", "line_total"),
    "order": ("id", "user_id", "status", "items", "total", "currency", "created_at", "channel"),
    "token": ("token", "user_id"),
    "user": ("id", "email", "name"),
}

# Fields holding numbers; only these accept `string`.
NUMERIC_FIELDS: frozenset[str] = frozenset(
    {
        "product.id",
        "product.price",
        "product.stock",
        "cart.total",
        "item.product_id",
        "item.quantity",
        "item.unit_price",
        "item.line_total",
        "order.id",
        "order.user_id",
        "order.total",
        "token.user_id",
        "user.id",
    }
)

# The mobile API's compact key for each JSON API key that has one there.
MOBILE_KEYS: dict[str, dict[str, str]] = {
    "product": {"id": "id", "name": "n", "price": "p"},
    "cart": {"items": "items", "total": "t"},
    "item": {"product_id": "id", "quantity": "q", "unit_price": "p"},
    "order": {"id": "id", "total": "t", "status": "s", "created_at": "at"},
    "token": {"token": "token", "user_id": "uid"},
    "user": {"id": "uid"},
}


def apply_mode(payload: dict[str, Any], key: str, mode: ContractMode) -> None:
    """Change `payload[key]` in place according to `mode`; a key that is absent stays absent."""
    if key not in payload:
        return
    if mode is ContractMode.MISSING:
        del payload[key]
    elif mode is ContractMode.NULL:
        payload[key] = None
    else:
        value = payload[key]
        if isinstance(value, bool):
            payload[key] = str(value).lower()
        elif isinstance(value, float):
            payload[key] = f"{value:.2f}"
        elif isinstance(value, int):
            payload[key] = str(value)


@dataclass(frozen=True)
class ContractRule:
    """One parsed `contract:ENTITY.KEY=MODE` rule."""

    entity: str
    key: str
    mode: ContractMode


class ContractRules:
    """The contract rules of a sandbox run, applied to payloads of the JSON and mobile APIs."""

    def __init__(self, rules: Iterable[ContractRule] = ()) -> None:
        by_entity: dict[str, list[tuple[str, ContractMode]]] = {}
        for rule in rules:
            by_entity.setdefault(rule.entity, []).append((rule.key, rule.mode))
        self._api: Mapping[str, tuple[tuple[str, ContractMode], ...]] = {
            entity: tuple(pairs) for entity, pairs in by_entity.items()
        }
        mobile: dict[str, tuple[tuple[str, ContractMode], ...]] = {}
        for entity, pairs in self._api.items():
            keys = MOBILE_KEYS.get(entity, {})
            mapped = tuple((keys[key], mode) for key, mode in pairs if key in keys)
            if mapped:
                mobile[entity] = mapped
        self._mobile: Mapping[str, tuple[tuple[str, ContractMode], ...]] = mobile

    def __bool__(self) -> bool:
        return bool(self._api)

    def api(self, entity: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Apply the rules for `entity` to a JSON API payload (in place) and return it."""
        for key, mode in self._api.get(entity, ()):
            apply_mode(payload, key, mode)
        return payload

    def mobile(self, entity: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Apply the rules for `entity` to a mobile payload, using its compact keys."""
        for key, mode in self._mobile.get(entity, ()):
            apply_mode(payload, key, mode)
        return payload
