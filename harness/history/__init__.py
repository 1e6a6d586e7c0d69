"""The run history: every run indexed when it ends (SQLite in `results/history.sqlite` by
default, PostgreSQL with `history = "postgresql://..."`), queried by `harness history` and the
rehearsal report's comparison. The run folders stay the truth: the history is only an index,
rebuilt from them by `harness history index`.

Nothing is imported here: SQLAlchemy loads with the first use of the store.
"""
