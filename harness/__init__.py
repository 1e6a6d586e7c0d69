"""journey-harness: rehearse releases with cross-touchpoint user journeys.

`import harness` is cheap: it loads neither locust, gevent, Playwright nor the OpenTelemetry SDK.
"""

from __future__ import annotations

from harness.errors import (
    BrowserError,
    ConnectionFailed,
    ContractError,
    ExpectationFailed,
    HttpStatusError,
    StepTimeout,
)
from harness.journey import Journey, journey

__all__ = [
    "BrowserError",
    "ConnectionFailed",
    "ContractError",
    "ExpectationFailed",
    "HttpStatusError",
    "Journey",
    "StepTimeout",
    "journey",
]
__version__ = "0.1.0"
