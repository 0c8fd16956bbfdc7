"""A job that runs for minutes says it is alive, so that a reader can tell a job still
working from one whose worker died (killed at a deploy, its machine gone).

The beat is written by a thread with connections of its own, outside the job's
transaction, which may be open for the whole job.  On SQLite a job that holds the
database's write lock (a round's close does) cannot be heard: its beats wait, then fail
with a warning, and the job may look lapsed although it runs.  A lapse judged too early
costs nothing but a wasted attempt: a second close asked for then waits for the first
(and fails on SQLite's busy timeout, or finds no open round on PostgreSQL), and the
first still finishes, after which its round counts as closed (:mod:`surveys.closing`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, Executable, update
from sqlalchemy.orm import Session

from surveys.models import utcnow

log = logging.getLogger(__name__)

#: How often a running job says it is alive.
BEAT_EVERY = timedelta(seconds=30)


@contextmanager
def beating(
    engine: Engine, beat: Callable[[], Executable], label: str, every: timedelta = BEAT_EVERY
) -> Iterator[None]:
    """While the block runs, execute the statement ``beat()`` makes (an update of the
    job's ``alive_at``) every ``every``, each in a transaction of its own; ``label``
    names the job in the log."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every.total_seconds()):
            try:
                with engine.begin() as connection:
                    connection.execute(beat())
            except Exception:  # the database away a moment: the next beat may reach it
                log.warning("%s: could not record that its job is alive", label)

    thread = threading.Thread(target=run, name=f"elicit-{label}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def beating_record(
    session: Session, model: Any, record_id: int, running: Any, label: str, *mine: Any
) -> AbstractContextManager[None]:
    """:func:`beating` for a job whose record is row ``record_id`` of ``model`` (a
    close, a close's preview): its ``alive_at`` is written while its ``status`` is
    ``running`` and the conditions ``mine`` hold (that the row is still this run's),
    through ``session``'s engine."""
    bind = session.get_bind()
    return beating(
        bind if isinstance(bind, Engine) else bind.engine,
        lambda: (
            update(model)
            .where(model.id == record_id, model.status == running, *mine)
            .values(alive_at=utcnow())
        ),
        label,
    )
