"""Render a run's report.html to a PNG in headless Chromium, offline.

    .venv/bin/python scripts/report_screenshot.py results/<run-id> [report.png] [--full-page]

Re-renders nothing: it opens the stored `report.html` as a file (every other request refused),
waits for it to load, and writes the screenshot (default: `<run>/report.png`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.report.offline import open_offline  # noqa: E402
from harness.touchpoints.web import CHROMIUM_FLAGS, find_chromium  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("output", type=Path, nargs="?")
    parser.add_argument("--full-page", action="store_true", help="the whole page, not one screen")
    options = parser.parse_args()
    report = options.run_dir / "report.html"
    if not report.is_file():
        print(f"no report.html in {options.run_dir} (run `harness report {options.run_dir}`)")
        return 2
    output = options.output or options.run_dir / "report.png"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_chromium(), args=list(CHROMIUM_FLAGS)
        )
        try:
            page, _ = open_offline(browser, report)
            page.screenshot(path=str(output), full_page=options.full_page)
        finally:
            browser.close()
    print(f"screenshot: {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
