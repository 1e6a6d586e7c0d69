"""Open a stored report.html in a Playwright (sync API) browser with the network shut off."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def open_offline(browser: Any, report: Path) -> tuple[Any, list[str]]:
    """Open `report` as a file with every non-file request refused; return the page and what
    went wrong on it (console errors, page errors, refused requests)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    def refuse(route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            problems.append(f"network request: {route.request.url}")
            route.abort()

    page.route("**/*", refuse)
    page.goto(report.resolve().as_uri(), wait_until="load")
    return page, problems
