"""Reports of a stored run folder: `report.html` for people, `junit.xml` for CI, `summary.json`
for machines.

Each writer reads `results/<run-id>/` only (so it works offline, on any mode, and on a run
that was killed half-way: what is missing is shown as "not recorded") and writes its file into
the same folder. Importing this package is cheap; matplotlib loads on the first report.

HTML comes only from the Jinja2 templates in `templates/` (autoescaping, see `render`), and
Markdown text only through `markdown`: a value read from a run folder reaches a page as text.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_all", "write_junit", "write_report", "write_summary_json"]


def write_report(run_dir: Path) -> Path:
    """Write `report.html` into `run_dir` and return its path.

    Raises only `OSError` when the file cannot be written; unreadable inputs become
    "not recorded" sections.
    """
    from harness.report.folder import read_run
    from harness.report.page import write_page

    return write_page(read_run(Path(run_dir)))


def write_junit(run_dir: Path) -> Path:
    """Write `junit.xml` into `run_dir` (one case per journey for smoke and load runs, one per
    gate for rehearsals) and return its path. Raises only `OSError` on writing."""
    from harness.report.folder import read_run
    from harness.report.junit import write_junit_file

    return write_junit_file(read_run(Path(run_dir)))


def write_summary_json(run_dir: Path) -> Path:
    """Write `summary.json` into `run_dir` (mode, status, decision, counts, per-journey
    percentiles and failures, gate decisions) and return its path. Raises only `OSError` on
    writing."""
    from harness.report.folder import read_run
    from harness.report.summary import write_summary_file

    return write_summary_file(read_run(Path(run_dir)))


def write_all(run_dir: Path, warnings: list[str] | None = None, *, html: bool = True) -> list[Path]:
    """Read the run folder once and write report.html (unless `html` is false), junit.xml and
    summary.json (the end of every run); returns the paths written, and appends to `warnings`
    what of the folder was damaged. Raises only `OSError` on writing."""
    from harness.report.folder import read_run
    from harness.report.junit import write_junit_file
    from harness.report.summary import write_summary_file

    run = read_run(Path(run_dir))
    if warnings is not None:
        warnings.extend(run.warnings)
    written = [write_junit_file(run), write_summary_file(run)]
    if html:
        from harness.report.page import write_page

        written.insert(0, write_page(run))
    return written
