"""Playwright's errors as classified step errors whose message says what was awaited.

A timeout names its kind (a URL wait, an element wait, an assertion, a page load), the selector
or pattern, where the page was and the timeout that ran out; assertion failures keep
Playwright's expected and actual values. Refused connections are `connection`, other
Playwright errors `browser`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import TypeVar

from harness.errors import BrowserError, ConnectionFailed, ExpectationFailed, StepTimeout
from harness.redact import redact

T = TypeVar("T")

_TIMEOUT = re.compile(r"Timeout (\d+(?:\.\d+)?)ms exceeded")
_EXPECT_TIMEOUT = re.compile(r"with timeout (\d+(?:\.\d+)?)ms")
_MAX_DETAIL = 300


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def short_url(url: str) -> str:
    """The path of an http(s) URL (`/` when it has none); other URLs as they are."""
    match = re.match(r"^[a-z]+://[^/]+(/.*)?$", url)
    return (match.group(1) or "/") if match else url


def seconds(ms: float) -> str:
    """`5 s`, `0.5 s`: a Playwright timeout in milliseconds as a person reads it."""
    value = ms / 1000.0
    return f"{value:g} s"


def awaited(message: str) -> str | None:
    """The last thing Playwright's call log says it was waiting for, if any."""
    lines = [line.strip(" -") for line in message.splitlines()]
    waits = [line for line in lines if "waiting for" in line or "waiting until" in line]
    return waits[-1] if waits else None


def timeout_of(message: str) -> str | None:
    """The timeout Playwright says ran out (`5 s`), if its message says."""
    match = _TIMEOUT.search(message)
    return seconds(float(match.group(1))) if match else None


def assertion_detail(message: str) -> str:
    """Playwright's assertion message without its call log and page snapshot."""
    kept = []
    for line in message.strip().splitlines():
        if line.startswith(("Call log:", "Aria snapshot:")):
            break
        kept.append(line.strip())
    return redact(" · ".join(line for line in kept if line))[:_MAX_DETAIL]


def retried(message: str) -> str:
    """` (timed out after 5 s, waiting for locator("#buy"))`: how long a failed `expect(...)`
    retried and what for, from Playwright's call log ('' when it does not say)."""
    match = _EXPECT_TIMEOUT.search(message)
    if match is None:
        return ""
    waiting = awaited(message)
    detail = f", {redact(waiting)[:_MAX_DETAIL]}" if waiting else ""
    return f" (timed out after {seconds(float(match.group(1)))}{detail})"


async def guard(awaitable: Awaitable[T], what: str, where: str, *, navigation: bool = False) -> T:
    """Await a Playwright call, turning its errors into classified step errors. `what` says
    the action (`click get_by_role('button', name='Buy')`), `where` the page's path."""
    from playwright.async_api import Error, TimeoutError

    try:
        return await awaitable
    except TimeoutError as exc:
        message = str(exc)
        limit = timeout_of(message)
        after = f" after {limit}" if limit else ""
        waiting = awaited(message)
        detail = f" ({redact(waiting)[:_MAX_DETAIL]})" if waiting else ""
        if navigation:
            raise StepTimeout(f"{what}: page did not load{after}{detail}") from None
        raise ExpectationFailed(f"{what} on {where}: timed out{after}{detail}") from None
    except AssertionError as exc:  # Playwright's `expect(...)` assertions
        message = str(exc)
        raise ExpectationFailed(
            f"{what} on {where}: {assertion_detail(message)}{retried(message)}"
        ) from None
    except Error as exc:
        message = first_line(exc)
        if "ERR_CONNECTION_REFUSED" in message or "ERR_CONNECTION_RESET" in message:
            raise ConnectionFailed(f"{what}: {message}") from None
        raise BrowserError(f"{what} on {where}: {message}") from None
