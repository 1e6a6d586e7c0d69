"""The bundled sandbox target: a small shop with web, JSON API and mobile surfaces.

Importing this package is cheap: the web stack (Starlette, uvicorn) is imported only by the
server modules, which run in the sandbox's own process (`python -m harness.sandbox`).
"""

from __future__ import annotations

from harness.sandbox.process import SandboxProcess, SandboxUrls
from harness.sandbox.regressions import (
    Regression,
    RegressionKind,
    parse_regression,
    parse_regressions,
)
from harness.shop_routes import ROUTE_NAMES, ROUTES, RouteInfo, match_routes

__all__ = [
    "ROUTES",
    "ROUTE_NAMES",
    "Regression",
    "RegressionKind",
    "RouteInfo",
    "SandboxProcess",
    "SandboxUrls",
    "match_routes",
    "parse_regression",
    "parse_regressions",
]
