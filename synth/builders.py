"""Build one model from a seeded `random.Random`: the per-kind recipes behind `IterationData`.

Each builder draws only from the Random it is given, so a model depends on nothing but that
Random's seed, the vocabulary and the profile. Identifiers embed the scope's token (see
`synth.tokens`) as their last component, which makes them unique by construction.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections.abc import Sequence
from typing import Final, TypeVar

from synth.cards import random_family, random_number
from synth.errors import SynthUsageError
from synth.models import (
    REFERENCE_DATE,
    RESERVED_EMAIL_DOMAINS,
    Address,
    Cart,
    CartLine,
    MobileDevice,
    Order,
    PaymentCard,
    Person,
    Product,
    adult_cutoff,
)
from synth.profiles import (
    EDGE_CITIES,
    EDGE_EMAIL_TAGS,
    EDGE_FIRST_NAMES,
    EDGE_LAST_NAMES,
    EDGE_LINE2,
    EDGE_STREETS,
    LONG_LINE_PAD,
    DeviceMix,
)
from synth.vocab import LocaleVocabulary, Weighted, ascii_slug

_T = TypeVar("_T")

_UPPER: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_LOWER: Final = "abcdefghijkmnopqrstuvwxyz"
_DIGITS: Final = "0123456789"
_SYMBOLS: Final = "!#$%&*+-=?@^_~."
_PASSWORD_CHARS: Final = _UPPER + _LOWER + _DIGITS + _SYMBOLS
_EDGE_PASSWORD_EXTRA: Final = " üß€漢ñ\"'\\<>"
_DAYS_19Y: Final = 19 * 366
_DAYS_90Y: Final = 90 * 365
_CURRENCY: Final = {"US": "USD", "GB": "GBP", "JP": "JPY", "CA": "CAD", "AU": "AUD", "CH": "CHF"}
_EURO: Final = frozenset(
    (
        "AT",
        "BE",
        "DE",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "NL",
        "PT",
        "SI",
        "SK",
    )
)
_ADJECTIVES: Final = ("Classic", "Compact", "Everyday", "Organic", "Pro", "Rugged", "Smart")
_MATERIALS: Final = ("Bamboo", "Canvas", "Ceramic", "Cotton", "Leather", "Steel", "Wool")
_NOUNS: Final = {
    "Backpack": "bags",
    "Kettle": "kitchen",
    "Mug": "kitchen",
    "Lamp": "home",
    "Notebook": "office",
    "Scarf": "apparel",
    "Sneakers": "apparel",
    "Headphones": "electronics",
}
_EDGE_PRODUCTS: Final = (
    "Ultra-Premium Limited Edition Hand-Stitched Full-Grain Leather Weekender Duffel Bag, "
    "Cognac Brown, With Detachable Shoulder Strap and Lifetime Warranty",
    "Tasse à café « Crème brûlée » ☕",
    "كوب قهوة",
    "כוס קפה",
    "Kaffeebecher 0,3 l Ø 8 cm",
    "コーヒーマグ",
    "Mug 👍🏽 (2-pack)",
)


def currency_for(country_code: str) -> str:
    """The ISO 4217 currency generated products of a country are priced in (USD if unknown)."""
    return "EUR" if country_code in _EURO else _CURRENCY.get(country_code, "USD")


def build_address(rng: random.Random, vocab: LocaleVocabulary, edge: bool) -> Address:
    """An address from the locale pools, or (edge profile) from long and Unicode lists."""
    line1 = _pick(rng, vocab.streets, "1 Main Street")
    line2 = _pick(rng, vocab.secondary, "") if rng.random() < 0.15 else ""
    city = _pick(rng, vocab.cities, "Springfield")
    if edge:
        roll = rng.random()
        if roll < 0.4:
            line1 = _pick(rng, EDGE_STREETS, line1)
        elif roll < 0.7:
            line1 = f"{line1}{LONG_LINE_PAD}{LONG_LINE_PAD}"
        line2 = _pick(rng, EDGE_LINE2, "") if rng.random() < 0.6 else line2
        city = _pick(rng, EDGE_CITIES, city) if rng.random() < 0.6 else city
    return Address(
        line1=line1,
        line2=line2,
        city=city,
        postcode=_pick(rng, vocab.postcodes, ""),
        region=_pick(rng, vocab.regions, ""),
        country_code=vocab.country_code,
    )


def build_person(
    rng: random.Random, token: str, vocab: LocaleVocabulary, edge: bool, address: Address
) -> Person:
    """A person whose id, email and username end with `token`."""
    first = vocab.first_names.pick(rng)
    last = vocab.last_names.pick(rng)
    if edge:
        if rng.random() < 0.75:
            first = _pick(rng, EDGE_FIRST_NAMES, first)
        if rng.random() < 0.75:
            last = _pick(rng, EDGE_LAST_NAMES, last)
    f = ascii_slug(first)[:20] or "user"
    l = ascii_slug(last)[:20] or "person"  # noqa: E741 - f and l read as first and last
    if edge:
        email, username = _edge_email(rng, token, first, last), _edge_username(first, token)
    else:
        email, username = _email(rng, token, f, l), f"{(f + l)[:16]}_{token}"
    return Person(
        id=f"per_{token}",
        first_name=first,
        last_name=last,
        name=f"{first} {last}",
        email=email,
        username=username,
        phone=_phone(rng, vocab),
        password=_password(rng, edge),
        locale=vocab.locale,
        birth_date=_birth_date(rng, edge),
        address=address,
    )


def _email(rng: random.Random, token: str, f: str, l: str) -> str:  # noqa: E741
    roll = rng.random()
    if roll < 0.6:
        local = f"{f}.{l}"
    elif roll < 0.8:
        local = f"{f[0]}{l}"
    elif roll < 0.9:
        local = f"{l}.{f}"
    else:
        local = f"{f}{l}{rng.randrange(100)}"
    # The token is the last dot-separated component, so distinct tokens give distinct emails.
    local = local[: max(1, 63 - len(token))]
    return f"{local}.{token}@{RESERVED_EMAIL_DOMAINS[int(rng.random() * 3)]}"


def _edge_email(rng: random.Random, token: str, first: str, last: str) -> str:
    name = "".join(c for c in _keep_apostrophes(f"{first}.{last}") if c.isalnum() or c in ".'-")
    name = name.strip(".") or "user"
    if rng.random() < 0.3:
        name = name.title()
    tag = _pick(rng, EDGE_EMAIL_TAGS, "")
    tail = f"{tag}.{token}" if tag and len(tag) + len(token) < 40 else token
    # Plus-addressed; the token follows the last '+', so distinct tokens give distinct emails.
    local = f"{name[: max(1, 63 - len(tail))]}+{tail}"
    return f"{local}@{RESERVED_EMAIL_DOMAINS[int(rng.random() * 3)]}"


def _keep_apostrophes(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text).replace(" ", "")
    return "".join(c for c in decomposed if c.isascii())


def _edge_username(first: str, token: str) -> str:
    # Unicode usernames, NFC and without spaces; the token follows the last '_'.
    name = unicodedata.normalize("NFC", first).replace(" ", "").replace("_", "")
    return f"{name[:20]}_{token}"


def _phone(rng: random.Random, vocab: LocaleVocabulary) -> str:
    # Where a regulator reserves numbers for fiction, use them: nobody real gets called.
    if vocab.country_code in ("US", "CA"):
        area, line = 201 + int(rng.random() * 789), int(rng.random() * 100)
        style = int(rng.random() * 3)
        if style == 0:
            return f"+1 {area}-555-01{line:02d}"
        return f"({area}) 555-01{line:02d}" if style == 1 else f"{area}.555.01{line:02d}"
    if vocab.country_code == "GB":
        return f"+44 7700 900{rng.randrange(1000):03d}"
    return _pick(rng, vocab.phones, "+1 555-0100")


def _password(rng: random.Random, edge: bool) -> str:
    length = (40 + int(rng.random() * 25)) if edge else (12 + int(rng.random() * 9))
    chars = rng.choices(_PASSWORD_CHARS, k=length - 4)
    if edge:
        chars[0] = _pick(rng, _EDGE_PASSWORD_EXTRA, " ")
    chars += (_pick(rng, _UPPER, "A"), _pick(rng, _LOWER, "a"))
    chars += (_pick(rng, _DIGITS, "0"), _pick(rng, _SYMBOLS, "!"))
    cut = int(rng.random() * length)  # the required classes move around
    return "".join(chars[cut:] + chars[:cut])


def _birth_date(rng: random.Random, edge: bool) -> dt.date:
    if edge:
        roll = rng.random()
        if roll < 0.15:
            return adult_cutoff()  # turns 18 exactly on REFERENCE_DATE
        if roll < 0.3:
            return dt.date(_pick(rng, (1960, 1972, 1984, 1996, 2000), 2000), 2, 29)
    days = _DAYS_19Y + int(rng.random() * (_DAYS_90Y - _DAYS_19Y))
    return REFERENCE_DATE - dt.timedelta(days=days)


def build_card(rng: random.Random, holder: str) -> PaymentCard:
    """A test card inside a published test prefix, expiring 5 to 12 years after REFERENCE_DATE."""
    family = random_family(rng)
    year = REFERENCE_DATE.year + rng.randrange(5, 13)
    return PaymentCard(
        brand=family.brand,
        number=random_number(rng, family),
        expiry=f"{rng.randrange(1, 13):02d}/{year % 100:02d}",
        cvc=str(rng.randrange(10**family.cvc_length)).zfill(family.cvc_length),
        holder=holder,
    )


class DeviceTables:
    """`DeviceMix` weights turned into pickers once per source."""

    def __init__(self, mix: DeviceMix) -> None:
        self.mix = mix
        self.ios_models = Weighted(mix.ios_models)
        self.android_models = Weighted(mix.android_models)
        self.ios_versions = Weighted(mix.ios_versions)
        self.android_versions = Weighted(mix.android_versions)
        self.supported = Weighted(mix.supported_app_versions)
        self.unsupported = Weighted(mix.unsupported_app_versions)


def build_device(rng: random.Random, token: str, tables: DeviceTables) -> MobileDevice:
    """A device from the mix; `unsupported_share` of them run an unsupported app version."""
    ios = rng.random() < tables.mix.ios_share
    unsupported = rng.random() < tables.mix.unsupported_share
    return MobileDevice(
        device_id=f"dev_{token}",
        model=(tables.ios_models if ios else tables.android_models).pick(rng),
        os="iOS" if ios else "Android",
        os_version=(tables.ios_versions if ios else tables.android_versions).pick(rng),
        app_version=(tables.unsupported if unsupported else tables.supported).pick(rng),
    )


def build_product(rng: random.Random, token: str, country_code: str, edge: bool) -> Product:
    """A product with a plausible name and a price between 1.99 and 499.99."""
    noun = _pick(rng, tuple(_NOUNS), "Mug")
    name = f"{_pick(rng, _ADJECTIVES, '')} {_pick(rng, _MATERIALS, '')} {noun}"
    if edge and rng.random() < 0.6:
        name = _pick(rng, _EDGE_PRODUCTS, name)
    dollars = int(2 * 250 ** rng.random())  # log-uniform: many cheap things, few dear ones
    cents = _pick(rng, (99, 99, 95, 0, 49), 99)
    return Product(
        sku=f"sku_{token}",
        name=name,
        category=_NOUNS[noun],
        price_cents=max(1, dollars * 100 + cents - 100),
        currency=currency_for(country_code),
    )


def build_order(
    rng: random.Random,
    order_id: str,
    person: Person,
    card: PaymentCard,
    products: Sequence[Product],
) -> Order:
    """An order of 1 to 3 distinct products from `products`, all in one currency."""
    if not products:
        raise SynthUsageError("cannot build an order from an empty product list")
    currencies = {p.currency for p in products}
    if len(currencies) > 1:
        raise SynthUsageError(f"products must share one currency, got {sorted(currencies)}")
    picked = rng.sample(range(len(products)), min(len(products), 1 + int(rng.random() * 3)))
    lines = tuple(
        CartLine(product=products[i], quantity=_pick(rng, (1, 1, 1, 1, 1, 1, 1, 2, 2, 3), 1))
        for i in picked
    )
    cart = Cart(lines=lines, currency=products[0].currency)
    return Order(
        order_id=order_id,
        person_id=person.id,
        email=person.email,
        cart=cart,
        shipping_address=person.address,
        card=card,
        total_cents=cart.total_cents,
    )


def _pick(rng: random.Random, items: Sequence[_T], fallback: _T) -> _T:
    return items[int(rng.random() * len(items))] if items else fallback
