"""Data profiles and the mobile device mix.

`default` draws from the locale's own word lists. `edge` is for journeys that opt in to data
that breaks naive code: long and Unicode names, right-to-left scripts (Arabic, Hebrew), emoji
(including ZWJ sequences), combining marks, apostrophes, plus-addressed emails and very long
address lines. The device mix weights device models, OS versions and app versions, and can
put a share of devices on an unsupported app version (below `MIN_SUPPORTED_APP_VERSION`).
"""

from __future__ import annotations

import difflib
from typing import Final, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from synth.errors import SynthUsageError
from synth.models import MIN_SUPPORTED_APP_VERSION, semver_key

Profile = Literal["default", "edge"]
PROFILES: Final[tuple[str, ...]] = ("default", "edge")


def check_profile(profile: str) -> Profile:
    """Return `profile` if it is known; SynthUsageError naming the allowed ones otherwise."""
    if profile in PROFILES:
        return cast(Profile, profile)
    close = difflib.get_close_matches(profile, PROFILES, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise SynthUsageError(f"unknown profile {profile!r}: use 'default' or 'edge'{hint}")


# Each edge list mixes the cases on purpose; decomposed forms (base + U+0301/U+0308) are kept
# decomposed so that code normalising (or failing to) is exercised.
EDGE_FIRST_NAMES: Final = (
    "محمد",  # Arabic (RTL)
    "فاطمة الزهراء",
    "דוד",  # Hebrew (RTL)
    "שָׂרָה",  # Hebrew with niqqud (combining marks)
    "Jose\u0301",
    "Zoe\u0308",
    "Renée",
    "Łukasz",
    "Søren",
    "Siobhán",
    "Nguyễn Thị Minh",
    "李",
    "さくら",
    "Дмитрий",
    "Ἀλέξανδρος",
    "ʻIolani",
    "Ana 🌸",
    "👩\u200d💻",
    "Mary-Jane",
    "D'Angelo",
    "Null",
    "Ｊｏｈｎ",  # full-width letters
    "Maximiliana Alexandrina Konstantina Theodora Wilhelmina",
    "A",
)
EDGE_LAST_NAMES: Final = (
    "عبد الرحمن",
    "الفارسي",
    "כהן",
    "בֶּן־יְהוּדָה",
    "Mu\u0308ller",
    "O'Brien",
    "García Márquez",
    "van der Berg",
    "Dvořák",
    "Ó Conaill",
    "Nuñez-Ibáñez",
    "Wolfeschlegelsteinhausenbergerdorff",
    "Sánchez de la Cruz y Fernández de Córdoba y Mendoza",
    "Øre",
    "Ng",
    "王",
    "たなか",
    "Смирнова",
    "🦄",
    "Test",
    "X Æ A-12",
)
EDGE_STREETS: Final = (
    "شارع الملك فهد 12",
    "רחוב הרצל 7",
    "12 Straße des 17. Juni",
    "Calle de Nuestra Señora de la Consolación y del Perpetuo Socorro, 1234, Escalera B, "
    "Planta 7, Puerta Izquierda, Urbanización Los Jardines del Mediterráneo Oriental",
    "1 Infinite Loop 🏠",
    "Ｆｕｌｌｗｉｄｔｈ Avenue 9",
    "Apartment 4\u20442, 221B Baker Street",  # fraction slash
    "7 Rue de l'Église",
    "Flat 3, Ty'n-y-Coed, Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch Road",
)
EDGE_CITIES: Final = (
    "القاهرة",
    "תל אביב-יפו",
    "São Paulo",
    "Zürich",
    "Ōsaka",
    "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch",
    "Krung Thep Maha Nakhon Amon Rattanakosin Mahinthara Ayuthaya Mahadilok Phop",
    "Ḩalab",
    "Reykjavík",
    "Y",
)
EDGE_LINE2: Final = (
    "",
    "c/o Ünïcödé & Søns, Building 7 — Floor 12 — Desk 🪑",
    "דירה 4",
    "الطابق الثالث",
    "Suite 100; DROP TABLE addresses;--",
    "<b>Unit 5</b>",
)
EDGE_EMAIL_TAGS: Final = ("", "rehearsal", "shop.test", "a-b_c", "🚀-not-ascii-tag")
LONG_LINE_PAD: Final = " — Gewerbegebiet Nord-Ost, Halle 14, Eingang C, Anlieferung über Tor 3"


class DeviceMix(BaseModel):
    """Which devices, OS versions and app versions generated `MobileDevice`s have.

    `unsupported_share` is the probability (0..1) that a device runs an app version below
    `MIN_SUPPORTED_APP_VERSION`; `ios_share` the probability that it is an iPhone.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    unsupported_share: float = Field(default=0.0, ge=0.0, le=1.0)
    ios_share: float = Field(default=0.45, ge=0.0, le=1.0)
    ios_models: dict[str, float] = {
        "iPhone 15 Pro": 14,
        "iPhone 15": 12,
        "iPhone 14": 12,
        "iPhone 13": 10,
        "iPhone SE (3rd generation)": 4,
    }
    android_models: dict[str, float] = {
        "Samsung Galaxy S24": 10,
        "Samsung Galaxy A54": 12,
        "Google Pixel 8": 8,
        "Xiaomi Redmi Note 13": 9,
        "Motorola Moto G84": 5,
        "OnePlus 12": 4,
    }
    ios_versions: dict[str, float] = {
        "18.1": 30,
        "18.0.1": 15,
        "17.6.1": 25,
        "17.5": 10,
        "16.7.10": 8,
    }
    android_versions: dict[str, float] = {"15": 20, "14": 45, "13": 25, "12": 10}
    supported_app_versions: dict[str, float] = {
        "3.4.2": 50,
        "3.4.1": 20,
        "3.3.0": 15,
        "3.1.5": 10,
        "3.0.0": 5,
    }
    unsupported_app_versions: dict[str, float] = {"2.9.7": 60, "2.8.3": 30, "1.12.0": 10}

    @model_validator(mode="after")
    def _consistent(self) -> DeviceMix:
        tables = {
            "ios_models": self.ios_models,
            "android_models": self.android_models,
            "ios_versions": self.ios_versions,
            "android_versions": self.android_versions,
            "supported_app_versions": self.supported_app_versions,
            "unsupported_app_versions": self.unsupported_app_versions,
        }
        for name, table in tables.items():
            if not table or any(w < 0 for w in table.values()) or sum(table.values()) <= 0:
                raise ValueError(f"{name} needs at least one entry and positive weights")
        floor = semver_key(MIN_SUPPORTED_APP_VERSION)
        for version in self.supported_app_versions:
            if semver_key(version) < floor:
                raise ValueError(
                    f"supported app version {version} is below {MIN_SUPPORTED_APP_VERSION}"
                )
        for version in self.unsupported_app_versions:
            if semver_key(version) >= floor:
                raise ValueError(
                    f"unsupported app version {version} is not below {MIN_SUPPORTED_APP_VERSION}"
                )
        return self
