"""`Scratch`: the files the harness shares with its children, nameless in the temporary folder."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from harness.supervisor import Child, Scratch


def test_a_scratch_file_has_no_name_and_its_child_reads_and_writes_it_by_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    given, answer, log = Scratch("given-"), Scratch("answer-"), Scratch("log-")
    try:
        assert list(tmp_path.iterdir()) == []
        given.write_text("a longer text first")
        given.write_text("ping")  # replaces, not overwrites in place
        script = (
            "import sys; from pathlib import Path; "
            "Path(sys.argv[2]).write_text(Path(sys.argv[1]).read_text() + ' pong'); "
            "print('oops', file=sys.stderr); print('ready', flush=True)"
        )
        command = [sys.executable, "-c", script, str(given.path), str(answer.path)]
        child = Child("the echo", command, log, scratch=(given, answer))
        child.start()
        child.wait_ready(re.compile("ready"), 10)
        assert child.proc is not None and child.proc.wait(10) == 0
        child.stop()
        assert answer.read_text() == "ping pong"
        assert "oops" in child.stderr_tail()
    finally:
        for scratch in (given, answer, log):
            scratch.close()
    with pytest.raises(OSError, match="closed"):
        answer.read_text()  # its number may name another file by now
    assert list(tmp_path.iterdir()) == []
