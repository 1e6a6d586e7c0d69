"""Playwright's async page and context as `j.web.run(async_fn)` gives them (`Watched`).

`--browser-context reuse` keeps a context from one iteration to the next and replaces it after
an iteration that set something no clearing undoes (a route, a listener, an init script,
emulation: `web_locators.LASTING`). `j.web.page` notes such calls itself; the raw page handed
to `run` is Playwright's own object, so it is handed over watched: every name, call, property
and `isinstance(page, Page)` answer is Playwright's, and a `LASTING` call made on the page or
its context (`page.context`, `context.pages`) is noted in the session's `lasting` first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from harness.touchpoints.web_locators import LASTING, call_label


def watched_types() -> tuple[type, ...]:
    """The classes whose objects are watched: those `LASTING` calls change for good."""
    from playwright.async_api import BrowserContext, Page

    return (Page, BrowserContext)


def watch(value: Any, lasting: list[str], label: str) -> Any:
    """`value` watched when it is a page or a context (or a list of them), else as it is."""
    types = watched_types()
    if isinstance(value, Watched):
        return value
    if isinstance(value, types):
        return Watched(value, lasting, label)
    if isinstance(value, list) and any(isinstance(v, types) for v in value):
        return [watch(v, lasting, f"{label}[{i}]") for i, v in enumerate(value)]
    return value


class Watched:
    """Playwright's async `Page` or `BrowserContext`, unchanged but for one thing: a `LASTING`
    call (`route`, `on`, `add_init_script`, ...) is noted in `lasting` before it is made.
    `isinstance(watched, Page)` holds, and Playwright takes it wherever it takes the object."""

    __slots__ = ("_watched_label", "_watched_lasting", "_watched_target")

    def __init__(self, target: Any, lasting: list[str], label: str) -> None:
        object.__setattr__(self, "_watched_target", target)
        object.__setattr__(self, "_watched_lasting", lasting)
        object.__setattr__(self, "_watched_label", label)

    @property  # type: ignore[misc]  # isinstance(page, Page) answers for the watched object
    def __class__(self) -> type:
        return type(self._watched_target)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._watched_target, name)
        if name in LASTING and callable(value):
            return self._noted(name, value)
        if callable(value):
            return value
        return watch(value, self._watched_lasting, f"{self._watched_label}.{name}")

    def _noted(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        lasting, label = self._watched_lasting, self._watched_label

        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            lasting.append(f"{label}.{call_label(name, args, kwargs)}")
            return method(*args, **kwargs)

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._watched_target, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._watched_target, name)

    def __dir__(self) -> list[str]:
        return dir(self._watched_target)

    def __repr__(self) -> str:
        return repr(self._watched_target)

    def __str__(self) -> str:
        return str(self._watched_target)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Watched):
            other = object.__getattribute__(other, "_watched_target")
        return bool(self._watched_target == other)

    def __hash__(self) -> int:
        return hash(self._watched_target)

    def __bool__(self) -> bool:
        return bool(self._watched_target)
