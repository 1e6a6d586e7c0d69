"""Deterministic synthetic data per (seed, worker, user, iteration).

    source = SynthSource(seed=7, worker=2)
    data = source.scope(user=41, iteration=3)
    data.person.email          # 'ada.lovelace.ykhn...@example.test', same on every run
    data.order(catalog)        # an Order of products picked from the target's own catalog

Each piece of a scope (person, card, device, product, picks, each order) has its own Random
seeded from the scope's token and the piece's name, so the data depends only on the tuple and
never on scheduling, on the order in which scopes are created or on which pieces a journey
reads first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from random import Random
from typing import TYPE_CHECKING, Final, TypeVar

from synth.builders import (
    DeviceTables,
    build_address,
    build_card,
    build_device,
    build_order,
    build_person,
    build_product,
)
from synth.errors import SynthUsageError
from synth.feeders import pick
from synth.models import Address, MobileDevice, Order, PaymentCard, Person, Product, SynthModel
from synth.profiles import DeviceMix, check_profile
from synth.tokens import encode_token, stream_seed
from synth.vocab import vocabulary

if TYPE_CHECKING:
    from faker import Faker

_T = TypeVar("_T")

KINDS: Final[tuple[str, ...]] = ("address", "card", "device", "order", "person", "product")
CATALOG_SIZE: Final = 24
_MAX_SEED: Final = 2**63


def _check_int(name: str, value: int, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SynthUsageError(f"{name} must be an integer, got {value!r}")
    if not minimum <= value < maximum:
        raise SynthUsageError(f"{name} must be in [{minimum}, {maximum}), got {value}")
    return value


class SynthSource:
    """Synthetic data for one run: a seed, this process's worker index, a profile and a locale.

    Raises SynthUsageError for a negative worker, a seed outside +-2**63, an unknown profile
    or an unknown locale. Building the first source for a locale loads its word lists (tens of
    milliseconds); later sources and scopes reuse them.
    """

    def __init__(
        self,
        seed: int,
        worker: int = 0,
        profile: str = "default",
        locale: str = "en_US",
        *,
        device_mix: DeviceMix | None = None,
    ) -> None:
        self.seed = _check_int("seed", seed, -_MAX_SEED, _MAX_SEED)
        self.worker = _check_int("worker", worker, 0, _MAX_SEED)
        self.profile = check_profile(profile)
        self.locale = locale
        self.vocab = vocabulary(locale)
        self.device_mix = device_mix if device_mix is not None else DeviceMix()
        self.device_tables = DeviceTables(self.device_mix)

    def scope(self, user: int, iteration: int) -> IterationData:
        """The data of one virtual user's iteration; cheap, build one per iteration."""
        _check_int("user", user, 0, _MAX_SEED)
        _check_int("iteration", iteration, 0, _MAX_SEED)
        return IterationData(self, user, iteration)

    def __repr__(self) -> str:
        return (
            f"SynthSource(seed={self.seed}, worker={self.worker}, "
            f"profile={self.profile!r}, locale={self.locale!r})"
        )


class IterationData:
    """Synthetic data of one (seed, worker, user, iteration); every property is computed once.

    `token` is the scope's unique token; identifiers (person id, email, username, device id,
    product sku, order ids) end with it.
    """

    def __init__(self, source: SynthSource, user: int, iteration: int) -> None:
        self.source = source
        self.user = user
        self.iteration = iteration
        self.token = encode_token(source.seed, source.worker, user, iteration)
        self._orders = 0

    def _rng(self, stream: str) -> Random:
        return Random(stream_seed(self.token, stream))

    @property
    def address(self) -> Address:
        """The person's address."""
        return self.person.address

    @cached_property
    def person(self) -> Person:
        """A person whose id, email and username are unique across scopes, workers and seeds."""
        # One Random for person and address: seeding is the costliest step of a person.
        rng = self._rng("person")
        address = build_address(rng, self.source.vocab, self._edge)
        return build_person(rng, self.token, self.source.vocab, self._edge, address)

    @cached_property
    def card(self) -> PaymentCard:
        """A test card in the person's name."""
        return build_card(self._rng("card"), self.person.name)

    @cached_property
    def device(self) -> MobileDevice:
        """A mobile device drawn from the source's device mix."""
        return build_device(self._rng("device"), self.token, self.source.device_tables)

    @cached_property
    def product(self) -> Product:
        """A product (for seeding a catalog; journeys usually pick from the target's own)."""
        rng = self._rng("product")
        return build_product(rng, self.token, self.source.vocab.country_code, self._edge)

    @cached_property
    def random(self) -> Random:
        """A Random of this scope for the journey's own choices."""
        return self._rng("random")

    @cached_property
    def faker(self) -> Faker:
        """A Faker of the source's locale seeded for this scope (slow: about a millisecond)."""
        from faker import Faker

        fake = Faker(self.source.locale)
        fake.seed_instance(stream_seed(self.token, "faker"))
        return fake

    @cached_property
    def _pick_rng(self) -> Random:
        return self._rng("pick")

    @property
    def _edge(self) -> bool:
        return self.source.profile == "edge"

    def pick(self, items: Sequence[_T]) -> _T:
        """One item of `items`; the n-th call of a scope always gives the same answer.

        Raises SynthUsageError if `items` is empty.
        """
        return pick(items, self._pick_rng)

    def order(self, products: Sequence[Product]) -> Order:
        """An order by `person` of 1 to 3 of `products`, paid with `card`.

        The n-th order of a scope has id `ord_<token>-<n>`. Raises SynthUsageError if
        `products` is empty or mixes currencies.
        """
        n = self._orders
        self._orders += 1
        rng = self._rng(f"order{n}")
        return build_order(rng, f"ord_{self.token}-{n}", self.person, self.card, products)

    def __repr__(self) -> str:
        return f"<IterationData {self.source!r} user={self.user} iteration={self.iteration}>"


def generate(
    kind: str,
    count: int,
    seed: int,
    *,
    worker: int = 0,
    profile: str = "default",
    locale: str = "en_US",
    device_mix: DeviceMix | None = None,
) -> Iterator[SynthModel]:
    """Yield `count` models of `kind` (one of `KINDS`); the i-th comes from scope (i, 0).

    Orders pick from a catalog of `CATALOG_SIZE` products of the same seed. Raises
    SynthUsageError for an unknown kind, a negative count or an invalid source argument.
    """
    if kind not in KINDS:
        import difflib

        close = difflib.get_close_matches(kind, KINDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SynthUsageError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}{hint}")
    _check_int("count", count, 0, _MAX_SEED)
    source = SynthSource(seed, worker, profile, locale, device_mix=device_mix)
    return _generate(source, kind, count)


def _generate(source: SynthSource, kind: str, count: int) -> Iterator[SynthModel]:
    catalog: list[Product] = []
    if kind == "order":
        catalog = [source.scope(i, 0).product for i in range(CATALOG_SIZE)]
    for user in range(count):
        data = source.scope(user, 0)
        if kind == "person":
            yield data.person
        elif kind == "address":
            yield data.address
        elif kind == "card":
            yield data.card
        elif kind == "device":
            yield data.device
        elif kind == "product":
            yield data.product
        else:
            yield data.order(catalog)
