"""SQL time per request: a `sqlite3.Connection` subclass that adds the seconds each statement
takes to the current request's tally (a context variable the metrics wrapper sets per request,
`harness.sandbox.metrics`). Statements outside a request (schema, seed) are not counted."""

from __future__ import annotations

import sqlite3
import time
from contextvars import ContextVar
from typing import Any

__all__ = ["SQL_SECONDS", "timed_connection_class"]

#: the running request's SQL seconds so far (a one-item list), or None outside a request
SQL_SECONDS: ContextVar[list[float] | None] = ContextVar("sandbox_sql_seconds", default=None)


def timed_connection_class(base: type[sqlite3.Connection]) -> type[sqlite3.Connection]:
    """A subclass of `base` (plain or traced) timing `execute` and `executemany`."""

    class TimedConnection(base):  # type: ignore[valid-type,misc]  # a class chosen at run time
        def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
            tally = SQL_SECONDS.get()
            if tally is None:
                cursor: sqlite3.Cursor = super().execute(sql, parameters)
                return cursor
            started = time.perf_counter()
            try:
                cursor = super().execute(sql, parameters)
                return cursor
            finally:
                tally[0] += time.perf_counter() - started

        def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
            tally = SQL_SECONDS.get()
            if tally is None:
                cursor: sqlite3.Cursor = super().executemany(sql, parameters)
                return cursor
            started = time.perf_counter()
            try:
                cursor = super().executemany(sql, parameters)
                return cursor
            finally:
                tally[0] += time.perf_counter() - started

    return TimedConnection
