"""CLIENT spans for the sandbox's SQLite statements, made in one place: the connection class.

`traced_connection_class(tracer)` is a `sqlite3.Connection` subclass whose `execute` and
`executemany` run each statement inside a span named `{OPERATION} {table}` (`SELECT products`,
`INSERT orders`), a child of the current span. Statements run outside a traced request (the
start-up schema and seed) make no span. Only the SQL text with its placeholders is recorded,
never the bound values. The store uses this class only when tracing is on.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

__all__ = ["SqlShape", "sql_shape", "traced_connection_class"]

_OPERATION = re.compile(r"^\s*([A-Za-z]+)")
# The first table named after FROM, INTO or UPDATE: the statement's target (for a SELECT with
# joins, its first table; for a DELETE with a sub-select, the table deleted from).
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


@dataclass(frozen=True)
class SqlShape:
    """What a statement does, for its span: operation (`SELECT`), table (or None), span name."""

    operation: str
    table: str | None
    name: str


@functools.lru_cache(maxsize=512)
def sql_shape(sql: str) -> SqlShape:
    """The operation and table of a SQL statement (`SELECT products`); cached per SQL text.

    The operation is the statement's first keyword, upper-cased (`PRAGMA`, `BEGIN`, `COMMIT`
    have no table); an empty or odd statement is operation `SQL`.
    """
    match = _OPERATION.match(sql)
    operation = match.group(1).upper() if match else "SQL"
    found = _TABLE.search(sql)
    table = found.group(1) if found else None
    return SqlShape(operation, table, f"{operation} {table}" if table else operation)


def _attributes(sql: str, shape: SqlShape) -> dict[str, str]:
    attributes = {
        "db.system.name": "sqlite",
        "db.operation.name": shape.operation,
        "db.query.text": sql,
    }
    if shape.table is not None:
        attributes["db.collection.name"] = shape.table
    return attributes


@contextmanager
def _statement_span(tracer: Tracer, sql: str) -> Iterator[None]:
    shape = sql_shape(sql)
    span = tracer.start_span(shape.name, kind=SpanKind.CLIENT, attributes=_attributes(sql, shape))
    try:
        yield
    except BaseException as exc:
        span.record_exception(exc)
        span.set_attribute("error.type", type(exc).__qualname__)
        span.set_status(Status(StatusCode.ERROR, str(exc)))
        raise
    finally:
        span.end()


def _in_trace() -> bool:
    return trace.get_current_span().get_span_context().is_valid


def traced_connection_class(tracer: Tracer) -> type[sqlite3.Connection]:
    """A `sqlite3.Connection` subclass (for `sqlite3.connect(factory=...)`) tracing statements."""

    class TracedConnection(sqlite3.Connection):
        def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
            if not _in_trace():
                return super().execute(sql, parameters)
            with _statement_span(tracer, sql):
                return super().execute(sql, parameters)

        def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
            if not _in_trace():
                return super().executemany(sql, parameters)
            with _statement_span(tracer, sql):
                return super().executemany(sql, parameters)

    return TracedConnection
