"""The run history on SQLite (`harness/history/`): every run folder indexed with its series
and gates, read back by filters, shown as a table and a trend report, compared for a
rehearsal's report; and the history never costs a run: a broken store is a warning at the end
of a run and one paragraph with an exit code for `harness history`."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.cli import main
from harness.history.entry import entry_of
from harness.history.index import rebuild, remember
from harness.history.query import Filters, runs_of, series_of
from harness.history.store import HistoryStore, HistoryUnusable, history_url
from harness.history.trends import flaky, uptime
from harness.report.folder import read_run
from harness.report.page import render_page
from tests.history_runs import check_folder, read_json, sample_history


def _store(root: Path) -> HistoryStore:
    return HistoryStore.open(history_url(None, root))


def test_a_rebuilt_history_holds_every_run_its_series_and_gates(tmp_path: Path) -> None:
    sample_history(tmp_path)
    store = _store(tmp_path)
    done = rebuild(store, tmp_path)
    assert done.indexed == 5 and not done.skipped
    runs = runs_of(store)
    assert [r.run_id[-4:] for r in runs] == ["0001", "0002", "0003", "0004", "0005"]
    assert [r.decision for r in runs] == ["pass", "fail", "pass", "pass", "fail"]
    assert runs[1].iterations == 2 and runs[1].failures == 1
    assert runs[4].targets == ["old", "new"]
    assert runs[4].labels == {"baseline": "old", "candidate": "new"}
    pay = series_of(store, Filters(journey="checkout", step="pay"))
    assert [(p.run_id[-4:], p.failures, p.p95_ms) for p in pay] == [
        ("0001", 0, 40.0),
        ("0002", 1, 40.0),
        ("0003", 0, 40.0),
    ]
    browse = series_of(store, Filters(target="shop", journey="browse", step="list products"))
    assert [p.p50_ms for p in browse] == [10.0, 20.0, 30.0]  # the step's one duration, per run
    assert [r.run_id[-4:] for r in runs_of(store, Filters(target="staging"))] == ["0004"]
    assert [r.run_id[-4:] for r in runs_of(store, Filters(journey="checkout"))] == [
        "0001",
        "0002",
        "0003",
    ]
    since = runs_of(store, Filters(since=datetime(2026, 12, 3)))
    assert [r.run_id[-4:] for r in since] == ["0003", "0004", "0005"]
    from sqlalchemy import select

    from harness.history.tables import gates

    with store.connect() as connection:
        outcomes = connection.execute(select(gates.c.name, gates.c.decision)).all()
    assert sorted(map(tuple, outcomes)) == [("errors", "pass"), ("p95 latency", "fail")]
    assert rebuild(store, tmp_path).indexed == 5  # again: replaced, not doubled
    assert len(runs_of(store)) == 5
    drill = tmp_path / "drill-1"
    check_folder(drill, "20261206-000000-drill-0006", started_at="2026-12-06", mode="drill")
    assert rebuild(store, tmp_path).indexed == 6  # a drill's runs, one level down
    assert runs_of(store)[-1].mode == "drill" and len(runs_of(store)) == 6
    store.close()


def test_harness_history_prints_runs_and_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample_history(tmp_path)
    assert main(["history", "index", str(tmp_path)]) == 0
    assert "indexed 5 runs" in capsys.readouterr().out
    assert main(["history", "--results", str(tmp_path), "--target", "shop"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "started",
        "(UTC)",
        "run",
        "mode",
        "targets",
        "decision",
        "iterations",
        "failures",
    ]
    row = "2026-12-02 00:00:00 20261202-000000-smoke-0002 smoke shop fail 2 1"
    assert out[2].split() == row.split()
    assert out[-1] == "3 runs"
    assert main(["history", "--results", str(tmp_path), "--step", "pay", "--since", "3650d"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-3:] == ["p50", "p95", "p99"]
    assert len(lines) == 1 + 7 + 1 and lines[-1] == "4 runs · 7 series"


def test_the_trend_report_shows_p95_per_step_verdicts_uptime_and_flaky_journeys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for n, failing in enumerate([False, True, False, True, False, False]):
        check_folder(
            tmp_path, f"2026120{n + 1}-000000-monitor-000{n}",
            started_at=f"2026-12-0{n + 1}T00:00:00+00:00", mode="monitor",
            journeys={"<b>browse</b>": 10.0, "steady": 5.0},
            failed=frozenset({"<b>browse</b>"}) if failing else frozenset(),
        )  # fmt: skip
    report = tmp_path / "trend.html"
    assert main(["history", "index", str(tmp_path)]) == 0
    assert main(["history", "--results", str(tmp_path), "--html", str(report)]) == 0
    store = _store(tmp_path)
    points, runs = series_of(store), runs_of(store)
    store.close()
    assert [(u.target, u.checks, u.passed) for u in uptime(runs)] == [("shop", 6, 4)]
    found = flaky(points)
    assert [(f.journey, f.flips, f.outcomes) for f in found] == [("<b>browse</b>", 4, "✓✗✓✗✓✓")]
    html = report.read_text()
    for heading in ("Verdict timeline", "p95 per step", "Monitor uptime", "Flaky journeys"):
        assert heading in html
    assert "66.67%" in html and "&lt;b&gt;browse&lt;/b&gt;" in html and "<b>browse" not in html
    assert html.count("<svg") == 1 and "run (oldest first)" in html  # the p95 chart
    assert f"trend report: {report}" in capsys.readouterr().out


def test_uptime_counts_each_check_once_whatever_its_retries() -> None:
    from harness.history.query import RunRow

    def row(n: int, decision: str, attempt: int = 1) -> RunRow:
        return RunRow(f"r{n}", "monitor", None, "passed", decision, 1, ["shop"], {}, 1, 0, attempt)

    checks = [row(1, "pass"), row(2, "fail"), row(3, "pass", 2), row(4, "fail"), row(5, "fail", 2)]
    assert [(u.checks, u.passed) for u in uptime(checks)] == [(3, 2)]
    assert [(u.checks, u.passed) for u in uptime(checks[:2])] == [(2, 1)]


def test_a_rehearsal_is_compared_with_the_runs_before_it_in_its_report(tmp_path: Path) -> None:
    from harness.gates.outcome import Decision
    from tests.history_runs import rehearsal_folder

    for day in (1, 2, 3):
        rehearsal_folder(
            tmp_path, f"2026120{day}-000000-rehearse-000{day}",
            started_at=f"2026-12-0{day}T00:00:00+00:00", decision=Decision.PASS,
        )  # fmt: skip
    for folder in sorted(p for p in tmp_path.iterdir() if p.is_dir()):
        assert remember(folder, None, tmp_path) is not None
    last = tmp_path / "20261203-000000-rehearse-0003"
    compared = read_json(last / "history.json")
    assert isinstance(compared, dict)
    assert compared["target"] == "new"
    assert [r["run_id"][-4:] for r in compared["runs"]] == ["0001", "0002"]
    assert compared["steps"][0]["median_p95_ms"] == 14.0 and compared["steps"][0]["runs"] == 2
    page = render_page(read_run(last))
    assert "Compared with the last 10 runs against this target" in page
    assert "20261202-000000-rehearse-0002" in page
    assert "history.json" not in render_page(read_run(tmp_path / "20261201-000000-rehearse-0001"))


def test_an_index_error_is_a_warning_and_the_run_folder_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = check_folder(tmp_path, "20261201-000000-smoke-0001", started_at="2026-12-01T00:00:00")
    before = sorted(p.name for p in folder.iterdir())
    (tmp_path / "history.sqlite").write_bytes(b"this is not a database, it is " * 100)
    assert remember(folder, None, tmp_path) is None
    err = capsys.readouterr().err
    assert "warning: the run was not added to the history" in err
    assert "harness history index" in err
    assert sorted(p.name for p in folder.iterdir()) == before


def test_a_corrupt_sqlite_file_is_one_paragraph_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "history.sqlite").write_bytes(b"\x00garbage" * 2000)
    assert main(["history", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is not a SQLite database" in err and "harness history index" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_schema_from_a_newer_harness_is_refused_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _store(tmp_path).close()
    with sqlite3.connect(tmp_path / "history.sqlite") as db:
        db.execute("UPDATE alembic_version SET version_num = 'h9999'")
    with pytest.raises(HistoryUnusable, match="h9999, written by a newer journey-harness"):
        _store(tmp_path)
    assert main(["history", "--results", str(tmp_path)]) == 2
    assert "newer journey-harness" in capsys.readouterr().err


def test_an_unreachable_database_is_exit_3_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "harness.toml"
    config.write_text('history = "postgresql://app:s3cret@127.0.0.1:1/runs"\n')
    assert main(["history", "--config", str(config)]) == 3
    err = capsys.readouterr().err
    assert "cannot reach the history database" in err and "s3cret" not in err
    assert len(err.strip().splitlines()) == 1


def test_the_store_url_defaults_to_sqlite_in_the_results_folder(tmp_path: Path) -> None:
    assert history_url(None, tmp_path) == f"sqlite:///{tmp_path}/history.sqlite"
    assert history_url("postgresql://u@h/db", tmp_path) == "postgresql+psycopg://u@h/db"
    assert history_url("runs.sqlite", tmp_path) == "sqlite:///runs.sqlite"


def test_an_entry_takes_its_statistics_from_the_one_reader(tmp_path: Path) -> None:
    folder = check_folder(
        tmp_path, "20261201-000000-smoke-0001", started_at="2026-12-01T01:02:03.5+01:00",
        journeys={"browse": 7.0}, failed=frozenset({"browse"}),
    )  # fmt: skip
    entry = entry_of(folder)
    assert entry.started_at == datetime(2026, 12, 1, 0, 2, 3, 500000)  # naive UTC
    assert entry.started_at.tzinfo is None and datetime.now(UTC)
    rows = {(s.journey, s.step): (s.iterations, s.failures, s.p95_ms) for s in entry.series}
    assert rows == {
        ("browse", ""): (1, 1, 21.0),
        ("browse", "list products"): (1, 0, 7.0),
        ("browse", "pay"): (1, 1, 14.0),
    }


def test_an_older_schema_is_migrated_keeping_its_runs(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from harness.history import store as store_module

    engine = create_engine(history_url(None, tmp_path))
    config = Config()
    config.set_main_option("script_location", str(store_module._MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "h0001")  # the first schema, before `attempt`
        connection.exec_driver_sql(
            "INSERT INTO runs (run_id, mode, status, decision, targets, labels, iterations, "
            "failures, path) VALUES ('old-run', 'monitor', 'failed', 'fail', '[\"shop\"]', '{}', "
            "1, 1, '/gone')"
        )
    engine.dispose()
    store = _store(tmp_path)
    (row,) = runs_of(store)
    store.close()
    assert (row.run_id, row.attempt, row.targets) == ("old-run", 1, ["shop"])
    with sqlite3.connect(tmp_path / "history.sqlite") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("h0002",)]


def test_a_damaged_table_is_one_paragraph_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _store(tmp_path).close()
    with sqlite3.connect(tmp_path / "history.sqlite") as db:
        db.execute("DROP TABLE series")
    assert main(["history", "--results", str(tmp_path), "--journey", "browse"]) == 2
    err = capsys.readouterr().err
    assert "could not be used: no such table: series" in err and "Traceback" not in err


def test_pruned_runs_leave_the_history_and_a_rebuild_forgets_deleted_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The history indexes run folders: `harness results prune` takes the runs it removes out
    # of it, and `harness history index` forgets runs whose folders went some other way.
    folders = sample_history(tmp_path)
    assert main(["history", "index", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["results", "prune", "--keep", "3", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "forgot 2 runs in the history" in out, out
    store = _store(tmp_path)
    assert [r.run_id[-4:] for r in runs_of(store)] == ["0003", "0004", "0005"]
    assert series_of(store, Filters(journey="checkout", step="pay"))[0].run_id.endswith("0003")
    import shutil

    shutil.rmtree(folders[2])
    done = rebuild(store, tmp_path)
    assert (done.indexed, done.forgotten) == (2, 1)
    assert [r.run_id[-4:] for r in runs_of(store)] == ["0004", "0005"]
    store.close()


def test_prune_creates_no_history_where_there_was_none(tmp_path: Path) -> None:
    sample_history(tmp_path)
    assert main(["results", "prune", "--keep", "1", "--results", str(tmp_path)]) == 0
    assert not (tmp_path / "history.sqlite").exists()
