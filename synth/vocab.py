"""Word lists for one locale, loaded once per process, picked from with a per-scope Random.

Calling Faker's providers per person is slow (tens of microseconds per address field) and
seeding a Faker per scope is slower still. So names come straight from the locale's Faker
provider lists (with their published weights), and address and phone parts come from pools
that a Faker seeded with a fixed seed fills once per locale. Picking from these with a cheap
`random.Random` keeps the locale's look while costing microseconds per person.
"""

from __future__ import annotations

import bisect
import functools
import importlib
import itertools
import random
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from synth.errors import SynthUsageError

if TYPE_CHECKING:
    from faker import Faker

_POOL_SEED: Final = 20260101
_STREET_POOL: Final = 768
_CITY_POOL: Final = 256
_SMALL_POOL: Final = 256


class Weighted:
    """A sequence of strings with optional weights; `pick(rng)` draws one."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, items: Sequence[str] | Mapping[str, float]) -> None:
        if isinstance(items, Mapping):
            self._items: tuple[str, ...] = tuple(items)
            self._cum: tuple[float, ...] | None = tuple(itertools.accumulate(items.values()))
            self._total = self._cum[-1]
        else:
            self._items = tuple(items)
            self._cum = None
            self._total = float(len(self._items))
        if not self._items:
            raise ValueError("cannot pick from an empty word list")

    def pick(self, rng: random.Random) -> str:
        """One item, drawn according to the weights."""
        if self._cum is None:
            return self._items[int(rng.random() * len(self._items))]
        return self._items[bisect.bisect_right(self._cum, rng.random() * self._total)]

    def __len__(self) -> int:
        return len(self._items)


@functools.lru_cache(maxsize=4096)
def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits of `text` (accents stripped), possibly empty."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed.lower() if c.isascii() and c.isalnum())


@dataclass(frozen=True, slots=True)
class LocaleVocabulary:
    """Names, address parts and phone formats of one Faker locale."""

    locale: str
    country_code: str
    first_names: Weighted
    last_names: Weighted
    streets: tuple[str, ...]
    secondary: tuple[str, ...]
    cities: tuple[str, ...]
    postcodes: tuple[str, ...]
    regions: tuple[str, ...]
    phones: tuple[str, ...]


def available_locales() -> tuple[str, ...]:
    """The locales Faker supports, sorted."""
    from faker.config import AVAILABLE_LOCALES

    return tuple(sorted(AVAILABLE_LOCALES))


def _provider_list(locale: str, attribute: str) -> Sequence[str] | Mapping[str, float] | None:
    # Provider classes inherit lists from their language's base (ar_SA from ar_AA, ...).
    try:
        module = importlib.import_module(f"faker.providers.person.{locale}")
    except ModuleNotFoundError:
        return None
    value: Any = getattr(module.Provider, attribute, None)
    return value if value else None


def _pool(fake: Faker, method: str, size: int) -> tuple[str, ...]:
    func: Callable[[], object] | None = getattr(fake, method, None)
    if func is None:
        return ()
    try:
        values = [str(func()) for _ in range(size)]
    except (AttributeError, NotImplementedError):  # the locale lacks the data behind it
        return ()
    return tuple(dict.fromkeys(values))  # deduplicated, order kept


@functools.lru_cache(maxsize=16)
def vocabulary(locale: str) -> LocaleVocabulary:
    """The vocabulary of `locale`, built once per process; SynthUsageError if unknown."""
    locales = available_locales()
    if locale not in locales:
        import difflib

        close = difflib.get_close_matches(locale, locales, n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise SynthUsageError(
            f"unknown locale {locale!r}: use a Faker locale such as en_US, de_DE or ja_JP{hint}"
        )
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(_POOL_SEED)
    first = _provider_list(locale, "first_names") or _pool(fake, "first_name", _STREET_POOL)
    last = _provider_list(locale, "last_names") or _pool(fake, "last_name", _STREET_POOL)
    regions = _pool(fake, "administrative_unit", _SMALL_POOL) or _pool(fake, "state", _SMALL_POOL)
    territory = locale.rpartition("_")[2]
    country = territory if len(territory) == 2 and territory != "AA" else "US"
    return LocaleVocabulary(
        locale=locale,
        country_code=country,
        first_names=Weighted(first),
        last_names=Weighted(last),
        streets=_pool(fake, "street_address", _STREET_POOL),
        secondary=_pool(fake, "secondary_address", _SMALL_POOL),
        cities=_pool(fake, "city", _CITY_POOL),
        postcodes=_pool(fake, "postcode", _SMALL_POOL),
        regions=regions,
        phones=_pool(fake, "phone_number", _SMALL_POOL),
    )
