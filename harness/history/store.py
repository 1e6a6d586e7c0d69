"""The history's store: one SQLAlchemy engine over SQLite (the default,
`results/history.sqlite`) or PostgreSQL (`history = "postgresql://..."`), its schema brought
up to date by Alembic when it is opened.

What can go wrong with a store is said in one paragraph: an unreachable database is
`HistoryUnavailable` (exit 3), a file that is not a SQLite database and a schema written by a
newer journey-harness are `HistoryUnusable` (exit 2). Either way the run folders are untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import HarnessError, UsageError
from harness.redact import redact

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

DEFAULT_FILE = "history.sqlite"
_MIGRATIONS = Path(__file__).with_name("migrations")


class HistoryUnavailable(HarnessError):
    """The history's database could not be reached (exit code 3)."""


class HistoryUnusable(UsageError):
    """The history's database is not one this harness can use: not a database, or a schema
    from a newer journey-harness (exit code 2)."""


def history_url(configured: str | None, results_root: Path) -> str:
    """The store's URL: `history` from harness.toml, else SQLite in the results folder. A
    plain path is a SQLite file."""
    if not configured:
        return f"sqlite:///{results_root / DEFAULT_FILE}"
    if "://" not in configured:
        return f"sqlite:///{Path(configured)}"
    if configured.startswith("postgresql://"):  # psycopg 3, not SQLAlchemy's default psycopg2
        return "postgresql+psycopg://" + configured.removeprefix("postgresql://")
    return configured


class HistoryStore:
    """An open store; `connect()` gives a connection in a transaction."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    @classmethod
    def open(cls, url: str) -> HistoryStore:
        """Open the store at `url` and bring its schema up to date; raises `HistoryUnavailable`
        or `HistoryUnusable` as the module says."""
        from sqlalchemy import create_engine, event
        from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

        shown = redact(url)
        try:
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"timeout": 30})
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, connect_args=_connect_args(url), pool_pre_ping=True)
        except (ArgumentError, ImportError) as exc:
            raise HistoryUnusable(
                f"the history URL {shown} is not one this harness can open ({exc}). Give "
                '`history = "postgresql://USER:PASSWORD@HOST:PORT/DB"` or a SQLite path in '
                "harness.toml"
            ) from None
        except OSError as exc:
            raise HistoryUnavailable(f"cannot create the history at {shown}: {exc}") from None
        store = cls(engine, url)
        try:
            store._upgrade()
        except OperationalError as exc:
            engine.dispose()
            if "not a database" in str(exc.orig):
                raise _corrupt(shown) from None
            raise HistoryUnavailable(
                f"cannot reach the history database {shown}: {_first_line(exc.orig)}. Check "
                "that it is running and the URL in harness.toml; the run folders are kept "
                "whatever happens to the history (rebuild it with `harness history index`)"
            ) from None
        except DatabaseError as exc:
            engine.dispose()
            if "not a database" in str(exc.orig) or "malformed" in str(exc.orig):
                raise _corrupt(shown) from None
            raise
        return store

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection inside one transaction, committed when the block ends; a database
        error inside it is `HistoryUnusable`, in one paragraph."""
        from sqlalchemy.exc import DBAPIError

        try:
            with self.engine.begin() as connection:
                yield connection
        except DBAPIError as exc:
            raise HistoryUnusable(
                f"the history at {redact(self.url)} could not be used: "
                f"{_first_line(exc.orig)}. The run folders are untouched: move the history "
                "away and rebuild it with `harness history index results/`"
            ) from None

    def _upgrade(self) -> None:
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        script = ScriptDirectory.from_config(config)
        with self.engine.begin() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
            known = {rev.revision for rev in script.walk_revisions()}
            newer = [rev for rev in current if rev not in known]
            if newer:
                raise HistoryUnusable(
                    f"the history at {redact(self.url)} has schema revision {newer[0]}, "
                    "written by a newer journey-harness; this one knows up to "
                    f"{script.get_current_head()}. Use the newer harness, or point `history` "
                    "at another database; the run folders are untouched"
                )
            if set(current) != {script.get_current_head()}:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")


def _connect_args(url: str) -> dict[str, object]:
    return {"connect_timeout": 5} if url.startswith("postgresql") else {}


def _sqlite_pragmas(connection: object, record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]  # a DB-API connection
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _corrupt(shown: str) -> HistoryUnusable:
    return HistoryUnusable(
        f"the history file {shown.removeprefix('sqlite:///')} is not a SQLite database (it is "
        "damaged, or another file took its name). Move it away and rebuild the history from "
        "the run folders with `harness history index results/`; no run is lost, the history "
        "is only an index"
    )


def _first_line(error: BaseException | None) -> str:
    text = str(error or "unknown error").strip()
    return text.splitlines()[0] if text else "unknown error"
