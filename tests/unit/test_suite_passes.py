"""`make test` runs the suite in two passes: `-n 3 -m "not alone"`, then `-m alone` one test at
a time. A test that reads a verdict must be in the second pass, or it would share the two cores
with another test, and its verdict would depend on what ran beside it."""

from __future__ import annotations

import re
from pathlib import Path

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
ALONE = re.compile(r"pytest\.mark\.alone\b")
JUDGED = re.compile(r'verdict\.json|\["decision"\]|ExitCode\.INCONCLUSIVE')


def test_every_integration_module_that_reads_a_verdict_runs_alone() -> None:
    loose = [
        path.name
        for path in sorted(INTEGRATION.glob("test_*.py"))
        if JUDGED.search(path.read_text()) and not ALONE.search(path.read_text())
    ]
    assert not loose, f"mark these `pytest.mark.alone` (see the Makefile's test target): {loose}"


def test_the_makefile_runs_both_passes() -> None:
    makefile = (INTEGRATION.parents[1] / "Makefile").read_text()
    test_target = makefile[makefile.index("\ntest:") :].split("\n\n")[0]
    assert '-n 3 -m "not alone"' in test_target and "-m alone" in test_target
