"""The `api` touchpoint: the product's public JSON API."""

from __future__ import annotations

from harness.touchpoints.http import HttpClient


class ApiClient(HttpClient):
    """`j.api`: JSON requests relative to the target's API base URL (e.g. `/api/v1`)."""

    touchpoint_name = "api"
