"""Record a HAR of one sample journey: `python record_har.py BASE_URL OUT.har [JOURNEY]`.

The journey runs as the harness runs it (`VirtualUser.run_iteration`, real Chromium); the
browser context is opened with Playwright's `record_har_path`, and the HAR is written when the
iteration closes it. A helper of `test_import_har.py`, run in a subprocess of its own.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from harness.journey import discover
from harness.records import Outcome
from harness.runtime import RunSettings
from harness.targets import Target
from harness.testing import RecordingSink
from harness.touchpoints.web import BrowserHost
from harness.virtual_user import VirtualUser

REPO = Path(__file__).resolve().parents[2]


def main(base_url: str, out: Path, name: str = "browse_and_buy") -> int:
    journey = next(j for j in discover([REPO / "journeys"]) if j.name == name)
    host = BrowserHost()
    host.start()
    new_context = host.browser.new_context

    async def recording(**options: Any) -> Any:
        return await new_context(record_har_path=str(out), **options)

    host.browser.new_context = recording  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="har-artifacts-") as artifacts:
        settings = RunSettings(
            run_id="har",
            target=Target.from_base_url(base_url, name="sandbox"),
            artifacts_dir=Path(artifacts),
            record_browser_trace=False,
            seed=11,
        )
        user = VirtualUser(index=0, settings=settings, sink=RecordingSink(), browser=lambda: host)
        try:
            record = user.run_iteration(journey, 0)
        finally:
            user.close()
            host.close()
    if record.outcome is not Outcome.PASSED:
        print(f"journey failed: {record.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2]), *sys.argv[3:]))
