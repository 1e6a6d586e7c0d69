"""The documents stay true of the repository: no tracked file points outside it, and every path
ARCHITECTURE.md names exists (or, marked "(planned)", does not exist yet)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARCHITECTURE = REPO / "ARCHITECTURE.md"
#: the sibling folder a document once pointed to (spelled in two parts so this file passes)
OUTSIDE = ".." + "/shared"
PLANNED = " (planned)"


def tracked_files() -> list[Path]:
    """The files git tracks in this checkout (skips the test outside a git checkout)."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout")
    return [REPO / name for name in done.stdout.decode().split("\0") if name]


def path_mentions(text: str, roots: set[str]) -> list[tuple[str, bool]]:
    """Each path under one of `roots` named in `text` (in backticks, a diagram or prose), with
    whether it is marked "(planned)" right after it."""
    pattern = re.compile(
        rf"(?<![\w./-])((?:{'|'.join(map(re.escape, sorted(roots)))})/[\w./*<>-]*)"
    )
    found = []
    for match in pattern.finditer(text):
        path = match.group(1).rstrip(".,;:")
        rest = text[match.end(1) :].lstrip("`")
        found.append((path, rest.startswith(PLANNED)))
    return found


def bare_modules(text: str, roots: set[str]) -> list[str]:
    """Module names written bare (`rules.py`) in a list item or paragraph, as paths under the
    folder named last before them in that item (`harness/gates/`: `rules.py` → its path)."""
    folder = rf"(?:{'|'.join(map(re.escape, sorted(roots)))})/(?:[\w.-]+/)*"
    token = re.compile(rf"`(?P<folder>{folder})`|`(?P<module>[\w*]+\.py)`")
    found = []
    for item in re.split(r"\n(?=\s*- |\s*\n)", text):
        current = None
        for match in token.finditer(item):
            if match.group("folder"):
                current = match.group("folder")
            elif current is not None:
                found.append(current + match.group("module"))
    return found


def exists(path: str) -> bool:
    """Whether `path` (relative to the repository; `*` globs, `<name>` any name) exists; a path
    ending in `/` must be a folder."""
    pattern = re.sub(r"<[^>/]*>", "*", path.rstrip("/"))
    matches = list(REPO.glob(pattern)) if "*" in pattern else [REPO / pattern]
    if path.endswith("/"):
        return any(m.is_dir() for m in matches)
    return any(m.exists() for m in matches)


def test_no_tracked_file_points_outside_the_repository() -> None:
    offenders = []
    for file in tracked_files():
        if not file.is_file():
            continue  # deleted in the work tree
        data = file.read_bytes()
        if b"\0" in data:
            continue  # binary
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if OUTSIDE in line:
                offenders.append(f"{file.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "these lines point outside the repository:\n" + "\n".join(offenders)


def test_readme_points_to_the_architecture_document() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "ARCHITECTURE.md" in readme


def test_every_path_in_the_architecture_document_exists() -> None:
    parts = [p.relative_to(REPO).parts for p in tracked_files()]
    roots = {names[0] for names in parts if len(names) > 1}  # the tracked top-level folders
    text = ARCHITECTURE.read_text(encoding="utf-8")
    mentions = path_mentions(text, roots)
    assert len(mentions) > 50, "the document names too few paths: is the pattern still right?"
    modules = bare_modules(text, roots)
    assert len(modules) > 30, "the document names too few bare modules: is the pattern right?"
    missing = sorted({p for p, planned in mentions if not planned and not exists(p)})
    missing += sorted({p for p in modules if not exists(p)} - set(missing))
    landed = sorted({p for p, planned in mentions if planned and exists(p)})
    assert (missing, landed) == ([], []), (
        f"ARCHITECTURE.md names paths that do not exist: {missing}; "
        f"it calls these planned, but they exist now: {landed}"
    )


def test_the_path_check_sees_a_missing_path_and_a_planned_one() -> None:
    text = "see `harness/nowhere.py`, `harness/run/` (planned), harness/runtime.py."
    assert path_mentions(text, {"harness"}) == [
        ("harness/nowhere.py", False),
        ("harness/run/", True),
        ("harness/runtime.py", False),
    ]
    assert not exists("harness/nowhere.py")
    assert exists("harness/runtime.py")
    assert exists("harness/commands/<mode>.py")
    assert not exists("harness/runtime.py/")
    item = "- `harness/gates/`: `rules.py`, `nope.py`.\n- `tests/unit/`: `test_wire.py`\n\n`x.py`"
    assert bare_modules(item, {"harness", "tests"}) == [
        "harness/gates/rules.py",
        "harness/gates/nope.py",
        "tests/unit/test_wire.py",
    ]
