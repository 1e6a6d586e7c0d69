"""Bench-only journeys for `bench/load_overhead.py` (not sample journeys: they measure the harness).

- `bench_ping`: one API step, one GET of `BENCH_PING_URL` (an absolute URL, so that the ping can
  go to nginx while the target is another server) or, when unset, `/ping.json` under the
  target's API base (`<target>/api/v1/ping.json`).
- `bench_products`: one API step, one GET of `/products` (the sandbox's product list).
- `bench_browse`: one web step: open `/`, click a product link, wait for the product name.
"""

import os

from harness import journey

PING_URL = os.environ.get("BENCH_PING_URL") or "/ping.json"


@journey(tags={"bench"})
def bench_ping(j):
    """One request per iteration: the harness's cost over raw Locust's, per request."""
    with j.step("ping", on="api"):
        j.api.get(PING_URL)


@journey(tags={"bench"})
def bench_products(j):
    """One product-list request per iteration (the stall test of the open model)."""
    with j.step("products", on="api"):
        j.api.get("/products")


@journey(tags={"bench"})
def bench_browse(j):
    """Catalog, then one product page, in a fresh browser context."""
    with j.step("open product", on="web"):
        j.web.goto("/")
        j.web.click("[data-testid=product-link]")
        j.web.expect_visible("[data-testid=product-name]")
