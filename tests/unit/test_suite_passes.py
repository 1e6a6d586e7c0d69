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
    assert 'nice -n 19 "$BIN/pytest" -n 2 -m "not alone" -o cache_dir=' in script


def test_pytest_lf_reruns_what_failed_in_the_unit_tests_and_in_the_alone_pass(
    tmp_path: Path,
) -> None:
    """The unit tests run beside the `alone` pass; one `lastfailed` written by both would keep
    only the failures of the run that ends last."""
    import os
    import shutil
    import subprocess
    import sys

    root = INTEGRATION.parents[1]
    (tmp_path / "scripts").mkdir()
    for name in ("run-tests.sh", "fold-lastfailed.py"):
        shutil.copy(root / "scripts" / name, tmp_path / "scripts" / name)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    alone: one at a time\n")
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    # each test runs once both runs have loaded their cache (a rendezvous: on a busy machine
    # the niced unit run may start long after the other)
    meet = (
        "import pathlib, time\n\ndef meet(me, other):\n"
        "    pathlib.Path(me).touch()\n"
        "    end = time.monotonic() + 60\n"
        "    while not pathlib.Path(other).exists() and time.monotonic() < end:\n"
        "        time.sleep(0.05)\n\n"
    )
    unit = tmp_path / "tests" / "unit" / "test_u.py"
    unit.write_text(meet + "def test_u():\n    meet('u.here', 'alone.here')\n    assert False\n")
    (tmp_path / "tests" / "test_rest.py").write_text(
        meet + "import pytest\n\ndef test_rest():\n    pass\n\n"
        "@pytest.mark.alone\ndef test_alone():\n    meet('alone.here', 'u.here')\n"
        "    assert False\n"
    )
    bin_dir = str(Path(sys.executable).parent)
    # only xdist: the installed plugins (Locust's gevent, the harness's own) take seconds to load
    env = os.environ | {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTEST_PLUGINS": "xdist.plugin"}

    def run_and_rerun() -> str:
        run = subprocess.run(
            ["bash", "scripts/run-tests.sh", bin_dir],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert run.returncode == 1, run.stdout + run.stderr
        again = subprocess.run(
            [f"{bin_dir}/pytest", "--lf", "--co", "-q"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        return again.stdout

    listed = run_and_rerun()
    assert "tests/unit/test_u.py::test_u" in listed
    assert "tests/test_rest.py::test_alone" in listed
    for here in tmp_path.glob("*.here"):
        here.unlink()
    unit.write_text(meet + "def test_u():\n    meet('u.here', 'alone.here')\n")  # fixed
    listed = run_and_rerun()
    assert "test_u" not in listed
    assert "tests/test_rest.py::test_alone" in listed
