"""Playwright's async page and context as `j.web.run(async_fn)` hands them over: its own objects.

`--browser-context reuse` keeps a context from one iteration to the next and replaces it after
an iteration that set something no clearing undoes (a route, a listener, an init script,
emulation: `web_locators.LASTING`). `j.web.page` notes such calls itself. For the time of a
`j.web.run`, the session's context and page note them too: each `LASTING` method of the two
objects is shadowed by an attribute of the object itself that notes the call in the session's
`lasting`, then makes it. Playwright hands out one object per browser object (`page.context`,
`context.pages`, a new page's or a popup's `.context`, a locator's `.page` are the same
objects), so a call is noted however the journey reached them, and nothing else changes: the
page is Playwright's own (`type`, identity, `isinstance`, every other attribute). Other pages
the run opens are closed before the next iteration, and what was set on them goes with them.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from harness.touchpoints.web_locators import LASTING, call_label


@contextlib.contextmanager
def noting(objects: Iterable[tuple[Any, str]], lasting: list[str]) -> Iterator[None]:
    """While open, a `LASTING` call on one of `objects` (`(object, label)`) is noted in
    `lasting` as `label.name(args)`; on leaving, the objects are as they were."""
    shadowed: list[tuple[Any, str]] = []
    try:
        for target, label in objects:
            for name in sorted(LASTING):
                if callable(getattr(type(target), name, None)) and name not in vars(target):
                    setattr(target, name, _noted(getattr(target, name), name, label, lasting))
                    shadowed.append((target, name))
        yield
    finally:
        for target, name in shadowed:
            vars(target).pop(name, None)


def _noted(
    method: Callable[..., Any], name: str, label: str, lasting: list[str]
) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        lasting.append(f"{label}.{call_label(name, args, kwargs)}")
        return method(*args, **kwargs)

    return call
