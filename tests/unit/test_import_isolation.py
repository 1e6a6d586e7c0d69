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


def test_the_gates_leave_scipy_stats_to_the_judges_that_need_it() -> None:
    # `scipy.stats` costs 0.6 s of every judging process's start (its distributions build
    # their docstrings); the default gates need only `scipy.special`
    code = (
        "import sys, harness.gates.verdict, harness.gates.config, harness.gates.rules\n"
        "import harness.gates.kayenta, harness.gates.paired, harness.gates.sequential\n"
        "import harness.gates.threshold, harness.gates.tail_paired\n"
        "print('scipy.stats' in sys.modules, 'scipy.optimize' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
