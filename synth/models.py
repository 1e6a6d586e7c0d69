"""Pydantic models of the synthetic data: people, addresses, test cards, products, orders, devices.

All models are frozen, forbid unknown fields and round-trip exactly through
`model_dump_json()` / `model_validate_json()`. Validators enforce the promises the generators
make (test card prefixes and Luhn, reserved email domains, password policy, adult birth dates,
semantic app versions), so data read back from a file is held to the same rules.

Dates are judged against `REFERENCE_DATE`, a fixed day rather than today, so that generated data
is byte-identical on every run; generated card expiries lie 5 to 12 years after it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synth.cards import family_of, luhn_valid

REFERENCE_DATE: Final = dt.date(2026, 1, 1)
"""The fixed "today" of synthetic data; changing it changes every generated birth date/expiry."""

ADULT_AGE: Final = 18
MIN_SUPPORTED_APP_VERSION: Final = "3.0.0"
RESERVED_EMAIL_DOMAINS: Final = ("example.com", "example.org", "example.test")

_EMAIL = re.compile(r"^[^@\s]{1,64}@(example\.com|example\.org|example\.test)$")
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
)
_EXPIRY = re.compile(r"^(0[1-9]|1[0-2])/(\d\d)$")


class SynthModel(BaseModel):
    """Base of every synthetic-data model: frozen, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(SynthModel):
    """A postal address in the style of the generating locale (or of the edge profile)."""

    line1: str = Field(min_length=1)
    line2: str
    city: str = Field(min_length=1)
    postcode: str
    region: str
    country_code: str = Field(pattern=r"^[A-Z]{2}$")


def adult_cutoff(reference: dt.date = REFERENCE_DATE) -> dt.date:
    """The latest birth date of someone who is an adult on `reference`."""
    try:
        return reference.replace(year=reference.year - ADULT_AGE)
    except ValueError:  # reference is 29 February
        return reference.replace(year=reference.year - ADULT_AGE, day=28)


class Person(SynthModel):
    """A synthetic person; `id`, `email` and `username` are unique by construction."""

    id: str = Field(min_length=1)
    first_name: str = Field(min_length=1)
    last_name: str = Field(min_length=1)
    name: str = Field(min_length=1)
    email: str
    username: str = Field(min_length=1)
    phone: str
    password: str
    locale: str
    birth_date: dt.date
    address: Address

    @field_validator("email")
    @classmethod
    def _reserved_domain(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(
                f"email {value!r} must be local@domain with a domain reserved for testing "
                f"({', '.join(RESERVED_EMAIL_DOMAINS)})"
            )
        return value

    @field_validator("password")
    @classmethod
    def _password_policy(cls, value: str) -> str:
        problems = password_problems(value)
        if problems:
            raise ValueError(f"password does not meet the policy: {', '.join(problems)}")
        return value

    @field_validator("birth_date")
    @classmethod
    def _adult(cls, value: dt.date) -> dt.date:
        if value > adult_cutoff():
            raise ValueError(f"birth_date {value} is not an adult's on {REFERENCE_DATE}")
        return value


def password_problems(password: str) -> list[str]:
    """What a password lacks to meet the policy (>= 10 chars, upper, lower, digit, symbol)."""
    problems = []
    if len(password) < 10:
        problems.append("at least 10 characters")
    if not any(map(str.isupper, password)):
        problems.append("an upper-case letter")
    if not any(map(str.islower, password)):
        problems.append("a lower-case letter")
    if not any(map(str.isdigit, password)):
        problems.append("a digit")
    if all(map(str.isalnum, password)):
        problems.append("a symbol")
    return problems


class PaymentCard(SynthModel):
    """A test payment card: number from a published test range, Luhn-valid, expiry in the future.

    The expiry is "MM/YY" and must be after `REFERENCE_DATE`'s month.
    """

    brand: Literal["amex", "mastercard", "visa"]
    number: str
    expiry: str
    cvc: str
    holder: str = Field(min_length=1)

    @model_validator(mode="after")
    def _test_card(self) -> PaymentCard:
        family = family_of(self.number)
        if family is None or not luhn_valid(self.number):
            raise ValueError(
                f"card number {self.number!r} is not a Luhn-valid number inside a published "
                "test range (see synth.cards.CARD_FAMILIES)"
            )
        if family.brand != self.brand:
            raise ValueError(f"card number {self.number!r} is {family.brand}, not {self.brand}")
        if len(self.cvc) != family.cvc_length or not self.cvc.isdigit():
            raise ValueError(f"a {self.brand} cvc has {family.cvc_length} digits")
        match = _EXPIRY.match(self.expiry)
        if match is None:
            raise ValueError(f"expiry {self.expiry!r} must be MM/YY")
        month, year = int(match.group(1)), 2000 + int(match.group(2))
        if (year, month) <= (REFERENCE_DATE.year, REFERENCE_DATE.month):
            raise ValueError(f"expiry {self.expiry} is not after {REFERENCE_DATE:%m/%y}")
        return self


class Product(SynthModel):
    """A product; prices are integer minor units (cents) of an ISO 4217 currency."""

    sku: str = Field(min_length=1)
    name: str = Field(min_length=1)
    category: str
    price_cents: int = Field(gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class CartLine(SynthModel):
    """A product and how many of it."""

    product: Product
    quantity: int = Field(ge=1, le=99)

    @property
    def total_cents(self) -> int:
        """Price of the line in minor units."""
        return self.product.price_cents * self.quantity


class Cart(SynthModel):
    """A non-empty list of lines in one currency."""

    lines: tuple[CartLine, ...] = Field(min_length=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$")

    @model_validator(mode="after")
    def _one_currency(self) -> Cart:
        for line in self.lines:
            if line.product.currency != self.currency:
                raise ValueError(
                    f"product {line.product.sku} is priced in {line.product.currency}, "
                    f"the cart in {self.currency}"
                )
        return self

    @property
    def total_cents(self) -> int:
        """Sum of the lines in minor units."""
        return sum(line.total_cents for line in self.lines)


class Order(SynthModel):
    """An order a person places: cart, shipping address, test card and the expected total."""

    order_id: str = Field(min_length=1)
    person_id: str
    email: str
    cart: Cart
    shipping_address: Address
    card: PaymentCard
    total_cents: int

    @model_validator(mode="after")
    def _total_matches(self) -> Order:
        if self.total_cents != self.cart.total_cents:
            raise ValueError(
                f"total_cents {self.total_cents} differs from the cart's {self.cart.total_cents}"
            )
        return self


def semver_key(version: str) -> tuple[int, int, int, int]:
    """A sort key for a semantic version; a pre-release sorts before its release."""
    match = _SEMVER.match(version)
    if match is None:
        raise ValueError(f"{version!r} is not a semantic version such as 3.4.1")
    major, minor, patch = (int(match.group(i)) for i in (1, 2, 3))
    return major, minor, patch, 0 if match.group(4) else 1


class MobileDevice(SynthModel):
    """A mobile device the app runs on; `device_id` is unique by construction."""

    device_id: str = Field(min_length=1)
    model: str
    os: Literal["iOS", "Android"]
    os_version: str
    app_version: str

    @field_validator("app_version")
    @classmethod
    def _semver(cls, value: str) -> str:
        semver_key(value)
        return value

    @property
    def supported(self) -> bool:
        """Whether the app version is at least `MIN_SUPPORTED_APP_VERSION`."""
        return semver_key(self.app_version) >= semver_key(MIN_SUPPORTED_APP_VERSION)
