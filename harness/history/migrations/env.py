"""Alembic's environment for the run history: migrations run on the connection the store
hands over (`config.attributes["connection"]`), never on a URL of their own."""

from __future__ import annotations

from alembic import context

from harness.history.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
