"""The history's tables, in SQLAlchemy Core: one row a run, one a (target, journey, step)
series of a run, one a gate outcome. Alembic's migrations (`harness/history/migrations/`)
create and change them; this module is what the code reads and writes through."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

#: one row a run; `run_id` is the run folder's name
runs = Table(
    "runs",
    metadata,
    Column("run_id", String(120), primary_key=True),
    Column("mode", String(20), nullable=False),
    Column("started_at", DateTime(), nullable=True),
    Column("ended_at", DateTime(), nullable=True),
    Column("status", String(20), nullable=False),
    Column("decision", String(20), nullable=False),
    Column("seed", BigInteger(), nullable=True),
    Column("targets", JSON(), nullable=False),  #: target names, baseline first
    Column("labels", JSON(), nullable=False),  #: role → release label (the target's name)
    Column("iterations", Integer(), nullable=False),
    Column("failures", Integer(), nullable=False),
    Column("path", Text(), nullable=False),  #: where the run folder was when indexed
    #: a monitor check's attempt (2 and up: a retry, which replaces the attempt before it)
    Column("attempt", Integer(), nullable=False, server_default="1"),
    Index("ix_runs_started_at", "started_at"),
)

#: per run, target, journey and step: iterations, failures and p50/p95/p99 (step "" is the
#: journey's whole iteration)
series = Table(
    "series",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("run_id", String(120), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("target", String(200), nullable=False),
    Column("journey", String(200), nullable=False),
    Column("step", String(200), nullable=False),
    Column("touchpoint", String(20), nullable=False),
    Column("iterations", Integer(), nullable=False),
    Column("failures", Integer(), nullable=False),
    Column("p50_ms", Float(), nullable=True),
    Column("p95_ms", Float(), nullable=True),
    Column("p99_ms", Float(), nullable=True),
    Index("ix_series_run", "run_id"),
    Index("ix_series_journey_step", "journey", "step"),
)

#: per run and gate: its outcome
gates = Table(
    "gates",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("run_id", String(120), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("decision", String(20), nullable=False),
    Column("critical", Boolean(), nullable=False),
    Column("summary", Text(), nullable=False),
    Index("ix_gates_run", "run_id"),
)
