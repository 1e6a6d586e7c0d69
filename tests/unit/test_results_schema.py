"""The run folder's schema and its one reader (`harness/results/`): run.json says its version,
older folders read as version 1, a newer one is refused in one paragraph (exit 2), and every
reader (gates, reports, compare, drill replay) goes through `read_folder` with one config
hash."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.drill.replay import StoredRun
from harness.errors import DamagedRunFolder, UsageError
from harness.gates.data import RunData
from harness.records import IterationRecord, Outcome
from harness.report.folder import read_run
from harness.results import SCHEMA_VERSION, RunDirectory, config_hash
from harness.results.reader import read_folder
from harness.telemetry.hdr import ITERATION, HdrStore, SeriesKey

ROOT = Path(__file__).resolve().parents[2]


def _folder(root: Path, *, schema: object = SCHEMA_VERSION) -> Path:
    """A small load run's folder, written by the real writer; run.json's `schema` set to
    `schema` (removed when None)."""
    run = RunDirectory(root, "20261206-000000-load-abcd")
    run.start(mode="load", target={"target": {"name": "shop"}}, seed=7, config={"users": 3})
    store = HdrStore()
    for k in range(1, 31):
        record = IterationRecord(
            run_id=run.run_id,
            target="shop",
            journey="browse",
            worker=0,
            user=0,
            iteration=k,
            started_at=1_795_000_000.0 + k,
            duration_ms=float(k),
            outcome=Outcome.PASSED,
            steps_passed=0,
            steps_total=0,
        )
        run.iteration_finished(record)
        store.record(SeriesKey("shop", "browse", ITERATION, ""), record.duration_ms)
    store.write(run.path / "histograms")
    run.close()
    if schema is None:
        del run.meta["schema"]
    else:
        run.meta["schema"] = schema
    run.finish("passed")
    return run.path


def test_run_json_records_the_schema_version(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    assert json.loads((folder / "run.json").read_text())["schema"] == SCHEMA_VERSION == 1
    assert read_folder(folder).schema == SCHEMA_VERSION


def test_a_folder_without_a_version_reads_as_version_1(tmp_path: Path) -> None:
    folder = _folder(tmp_path, schema=None)
    assert "schema" not in json.loads((folder / "run.json").read_text())
    assert read_folder(folder, judging=True).schema == 1
    assert RunData.load(folder).hdr.count(SeriesKey("shop", "browse", ITERATION, "")) == 30
    assert read_run(folder).tally("shop", "browse").iterations == 30


def test_a_newer_schema_is_refused_naming_both_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path, schema=SCHEMA_VERSION + 1)
    for read in (RunData.load, read_run, lambda p: read_folder(p, judging=True)):
        with pytest.raises(UsageError, match=f"schema version {SCHEMA_VERSION + 1}") as caught:
            read(folder)
        assert f"reads versions 1 to {SCHEMA_VERSION}" in str(caught.value)
    for command in (["gates", str(folder)], ["report", str(folder)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"schema version {SCHEMA_VERSION + 1}" in err and "Traceback" not in err


@pytest.mark.parametrize("schema", ["2", 0, True, 1.5])
def test_a_version_that_is_not_one_is_damage(tmp_path: Path, schema: object) -> None:
    folder = _folder(tmp_path, schema=schema)
    with pytest.raises(DamagedRunFolder, match="schema"):
        RunData.load(folder)
    assert "run.json" in read_run(folder).missing


def test_gates_reports_and_replay_share_one_config_hash_and_one_reader(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    meta = json.loads((folder / "run.json").read_text())
    data = RunData.load(folder)
    assert data.config_hash == read_run(folder).config_hash == config_hash(meta)
    assert data.folder is not None and data.folder.path == folder
    data.baseline = "shop"  # replay reads a rehearsal: any two sides will do here
    assert len(StoredRun.read(folder, data).records) == 30


def test_only_the_results_package_reads_records_or_hashes_a_config() -> None:
    """No other module streams steps.jsonl's records itself, and no other `config_hash` hashes."""
    offenders = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        if path.relative_to(ROOT / "harness").parts[0] == "results":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            used = {n.id if isinstance(n, ast.Name) else n.attr for n in _names(node)}
            if isinstance(node, ast.ImportFrom) and any(
                a.name == "read_records" for a in node.names
            ):
                offenders.append(f"{path.relative_to(ROOT)}: imports read_records")
            own = used & {"sha256", "hashlib", "dumps"}
            if isinstance(node, ast.FunctionDef) and node.name == "config_hash" and own:
                offenders.append(f"{path.relative_to(ROOT)}: its own config_hash")
    assert offenders == []


def _names(node: ast.AST) -> list[ast.Name | ast.Attribute]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Name | ast.Attribute)]
