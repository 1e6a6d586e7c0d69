"""Every model round-trips through JSON, and validators hold read-back data to the rules."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ValidationError

from synth.factory import SynthSource
from synth.models import (
    REFERENCE_DATE,
    Address,
    Cart,
    CartLine,
    MobileDevice,
    Order,
    PaymentCard,
    Person,
    Product,
    adult_cutoff,
    password_problems,
)


def _samples(profile: str) -> list[BaseModel]:
    source = SynthSource(seed=11, profile=profile)
    data = source.scope(1, 2)
    catalog = [source.scope(u, 0).product for u in range(5)]
    order = data.order(catalog)
    return [
        data.person,
        data.address,
        data.card,
        data.device,
        data.product,
        order.cart.lines[0],
        order.cart,
        order,
    ]


@pytest.mark.parametrize("profile", ["default", "edge"])
def test_every_model_round_trips_through_json(profile: str) -> None:
    samples = _samples(profile)
    assert {type(s) for s in samples} == {
        Person,
        Address,
        PaymentCard,
        MobileDevice,
        Product,
        CartLine,
        Cart,
        Order,
    }
    for sample in samples:
        text = sample.model_dump_json()
        again = type(sample).model_validate_json(text)
        assert again == sample
        assert again.model_dump_json() == text


@pytest.mark.parametrize("sample", _samples("default"), ids=lambda s: type(s).__name__)
def test_json_schema_describes_the_dump(sample: BaseModel) -> None:
    schema = type(sample).model_json_schema()
    dumped = json.loads(sample.model_dump_json())
    json.dumps(schema)  # serialisable
    assert set(schema["properties"]) == set(dumped)
    assert set(schema["required"]) == set(dumped)  # no hidden defaults
    assert schema.get("additionalProperties") is False


def test_models_are_frozen_and_forbid_extra() -> None:
    person = SynthSource(seed=1).scope(0, 0).person
    with pytest.raises(ValidationError):
        person.email = "x@example.test"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        Person.model_validate({**person.model_dump(), "ssn": "123"})


def _person_with(**changes: object) -> dict[str, object]:
    return {**SynthSource(seed=1).scope(0, 0).person.model_dump(), **changes}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "someone@gmail.com", "reserved for testing"),
        ("email", "no-at-sign.example.test", "reserved for testing"),
        ("password", "short1!A", "at least 10"),
        ("password", "alllowercase123!", "upper-case"),
        ("password", "NoSymbolsHere123", "symbol"),
        ("birth_date", REFERENCE_DATE, "not an adult"),
    ],
)
def test_person_validators_reject(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Person.model_validate(_person_with(**{field: value}))


def test_adult_cutoff_is_accepted() -> None:
    Person.model_validate(_person_with(birth_date=adult_cutoff()))
    assert password_problems("Aa1!aaaaaa") == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"number": "4111111111111111"}, "published"),  # Luhn-valid, but not a test prefix
        ({"number": "4242424242424241"}, "published"),  # test prefix, wrong check digit
        ({"brand": "mastercard"}, "is visa"),
        ({"expiry": f"{REFERENCE_DATE:%m/%y}"}, "not after"),
        ({"expiry": "13/40"}, "MM/YY"),
        ({"cvc": "1234"}, "3 digits"),
    ],
)
def test_card_validators_reject(changes: dict[str, str], message: str) -> None:
    base = {
        "brand": "visa",
        "number": "4242424242424242",
        "expiry": "12/34",
        "cvc": "123",
        "holder": "A B",
    }
    PaymentCard.model_validate(base)
    with pytest.raises(ValidationError, match=message):
        PaymentCard.model_validate({**base, **changes})


def test_order_total_and_cart_currency_are_checked() -> None:
    order = SynthSource(seed=3).scope(0, 0).order([SynthSource(seed=3).scope(9, 9).product])
    with pytest.raises(ValidationError, match="differs"):
        Order.model_validate({**order.model_dump(), "total_cents": order.total_cents + 1})
    with pytest.raises(ValidationError, match="priced in"):
        Cart.model_validate({**order.cart.model_dump(), "currency": "EUR"})


def test_device_version_rules() -> None:
    base = {"device_id": "d", "model": "m", "os": "iOS", "os_version": "17", "app_version": ""}
    assert MobileDevice.model_validate({**base, "app_version": "3.0.0"}).supported
    assert not MobileDevice.model_validate({**base, "app_version": "2.99.99"}).supported
    assert not MobileDevice.model_validate({**base, "app_version": "3.0.0-rc.1"}).supported
    with pytest.raises(ValidationError, match="semantic version"):
        MobileDevice.model_validate({**base, "app_version": "3.0"})
