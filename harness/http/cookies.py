"""The API and mobile touchpoints' cookie jar: the standard library's `http.cookiejar` (RFC 6265
as browsers apply it: domains, paths, `Secure`, expiry), one per virtual user, emptied with each
iteration. A request costs nothing more while the jar is empty."""

from __future__ import annotations

from collections.abc import Sequence
from http.cookiejar import CookieJar
from urllib.request import Request

__all__ = ["Jar"]


class _Answer:
    """What `CookieJar.extract_cookies` reads of a response: its `Set-Cookie` lines."""

    def __init__(self, set_cookies: Sequence[str]) -> None:
        self._set_cookies = list(set_cookies)

    def info(self) -> _Answer:
        return self

    def get_all(self, name: str, default: list[str] | None = None) -> list[str] | None:
        if name.lower() == "set-cookie":
            return self._set_cookies
        return default if default is not None else []


class Jar(CookieJar):
    """A `CookieJar` with the two calls the touchpoints make."""

    def header_for(self, method: str, url: str) -> str | None:
        """The `Cookie` header the jar sends with a request to `url`, None for none."""
        if not self._cookies:  # type: ignore[attr-defined]
            return None
        request = Request(url, method=method)
        self.add_cookie_header(request)
        return request.get_header("Cookie")

    def keep(self, method: str, url: str, set_cookies: Sequence[str]) -> None:
        """Keep the cookies an answer from `url` set (those its domain may set)."""
        if set_cookies:
            self.extract_cookies(_Answer(set_cookies), Request(url, method=method))  # type: ignore[arg-type]
