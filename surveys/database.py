"""How the domain's database connections behave, on SQLite as on PostgreSQL.

SQLite is the embedded default, and several gunicorn workers write to one file.  Two
settings make that safe and keep a busy moment from turning into errors:

- **WAL journal** (write-ahead log): readers never block the writer and the writer
  never blocks readers, so an expert's page still loads while a round is closing.
  The mode is stored in the database file; setting it again is a no-op.
- **Busy timeout** of :data:`SQLITE_BUSY_TIMEOUT_MS`: SQLite has one writer at a time,
  and a writer that finds the write lock taken waits this long for it (pysqlite's
  default is 5 s) before failing with "database is locked".  Closing a round holds the
  write lock from its first read to its commit (:func:`surveys.rounds.close_round`),
  so that no submission commits in between; a submission arriving then waits, and
  finds the round closed.  Past the timeout the web layer answers 503 with
  ``Retry-After`` and keeps what the expert typed on the page.

Every transaction that reads and then writes on SQLite must *begin with its write*
(pysqlite opens a transaction at the first data-changing statement): then the
transaction holds the write lock before it reads, and what it reads cannot change
before it commits.  :func:`surveys.answers.submit_responses` (the draft is written
first) and :func:`surveys.rounds.close_round` (the round is claimed first) do so.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

#: How long a SQLite writer waits for the write lock before giving up, in milliseconds:
#: long enough for a round of a few thousand panelists to close, well within
#: gunicorn's 120 s worker timeout.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite_connection(dbapi_connection: Any, connection_record: Any) -> None:
    """Set the busy timeout and the WAL journal on every new SQLite connection."""
    del connection_record
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # An in-memory database answers "memory" and stays as it is.
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def configure_connections() -> None:
    """Apply the settings above to every engine's new connections (idempotent)."""
    if not event.contains(Engine, "connect", _configure_sqlite_connection):
        event.listen(Engine, "connect", _configure_sqlite_connection)
