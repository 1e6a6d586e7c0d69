"""Response headers looked up whatever the case of the name, as requests' and httpx's are:
`response.headers["Content-Type"]` and `["content-type"]` are one header; and the charset a
`Content-Type` names, which `.text` decodes with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["Headers", "charset_of"]


class Headers(dict[str, str]):
    """A dict of header names in lower case whose lookups lower the name they are given (the
    wire stores them lower-cased, so reads the transport makes cost nothing more)."""

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> Headers:
        """`headers` as a `Headers` (itself when it is one already)."""
        if isinstance(headers, Headers):
            return headers
        return cls((name.lower(), value) for name, value in headers.items())

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name.lower() if isinstance(name, str) else name)

    def get(self, name: str, default: Any = None) -> Any:
        """The value of header `name` (any case), `default` when absent."""
        return dict.get(self, name.lower(), default)


def charset_of(content_type: str | None) -> str | None:
    """The `charset` parameter of a `Content-Type` value, None when it names none."""
    if not content_type or "charset" not in content_type.lower():
        return None
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None
