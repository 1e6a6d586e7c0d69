"""Exceptions raised by journey-harness.

Two families: `StepError` subclasses classify why a journey step failed (the fault of the target
or of the journey), and `HarnessError` subclasses report bad input or configuration (the fault of
whoever ran the harness). Neither family is ever shown to a user as a traceback.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """Why a step failed; one value per `StepError` subclass, written into every step record."""

    ASSERTION = "assertion"
    HTTP_STATUS = "http_status"
    CONTRACT = "contract"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    BROWSER = "browser"
    JOURNEY = "journey"  # the journey's own code raised something unexpected


class StepError(Exception):
    """A step failed for a reason the harness can classify; ends the journey iteration."""

    kind: ErrorKind = ErrorKind.ASSERTION


class ExpectationFailed(StepError):
    """An expectation in a journey did not hold (wrong text, missing element, wrong value)."""

    kind = ErrorKind.ASSERTION


class HttpStatusError(StepError):
    """A response had a status code the journey did not expect."""

    kind = ErrorKind.HTTP_STATUS

    def __init__(self, message: str, *, status: int, method: str, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.url = url


class ContractError(StepError):
    """A response body did not match the model the journey validated it against."""

    kind = ErrorKind.CONTRACT


class StepTimeout(StepError):
    """A request, page action or wait ran past its deadline."""

    kind = ErrorKind.TIMEOUT


class ConnectionFailed(StepError):
    """The target could not be reached or dropped the connection."""

    kind = ErrorKind.CONNECTION


class BrowserError(StepError):
    """Chromium or Playwright failed in a way that is not a plain expectation or timeout."""

    kind = ErrorKind.BROWSER


class HarnessError(Exception):
    """Base of errors that stop the harness itself before or outside a journey."""


class UsageError(HarnessError):
    """A command-line argument, spec or path given by the user is invalid (exit code 2)."""


class ConfigError(UsageError):
    """`harness.toml` (or `[tool.harness]`) is invalid; the message names file, key and fix."""


class SpecError(UsageError):
    """A regression, fault or shape spec string is malformed; the message shows a valid example."""


class JourneyLoadError(UsageError):
    """A journey module could not be imported or declares an invalid journey."""


class TargetUnavailable(HarnessError):
    """The target did not answer before any load started (exit code 3)."""


class DamagedRunFolder(UsageError):
    """A file of a stored run folder is damaged: not JSON, the wrong shape, too large, or not a
    regular file (exit code 2). The message names the file."""


class UnreadableRunFolder(HarnessError):
    """A file of a stored run folder exists but could not be read: permissions, an I/O error
    (exit code 3). The message names the file."""
