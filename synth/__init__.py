"""Synthetic data for journey rehearsals: seeded, unique per virtual user, not too clean.

`import synth` is cheap: the names below are loaded on first use (Faker only when a source is
built), so a journey module or the CLI can import the package without paying for Faker.

    from synth import SynthSource
    data = SynthSource(seed=7, worker=0).scope(user=3, iteration=0)
    data.person.email, data.card.number, data.device.app_version
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synth.cards import luhn_valid
    from synth.errors import FeederExhausted, SynthUsageError
    from synth.factory import KINDS, IterationData, SynthSource, generate
    from synth.feeders import Feeder, pick
    from synth.models import (
        Address,
        Cart,
        CartLine,
        MobileDevice,
        Order,
        PaymentCard,
        Person,
        Product,
    )
    from synth.profiles import DeviceMix

__all__ = [
    "KINDS",
    "Address",
    "Cart",
    "CartLine",
    "DeviceMix",
    "Feeder",
    "FeederExhausted",
    "IterationData",
    "MobileDevice",
    "Order",
    "PaymentCard",
    "Person",
    "Product",
    "SynthSource",
    "SynthUsageError",
    "generate",
    "luhn_valid",
    "pick",
]

_HOME = {
    "KINDS": "synth.factory",
    "Address": "synth.models",
    "Cart": "synth.models",
    "CartLine": "synth.models",
    "DeviceMix": "synth.profiles",
    "Feeder": "synth.feeders",
    "FeederExhausted": "synth.errors",
    "IterationData": "synth.factory",
    "MobileDevice": "synth.models",
    "Order": "synth.models",
    "PaymentCard": "synth.models",
    "Person": "synth.models",
    "Product": "synth.models",
    "SynthSource": "synth.factory",
    "SynthUsageError": "synth.errors",
    "generate": "synth.factory",
    "luhn_valid": "synth.cards",
    "pick": "synth.feeders",
}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'synth' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
