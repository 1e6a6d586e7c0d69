"""report.html of real runs (a short rehearsal with a seeded regression, a smoke run with a
broken checkout button), opened offline in real headless Chromium."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.report import write_all
from harness.report.offline import open_offline
from harness.touchpoints.web import CHROMIUM_FLAGS, find_chromium
from tests.integration.conftest import REPO, LatencyRehearsal, only_run_dir, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.alone]

MAX_BYTES = 3_000_000


@pytest.fixture(scope="module")
def rehearsal(latency_rehearsal: LatencyRehearsal) -> Path:
    # the session's +150 ms rehearsal (test_rehearse.py checks its verdict)
    assert latency_rehearsal.code in (0, 1, 4), latency_rehearsal.output[-3000:]
    return latency_rehearsal.run_dir


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("smoke")
    done = run_cli(
        "smoke", "--sandbox", "--regression", "ui:place-order", "-k", "browse_and_buy",
        "--results", str(results),
    )  # fmt: skip
    assert done.code == 1, done.out[-2000:] + done.err[-2000:]
    return only_run_dir(results)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # the sync API runs its own event loop: fine here, in the plain (un-patched) test process
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=find_chromium(), args=list(CHROMIUM_FLAGS)
        )
        yield launched
        launched.close()


def charts_drawn(page: Any) -> list[int]:
    """The number of path elements in each chart whose box is not empty."""
    return list(
        page.eval_on_selector_all(
            "figure svg",
            """els => els.map(e => {
                const box = e.getBoundingClientRect();
                return box.width > 0 && box.height > 0 ? e.querySelectorAll('path').length : 0;
            })""",
        )
    )


def test_rehearsal_report_opens_offline_with_every_chart(browser: Any, rehearsal: Path) -> None:
    started = time.perf_counter()
    report, junit, summary = write_all(rehearsal)
    elapsed = time.perf_counter() - started
    assert elapsed < 15, f"reports took {elapsed:.1f} s"
    assert report.stat().st_size < MAX_BYTES
    verdict = json.loads((rehearsal / "verdict.json").read_text(encoding="utf-8"))
    page, problems = open_offline(browser, report)
    try:
        banner = page.locator(".banner .decision")
        assert banner.is_visible() and banner.inner_text() == verdict["decision"].upper()
        drawn = charts_drawn(page)
        # CDFs per journey, throughput, funnels per journey, impact map, health
        assert len(drawn) >= 6 and all(n > 0 for n in drawn), drawn
        assert page.locator("table.gates details").count() == len(verdict["gates"])
        assert problems == []
    finally:
        page.close()
    cases = ET.parse(junit).getroot().findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == [g["name"] for g in verdict["gates"]]
    assert json.loads(summary.read_text(encoding="utf-8"))["decision"] == verdict["decision"]


def test_smoke_report_embeds_the_failure_screenshot(browser: Any, smoke: Path) -> None:
    report, junit, _ = write_all(smoke)
    page, problems = open_offline(browser, report)
    try:
        assert page.locator(".banner .decision").inner_text() == "FAILED"
        assert page.get_by_text("browse_and_buy › checkout [web]").first.is_visible()
        image = page.locator('img[src^="data:image/png;base64,"]').first
        image.scroll_into_view_if_needed()
        assert image.evaluate("i => i.complete && i.naturalWidth") > 0
        assert page.locator("#failures pre").first.inner_text().startswith("journey browse_and_buy")
        assert all(n > 0 for n in charts_drawn(page))
        assert problems == []
    finally:
        page.close()
    failure = ET.parse(junit).getroot().find("testsuite/testcase/failure")
    assert failure is not None
    assert (failure.get("message") or "").startswith("browse_and_buy › checkout [web] assertion:")


def test_report_screenshot_script_writes_a_png(rehearsal: Path, tmp_path: Path) -> None:
    output = tmp_path / "report.png"
    script = REPO / "scripts" / "report_screenshot.py"
    done = subprocess.run(
        [sys.executable, str(script), str(rehearsal), str(output)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
