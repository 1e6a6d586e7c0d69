"""`harness results prune`: which run folders go, and what is never touched (folders without
run.json, symlinks, anything outside the results root, a run still going on)."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.prune import parse_age, select, stored_runs

DAY = 86_400.0


def _run(root: Path, name: str, age_days: float, **meta: object) -> Path:
    folder = root / name
    (folder / "artifacts").mkdir(parents=True)
    started = datetime.fromtimestamp(time.time() - age_days * DAY, UTC).isoformat()
    data = {"run_id": name, "status": "passed", "started_at": started, **meta}
    (folder / "run.json").write_text(json.dumps(data))
    (folder / "steps.jsonl").write_text("x" * 1000)
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Five runs 1, 3, 8, 10 and 30 days old, and things that are not run folders."""
    results = tmp_path / "results"
    for name, age in (("r1", 1), ("r3", 3), ("r8", 8), ("r10", 10), ("r30", 30)):
        _run(results, name, age)
    (results / "notes").mkdir()  # no run.json: not a run folder
    (results / "notes" / "todo.txt").write_text("keep me")
    (results / ".gitkeep").write_text("")
    outside = _run(tmp_path / "elsewhere", "old-outside", 90)  # a run outside the root…
    (results / "linked").symlink_to(outside)  # …reached through a link under it
    fake = results / "fake"
    fake.mkdir()
    (fake / "run.json").symlink_to(outside / "run.json")  # run.json that is a link
    (results / "r30" / "link-out").symlink_to(outside)  # a link inside a run folder
    return results


def names(root: Path) -> set[str]:
    return {p.name for p in root.iterdir()}


def test_only_real_run_folders_are_candidates(root: Path) -> None:
    found = {r.path.name for r in stored_runs(root)}
    assert found == {"r1", "r3", "r8", "r10", "r30"}


def test_keep_and_older_than_choose_the_oldest(root: Path) -> None:
    runs = list(stored_runs(root))
    assert [r.path.name for r in select(runs, keep=2)] == ["r30", "r10", "r8"]
    assert [r.path.name for r in select(runs, older_than_s=7 * DAY)] == ["r30", "r10", "r8"]
    assert [r.path.name for r in select(runs, keep=4, older_than_s=7 * DAY)] == ["r30"]
    assert select(runs, keep=10) == []
    with pytest.raises(UsageError, match="--keep N, --older-than"):
        select(runs)


@pytest.mark.parametrize(("text", "seconds"), [("7d", 7 * DAY), ("12h", 43_200), ("1w2d", 9 * DAY)])
def test_ages(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "seven days", "7d junk", "-1d"])
def test_bad_ages_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="--older-than"):
        parse_age(text)


def test_dry_run_removes_nothing(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = names(root)
    argv = ["results", "prune", "--older-than", "7d", "--dry-run", "--results", str(root)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert names(root) == before
    assert "would remove r30" in out and "would remove 3 run folders" in out
    assert "kept 2 run folders" in out


def test_prune_removes_old_runs_and_touches_nothing_else(root: Path) -> None:
    outside = root.parent / "elsewhere" / "old-outside"
    assert main(["results", "prune", "--keep", "2", "--results", str(root)]) == 0
    assert names(root) == {"r1", "r3", "notes", ".gitkeep", "linked", "fake"}
    assert (outside / "run.json").is_file() and (outside / "steps.jsonl").is_file()
    assert (root / "linked").is_symlink() and (root / "notes" / "todo.txt").is_file()


def test_a_run_still_going_on_is_kept(root: Path) -> None:
    import platform

    _run(root, "live", 40, status="running", pid=os.getpid(), host=platform.node())
    _run(root, "dead", 40, status="running", pid=2**22 + 12345, host=platform.node())
    assert main(["results", "prune", "--older-than", "20d", "--results", str(root)]) == 0
    assert "live" in names(root) and "dead" not in names(root) and "r30" not in names(root)


def test_bad_options_exit_2(root: Path) -> None:
    assert main(["results", "prune", "--results", str(root)]) == 2
    assert main(["results", "prune", "--keep", "-1", "--results", str(root)]) == 2
    assert main(["results", "prune", "--older-than", "soon", "--results", str(root)]) == 2
