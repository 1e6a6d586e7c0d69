"""`import harness` stays cheap: no locust, gevent, Playwright or OpenTelemetry SDK."""

from __future__ import annotations

import subprocess
import sys

import harness

HEAVY = ("locust", "gevent", "playwright", "opentelemetry.sdk", "geventhttpclient", "faker")


def test_import_harness_loads_no_heavy_module() -> None:
    code = (
        "import sys, harness, harness.journey, harness.errors\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}]\n"
        "print(','.join(sorted(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_is_pinned() -> None:
    assert harness.__all__ == sorted(harness.__all__)
    assert harness.__all__ == [
        "BrowserError",
        "ConnectionFailed",
        "ContractError",
        "ExpectationFailed",
        "HttpStatusError",
        "Journey",
        "StepTimeout",
        "journey",
    ]
