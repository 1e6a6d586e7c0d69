"""Feature flags: values set with `--flags` / `--flag-matrix`, served through the OpenFeature SDK.

Each flag set (one per target of a run) is an OpenFeature in-memory provider registered under
its own domain, so that two variants of one deployment can run side by side in a process (a
flag matrix). A journey reads `j.flags`; every API and mobile request of the iteration, and
every request its browser context makes, carries the values in one header:

    X-Feature-Flags: new_checkout=on,search_v2=off

The OpenFeature SDK is imported only when a run has flags, so `import harness` stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.errors import SpecError

if TYPE_CHECKING:
    from openfeature.client import OpenFeatureClient

FLAG_HEADER = "x-feature-flags"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_VALUE = re.compile(r"^[A-Za-z0-9_.-]+$")
ON_VALUES = frozenset({"on", "true", "yes", "1", "enabled"})
OFF_VALUES = frozenset({"off", "false", "no", "0", "disabled"})
_FLAGS_EXAMPLE = "--flags new_checkout=on (or --flags new_checkout=on,search_v2=off)"
_MATRIX_EXAMPLE = "--flag-matrix new_checkout=on,off"


def parse_flags(specs: Sequence[str]) -> dict[str, str]:
    """`["new_checkout=on", "a=1,b=2"]` → `{"new_checkout": "on", "a": "1", "b": "2"}`.

    Raises `SpecError` naming the flag and showing an example.
    """
    values: dict[str, str] = {}
    for spec in specs:
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            name, eq, value = (x.strip() for x in part.partition("="))
            _check(part, name, value, eq, "--flags", _FLAGS_EXAMPLE)
            values[name] = value
    return values


def parse_flag_matrix(spec: str) -> tuple[str, list[str]]:
    """`new_checkout=on,off` → `("new_checkout", ["on", "off"])`: one flag, two or more values.

    Raises `SpecError` when the spec is malformed or names fewer than two distinct values.
    """
    name, eq, rest = (x.strip() for x in spec.partition("="))
    values = [v.strip() for v in rest.split(",") if v.strip()]
    for value in values or [""]:
        _check(spec, name, value, eq, "--flag-matrix", _MATRIX_EXAMPLE)
    if len(set(values)) != len(values) or len(values) < 2:
        raise SpecError(
            f"--flag-matrix {spec!r}: give one flag and at least two different values to "
            f"compare, e.g. {_MATRIX_EXAMPLE}"
        )
    return name, values


def control_value(values: Sequence[str]) -> str:
    """The variant a flag matrix treats as the baseline: the "off" value when there is one (the
    world without the flag), else the first value given."""
    for value in values:
        if value.lower() in OFF_VALUES:
            return value
    return values[0]


def _check(spec: str, name: str, value: str, eq: str, option: str, example: str) -> None:
    if not eq or not _NAME.match(name) or not _VALUE.match(value):
        raise SpecError(
            f"{option} {spec!r} is not NAME=VALUE: a flag name starts with a letter and has "
            f"letters, digits, '_', '-' or '.'; a value is one word (on, off, v2, 25). "
            f"Example: {example}"
        )


def format_header(values: Mapping[str, str]) -> str:
    """The `X-Feature-Flags` header value for flag values, sorted by name."""
    return ",".join(f"{name}={value}" for name, value in sorted(values.items()))


def parse_header(header: str) -> dict[str, str]:
    """Flag values from an `X-Feature-Flags` header; malformed parts are ignored."""
    values: dict[str, str] = {}
    for part in header.split(","):
        name, eq, value = (x.strip() for x in part.partition("="))
        if eq and name:
            values[name] = value
    return values


def flags_on(header: str) -> frozenset[str]:
    """The names of the flags an `X-Feature-Flags` header turns on."""
    return frozenset(n for n, v in parse_header(header).items() if v.lower() in ON_VALUES)


def is_on(value: str) -> bool:
    """Whether a flag value means "on" (`on`, `true`, `yes`, `1`, `enabled`)."""
    return value.lower() in ON_VALUES


_registered: dict[str, tuple[tuple[str, str], ...]] = {}


def client_for(domain: str, values: Mapping[str, str]) -> OpenFeatureClient:
    """The OpenFeature client of one flag set: an in-memory provider under `domain` (registered
    once per domain and set of values; re-registered if the values change)."""
    from openfeature import api
    from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

    key = tuple(sorted(values.items()))
    if _registered.get(domain) != key:
        flags = {
            name: InMemoryFlag(default_variant=value, variants={value: value})
            for name, value in values.items()
        }
        api.set_provider(InMemoryProvider(flags), domain=domain)
        _registered[domain] = key
    return api.get_client(domain=domain)


@dataclass
class IterationFlags:
    """`j.flags`: this iteration's flag values, evaluated through OpenFeature with the
    iteration's synthetic person as the targeting key."""

    names: tuple[str, ...]
    client: OpenFeatureClient | None
    targeting_key: str

    def value(self, name: str, default: str = "off") -> str:
        """The flag's value for this iteration's person (`default` for an unknown flag)."""
        if self.client is None or name not in self.names:
            return default
        from openfeature.evaluation_context import EvaluationContext

        return self.client.get_string_value(
            name, default, EvaluationContext(targeting_key=self.targeting_key)
        )

    def enabled(self, name: str) -> bool:
        """Whether the flag is on for this iteration's person."""
        return is_on(self.value(name))

    def values(self) -> dict[str, str]:
        """Every configured flag's value for this iteration."""
        return {name: self.value(name) for name in self.names}

    def header(self) -> dict[str, str]:
        """The request header carrying the values (empty when the run has no flags)."""
        return {FLAG_HEADER: format_header(self.values())} if self.names else {}


def iteration_flags(domain: str, values: Mapping[str, str], targeting_key: str) -> IterationFlags:
    """The flags of one iteration (no OpenFeature import when `values` is empty)."""
    if not values:
        return IterationFlags((), None, targeting_key)
    return IterationFlags(tuple(sorted(values)), client_for(domain, values), targeting_key)
