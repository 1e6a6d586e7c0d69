"""A 2 GB sparse `steps.jsonl` (NUL bytes, no newline): `harness report` and `harness gates`
read it in bounded memory, in a real process, and say it is damaged."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.unit.test_damaged_folders import build_rehearsal

REPO = Path(__file__).resolve().parents[2]
SPARSE_BYTES = int(os.environ.get("HARNESS_SPARSE_MB", "2048")) * 1024**2
RSS_LIMIT_MB = 300


# The child reports its own VmHWM at exit: the high-water mark of the address space it got at
# exec. `wait4`'s ru_maxrss is no good here: Linux keeps the larger of it and the pre-exec
# memory, and a fork of a pytest process that has run the whole suite is ≈ 350 MB by itself.
_CHILD = """
import atexit, sys
def _report():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            sys.stderr.write('PEAK_RSS_KB ' + line.split()[1] + chr(10))
atexit.register(_report)
from harness.cli import main
sys.exit(main())
"""


def _peak_rss_mb(argv: list[str]) -> tuple[int, float, str, float]:
    """Run the CLI; (exit code, peak RSS in MB of that process alone, stderr, seconds)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        timeout=240,
        check=False,
    )
    err = done.stderr.decode("utf-8", "replace")
    peaks = [line.split()[1] for line in err.splitlines() if line.startswith("PEAK_RSS_KB ")]
    assert peaks, f"the child did not report its peak RSS: {err[-2000:]}"
    return done.returncode, int(peaks[-1]) / 1024, err, time.perf_counter() - started


@pytest.fixture
def sparse_run(tmp_path: Path) -> Path:
    run = build_rehearsal(tmp_path / "20261128-160000-rehearse-ab12")
    steps = run / "steps.jsonl"
    steps.unlink()
    with open(steps, "wb") as out:
        out.truncate(SPARSE_BYTES)
    if os.stat(steps).st_blocks * 512 > 64 * 1024**2:
        pytest.skip("this file system does not keep sparse files sparse")
    return run


@pytest.mark.parametrize(
    ("command", "codes", "words"),
    [
        ("report", {0}, "steps.jsonl: unreadable"),
        ("gates", {2}, "holds no readable record"),
    ],
)
def test_a_2gb_sparse_steps_file_is_read_in_bounded_memory(
    sparse_run: Path, command: str, codes: set[int], words: str
) -> None:
    code, rss_mb, err, seconds = _peak_rss_mb([command, str(sparse_run)])
    print(f"harness {command} on a 2 GB sparse steps.jsonl: {rss_mb:.0f} MB, {seconds:.1f} s")
    assert code in codes, err
    assert "Traceback" not in err and words in err
    assert rss_mb < RSS_LIMIT_MB
