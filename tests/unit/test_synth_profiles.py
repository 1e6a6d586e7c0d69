"""The edge profile really is edgy; the device mix honours its weights; locales are locales."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from synth.factory import SynthSource
from synth.models import Person
from synth.profiles import DeviceMix


def _people(profile: str, n: int = 300, locale: str = "en_US") -> list[Person]:
    source = SynthSource(seed=21, profile=profile, locale=locale)
    return [source.scope(u, 0).person for u in range(n)]


def _text(person: Person) -> str:
    a = person.address
    return " ".join((person.name, a.line1, a.line2, a.city))


def _is_rtl(ch: str) -> bool:
    return unicodedata.bidirectional(ch) in ("R", "AL")


def _is_emoji(ch: str) -> bool:
    return ord(ch) >= 0x1F000


def _is_combining(ch: str) -> bool:
    return unicodedata.combining(ch) > 0


@pytest.mark.parametrize(
    ("name", "check", "minimum"),
    [
        ("right-to-left", _is_rtl, 15),
        ("emoji", _is_emoji, 5),
        ("combining marks", _is_combining, 5),
    ],
)
def test_edge_people_contain(name: str, check: Callable[[str], bool], minimum: int) -> None:
    hits = [p for p in _people("edge") if any(map(check, _text(p)))]
    assert len(hits) >= minimum, name
    assert not [p for p in _people("default") if any(map(check, _text(p)))]


def test_edge_people_have_long_fields_and_plus_addresses() -> None:
    edge = _people("edge")
    assert sum(len(p.address.line1) > 120 for p in edge) >= 30
    assert max(len(p.name) for p in edge) > 50
    assert sum("+" in p.email for p in edge) == len(edge)
    assert any("'" in p.email for p in edge)
    assert all(len(p.password) >= 40 for p in edge)
    default = _people("default")
    assert max(len(p.address.line1) for p in default) < 80
    assert not any("+" in p.email for p in default)


@pytest.mark.parametrize("share", [0.0, 0.25, 1.0])
def test_unsupported_share_is_roughly_honoured(share: float) -> None:
    source = SynthSource(seed=3, device_mix=DeviceMix(unsupported_share=share))
    devices = [source.scope(u, 0).device for u in range(2000)]
    measured = sum(not d.supported for d in devices) / len(devices)
    assert abs(measured - share) < 0.04
    assert {d.os for d in devices} == {"iOS", "Android"} or share in (0.0, 1.0)
    for d in devices:
        assert d.model in (DeviceMix().ios_models if d.os == "iOS" else DeviceMix().android_models)


def test_device_mix_weights_shape_the_models() -> None:
    mix = DeviceMix(ios_share=1.0, ios_models={"iPhone 15": 9, "iPhone SE": 1})
    source = SynthSource(seed=8, device_mix=mix)
    models = Counter(source.scope(u, 0).device.model for u in range(1000))
    assert set(models) == {"iPhone 15", "iPhone SE"}
    assert 0.85 < models["iPhone 15"] / 1000 < 0.95


def test_device_mix_rejects_inconsistent_tables() -> None:
    with pytest.raises(ValidationError, match=r"below 3\.0\.0"):
        DeviceMix(supported_app_versions={"2.9.0": 1})
    with pytest.raises(ValidationError, match="not below"):
        DeviceMix(unsupported_app_versions={"3.1.0": 1})
    with pytest.raises(ValidationError):
        DeviceMix(unsupported_share=1.5)


@pytest.mark.parametrize(
    ("locale", "country", "script_check"),
    [
        ("de_DE", "DE", lambda s: any(c in "äöüßÄÖÜ" for c in s)),
        ("he_IL", "IL", lambda s: any(_is_rtl(c) for c in s)),
        ("ja_JP", "JP", lambda s: any(unicodedata.name(c, "").startswith("CJK") for c in s)),
    ],
)
def test_locales_use_their_own_words(
    locale: str, country: str, script_check: Callable[[str], bool]
) -> None:
    people = _people("default", 100, locale)
    assert {p.address.country_code for p in people} == {country}
    assert {p.locale for p in people} == {locale}
    assert sum(script_check(_text(p)) for p in people) > 20
