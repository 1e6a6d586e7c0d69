"""`make test` runs the suite in two passes: `-n 3 -m "not alone"`, then `-m alone` one test at
a time, the unit tests beside it at nice 19. A test that reads a verdict must be in the second
pass, or it would share the two cores with another test, and its verdict would depend on what
ran beside it."""

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


def test_the_makefile_runs_both_passes_and_the_unit_tests_beside_the_second() -> None:
    root = INTEGRATION.parents[1]
    makefile = (root / "Makefile").read_text()
    test_target = makefile[makefile.index("\ntest:") :].split("\n\n")[0]
    assert "scripts/run-tests.sh" in test_target
    script = (root / "scripts" / "run-tests.sh").read_text()
    # every test in one pass: the rest but the unit tests, the alone ones, the unit tests
    assert '-n 3 --dist worksteal -m "not alone" --ignore=tests/unit' in script
    assert '"$BIN/pytest" -m alone\n' in script
    assert 'nice -n 19 "$BIN/pytest" -n 2 -m "not alone" tests/unit' in script
