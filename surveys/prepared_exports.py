"""Exports written by a job and kept for download: a study too large to export within
one request.

A download writes the export while the client waits (:mod:`elicit.downloads`).  At
100,000 panelists a CSV or JSON export takes minutes (``benchmarks/exports.py``), past
the web server's time limit (gunicorn kills a worker after 120 s; nginx gives up on a
silent upstream after its ``proxy_read_timeout``), so the facilitator would get an
error, never the file.  Such a study's export is *prepared* instead:

1. :func:`request_export` records a :class:`~surveys.models.PreparedExport`, queued,
   and the caller hands its id to a job (:mod:`elicit.jobs`).  Two requests at once for
   the same study and format share one (a partial unique index: at most one is queued
   or running).
2. The job (:func:`write_prepared`) claims it (queued → running, so a job run twice
   writes it once), writes the export into a temporary file with the same writer as a
   download (:func:`surveys.exports.write_export`), and stores the file in the database
   a compressed piece at a time (:class:`~surveys.models.PreparedExportChunk`), with its
   length and SHA-256.  The database, not a disk, so that every web host can send it.
   Then it is ready, and it replaces the study's previous file of that format: pages
   list the new one only, and the old one is deleted :data:`SUPERSEDED_KEPT_FOR` later,
   so that a download of it under way still finishes.
3. Anyone who may export the study downloads it (:func:`read_chunks`, a piece per short
   query, so a slow client holds no database connection).

What can go wrong, and what then:

- The writer fails (a workbook that a spreadsheet cannot hold, a bug, the database
  gone): the export is *failed*, with the reason in words; nothing half-written stays.
- The job is lost before it starts (Redis restarted without its data, a web process
  that ran it in a thread stopped): an export still queued :data:`REQUEUE_AFTER` after
  it was handed to a job is handed to another when its page or API status is read
  (:func:`hand_again`: one reader does, by a conditional update, however many read it;
  should the first job turn up after all, the claim makes the second a no-op).
- The worker dies while writing (killed at a deploy, its machine gone): a running
  job says it is alive every :data:`BEAT_EVERY` (``alive_at``, written by a thread of
  its own); an export silent for :data:`LAPSE_AFTER` counts as failed, its pieces are
  deleted, and it may be asked for again.

A prepared file is the study's data as it was when written, with ``closed_rounds``
recorded so that pages can say when a later close has dated it, and it is deleted
:data:`KEPT_FOR` after it was written: research data is not copied around for longer
than it is needed.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Engine,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from surveys import audit
from surveys.errors import DomainError
from surveys.exports import FORMATS, TooLargeForSpreadsheet, open_export, write_export
from surveys.heartbeat import BEAT_EVERY, beating
from surveys.models import (
    PreparedExport,
    PreparedExportChunk,
    PreparedStatus,
    Response,
    Round,
    RoundStatus,
    Study,
    User,
    utcnow,
)

log = logging.getLogger(__name__)

#: How much longer a format takes to write than CSV, per response.  Measured with
#: ``benchmarks/exports.py``: about 75 µs a response for the CSV zip and 56 µs for JSON
#: at 100,000 panelists, about 360 µs for the workbook.
FORMAT_WEIGHTS = {"csv": 1, "json": 1, "xlsx": 5}
#: Bytes of the file in one stored piece, before compression.
CHUNK_BYTES = 1 << 20
#: Pieces written between commits: a writer never holds SQLite's write lock for long.
CHUNKS_PER_COMMIT = 16
#: How long a written file is kept.
KEPT_FOR = timedelta(days=7)
#: How long a file replaced by a newer one of its format stays readable: time for a
#: download of it under way to finish (150 MB at 100,000 panelists, about 25 minutes
#: at 100 kB/s), after which it is deleted.
SUPERSEDED_KEPT_FOR = timedelta(hours=1)
#: A queued export not started by then has lost its job, and is given another.
REQUEUE_AFTER = timedelta(minutes=2)
#: A running export that has not said it is alive for this long has lost its worker.
LAPSE_AFTER = timedelta(minutes=5)

UNFINISHED = (PreparedStatus.QUEUED, PreparedStatus.RUNNING)
FINISHED = (PreparedStatus.READY, PreparedStatus.FAILED)
LAPSED_REASON = (
    "The preparation stopped before it finished (its worker was stopped or restarted). "
    "Prepare it again."
)


class UnknownFormat(DomainError):
    """An export format that does not exist."""

    def __init__(self, format_name: str) -> None:
        super().__init__(f"There is no export format {format_name!r}; use csv, xlsx or json.")


@dataclass(frozen=True)
class Requested:
    """What :func:`request_export` did: the export asked for, and whether a job must be
    given it (a new one, or one whose job was lost), rather than one already under way."""

    export: PreparedExport
    submit: bool


def response_count(session: Session, study: Study) -> int:
    """The responses an export of ``study`` holds (those of closed rounds only, in a
    blind study), counted by the database: what an export's time grows with."""
    query = select(func.count(Response.id)).join(Response.round).where(Round.study_id == study.id)
    if study.anonymity == "blind":
        query = query.where(Round.status == RoundStatus.CLOSED)
    return int(session.execute(query).scalar_one())


def needs_preparing(responses: int, format_name: str, limit: int) -> bool:
    """Whether an export of ``responses`` responses in ``format_name`` takes too long to
    write while the client waits: more than ``limit`` responses weighted by
    :data:`FORMAT_WEIGHTS` (the app's ``ELICIT_EXPORT_INLINE_LIMIT``)."""
    return responses * FORMAT_WEIGHTS[format_name] > limit


def request_export(
    session: Session, study: Study, format_name: str, user: User | None
) -> Requested:
    """Ask for ``study``'s export in ``format_name`` to be prepared, audited, committed.

    An export of that study and format already queued or running is returned instead of
    a second one; a queued one whose job seems lost is to be submitted again."""
    if format_name not in FORMATS:
        raise UnknownFormat(format_name)
    _tidy(session, study)
    found = _unfinished(session, study, format_name)
    if found is not None:
        submit = hand_again(session, found)
        session.commit()  # what _tidy changed
        return Requested(found, submit=submit)
    export = PreparedExport(
        study_id=study.id,
        format=format_name,
        status=PreparedStatus.QUEUED,
        requested_by=user.id if user is not None else None,
    )
    try:
        with session.begin_nested():
            session.add(export)
    except IntegrityError:  # another request queued it a moment ago
        found = _unfinished(session, study, format_name)
        if found is None:
            raise
        session.commit()
        return Requested(found, submit=False)
    audit.record(session, "export.prepare", study=study, user=user, format=format_name)
    session.commit()
    log.info("export %d of %s (%s) queued", export.id, study.slug, format_name)
    return Requested(export, submit=True)


def hand_again(session: Session, export: PreparedExport) -> bool:
    """Whether the caller must hand ``export`` to a new job: it is still queued
    :data:`REQUEUE_AFTER` after it was last handed to one, whose job must be lost.  The
    export is marked handed over now (committed), so that of several callers at once
    only one submits it."""
    moment = utcnow()
    if export.status != PreparedStatus.QUEUED or export.queued_at >= moment - REQUEUE_AFTER:
        return False  # no write: a page that reloads itself takes no lock
    if not _hand(session, export.id, moment):
        return False  # another reader handed it a moment ago
    session.commit()
    return True


def _hand(session: Session, export_id: int, moment: datetime) -> bool:
    """Mark queued export ``export_id`` handed to a new job at ``moment`` if its last job
    was handed over :data:`REQUEUE_AFTER` before (not committed); whether it was."""
    handed = session.execute(
        update(PreparedExport)
        .where(
            PreparedExport.id == export_id,
            PreparedExport.status == PreparedStatus.QUEUED,
            PreparedExport.queued_at < moment - REQUEUE_AFTER,
        )
        .values(queued_at=moment)
        .execution_options(synchronize_session=False)
    )
    return bool(handed.rowcount)  # type: ignore[attr-defined]


def lost_jobs(session: Session, study: Study) -> list[int]:
    """The ids of ``study``'s queued exports whose job must be lost (see
    :func:`hand_again`), marked handed over now (committed when there are any): the
    caller hands each to a new job."""
    moment = utcnow()
    waiting = session.execute(
        select(PreparedExport.id).where(
            PreparedExport.study_id == study.id,
            PreparedExport.status == PreparedStatus.QUEUED,
            PreparedExport.queued_at < moment - REQUEUE_AFTER,
        )
    ).scalars()
    handed = [export_id for export_id in list(waiting) if _hand(session, export_id, moment)]
    if handed:
        session.commit()
    return handed


def study_exports(session: Session, study: Study) -> list[PreparedExport]:
    """The prepared exports of ``study``, newest first, but for those a newer ready file
    of their format replaces (lapsed ones marked failed, files past :data:`KEPT_FOR` or
    replaced :data:`SUPERSEDED_KEPT_FOR` ago deleted: committed)."""
    _tidy(session, study)
    session.commit()
    query = (
        select(PreparedExport)
        .where(PreparedExport.study_id == study.id, ~_superseded())
        .order_by(PreparedExport.requested_at.desc(), PreparedExport.id.desc())
        .execution_options(populate_existing=True)  # as a job last wrote them
    )
    return list(session.execute(query).scalars())


def study_export(session: Session, study: Study, export_id: int) -> PreparedExport | None:
    """Prepared export ``export_id`` if it is one of ``study``'s."""
    _tidy(session, study)
    session.commit()
    # Fresh: a job (another session) may have written it since this session read it.
    export = session.get(PreparedExport, export_id, populate_existing=True)
    if export is None or export.study_id != study.id:
        return None
    return export


def requester_emails(session: Session, exports: list[PreparedExport]) -> dict[int, str]:
    """The email of each user who asked for one of ``exports``, by user id (members of
    a study see each other's addresses on its audit log already)."""
    ids = {export.requested_by for export in exports if export.requested_by is not None}
    if not ids:
        return {}
    found = session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    return {row.id: row.email for row in found}


def closed_rounds(session: Session, study: Study) -> int:
    """How many of ``study``'s rounds are closed (a prepared file records it)."""
    query = select(func.count(Round.id)).where(
        Round.study_id == study.id, Round.status == RoundStatus.CLOSED
    )
    return int(session.execute(query).scalar_one())


def write_prepared(
    session: Session, export_id: int, *, chunk_bytes: int = CHUNK_BYTES
) -> PreparedStatus:
    """The job: write prepared export ``export_id`` if it is still queued; return its
    state afterwards.  A failure is recorded on the export (and an unexpected one raised
    again, for the job queue to keep)."""
    claimed = session.execute(
        update(PreparedExport)
        .where(PreparedExport.id == export_id, PreparedExport.status == PreparedStatus.QUEUED)
        .values(status=PreparedStatus.RUNNING, started_at=utcnow(), alive_at=utcnow())
    )
    session.commit()
    export = session.get(PreparedExport, export_id, populate_existing=True)
    if export is None:
        return PreparedStatus.FAILED  # deleted with its study meanwhile
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return export.status  # another job has it, or had it
    try:
        bind = session.get_bind()
        with _alive(bind if isinstance(bind, Engine) else bind.engine, export_id):
            _write(session, export, chunk_bytes)
    except TooLargeForSpreadsheet as refused:
        reason = (
            f"The {refused.sheet} sheet would need {refused.rows:,} rows, more than the "
            f"{refused.limit:,} a spreadsheet holds; no workbook was made. The CSV export "
            "holds every row."
        )
        _fail(session, export_id, reason)
        return PreparedStatus.FAILED
    except Exception as error:
        try:
            _fail(session, export_id, f"The export could not be written ({type(error).__name__}).")
        except Exception:  # the database itself is gone: the export lapses in time
            log.exception("could not record that export %d failed", export_id)
        raise
    return PreparedStatus.READY


def _write(session: Session, export: PreparedExport, chunk_bytes: int) -> None:
    """Write ``export``'s file into its chunks, then mark it ready (see the module)."""
    study = session.get(Study, export.study_id)
    if study is None:
        raise LookupError(f"study {export.study_id} is gone")
    rounds = closed_rounds(session, study)
    export_id = export.id
    with tempfile.TemporaryFile() as file:
        media_type, name = write_export(open_export(session, study), export.format, file)
        size = file.tell()
        session.rollback()  # end the long read before writing
        file.seek(0)
        hashed = hashlib.sha256()
        number = 0
        while block := file.read(chunk_bytes):
            hashed.update(block)
            session.execute(
                insert(PreparedExportChunk).values(
                    export_id=export_id, number=number, data=zlib.compress(block, 1)
                )
            )
            number += 1
            if number % CHUNKS_PER_COMMIT == 0:
                session.commit()
    finished = session.execute(
        update(PreparedExport)
        .where(PreparedExport.id == export_id, PreparedExport.status == PreparedStatus.RUNNING)
        .values(
            status=PreparedStatus.READY,
            finished_at=utcnow(),
            closed_rounds=rounds,
            media_type=media_type,
            filename=name,
            size=size,
            sha256=hashed.hexdigest(),
        )
    )
    if finished.rowcount != 1:  # type: ignore[attr-defined]
        raise RuntimeError(f"prepared export {export_id} was taken from its job")
    session.commit()  # the study's older files of this format are superseded (_tidy)
    log.info("export %d of %s (%s) written: %d bytes", export_id, study.slug, export.format, size)


def _fail(session: Session, export_id: int, reason: str) -> None:
    """Record that ``export_id`` failed, and drop what it had written."""
    session.rollback()
    failed = session.execute(
        update(PreparedExport)
        .where(PreparedExport.id == export_id, PreparedExport.status == PreparedStatus.RUNNING)
        .values(status=PreparedStatus.FAILED, finished_at=utcnow(), error=reason)
    )
    if failed.rowcount:  # type: ignore[attr-defined]
        log.warning("export %d failed: %s", export_id, reason)
    # What this job wrote goes, unless the file is ready after all; so do pieces it
    # wrote after its export lapsed (a lapse deletes those written before).
    state = session.execute(
        select(PreparedExport.status).where(PreparedExport.id == export_id)
    ).scalar_one_or_none()
    if state != PreparedStatus.READY:
        session.execute(
            delete(PreparedExportChunk).where(PreparedExportChunk.export_id == export_id)
        )
    session.commit()


def read_chunks(engine: Engine, export_id: int, size: int) -> Iterator[bytes]:
    """The file of ready export ``export_id``, of ``size`` bytes, a piece at a time,
    each read with a connection of its own that is returned at once.  Raises
    ``LookupError`` when a piece is missing (the file was deleted while being sent): the
    response then ends short of its stated length, which every client reports as a
    failed download."""
    sent = 0
    number = 0
    while sent < size:
        with engine.connect() as connection:
            data = connection.execute(
                select(PreparedExportChunk.data).where(
                    PreparedExportChunk.export_id == export_id,
                    PreparedExportChunk.number == number,
                )
            ).scalar_one_or_none()
        if data is None:
            raise LookupError(f"prepared export {export_id} lost piece {number}")
        block = zlib.decompress(data)
        sent += len(block)
        number += 1
        yield block


def is_dated(export: PreparedExport, rounds: int) -> bool:
    """Whether a round has closed since ready ``export`` was written."""
    return export.closed_rounds is not None and export.closed_rounds < rounds


def _unfinished(session: Session, study: Study, format_name: str) -> PreparedExport | None:
    query = select(PreparedExport).where(
        PreparedExport.study_id == study.id,
        PreparedExport.format == format_name,
        PreparedExport.status.in_(UNFINISHED),
    )
    return session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()


def _tidy(session: Session, study: Study, now: Callable[[], datetime] = utcnow) -> None:
    """Mark ``study``'s lapsed exports failed, deleting what they had written, and
    delete every study's files past :data:`KEPT_FOR`, or replaced by a newer one
    :data:`SUPERSEDED_KEPT_FOR` ago (not committed).  Looks before it writes: on SQLite
    any write, even of no row, waits for the database's one writer."""
    moment = now()
    lapsed = and_(
        PreparedExport.study_id == study.id,
        PreparedExport.status == PreparedStatus.RUNNING,
        PreparedExport.alive_at < moment - LAPSE_AFTER,
    )
    expired = or_(
        and_(PreparedExport.status.in_(FINISHED), PreparedExport.finished_at < moment - KEPT_FOR),
        _superseded(before=moment - SUPERSEDED_KEPT_FOR),  # finished ones only, too
    )
    found = session.execute(
        select(PreparedExport.id, PreparedExport.status).where(or_(lapsed, expired))
    ).all()
    if not found:
        return
    lapsed_ids = [row.id for row in found if row.status == PreparedStatus.RUNNING]
    if lapsed_ids:
        session.execute(
            update(PreparedExport)
            .where(PreparedExport.id.in_(lapsed_ids), lapsed)
            .values(status=PreparedStatus.FAILED, finished_at=moment, error=LAPSED_REASON)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            delete(PreparedExportChunk).where(PreparedExportChunk.export_id.in_(lapsed_ids))
        )
    _delete(session, expired)
    session.expire_all()


def _superseded(before: datetime | None = None) -> ColumnElement[bool]:
    """Whether a finished export is replaced: a newer one of its study and format is
    ready (since before ``before``, if given).  Ids grow with time, and a study has at
    most one export of a format under way, so the newer one is the one asked for later."""
    newer = aliased(PreparedExport)
    condition = and_(
        newer.study_id == PreparedExport.study_id,
        newer.format == PreparedExport.format,
        newer.id > PreparedExport.id,
        newer.status == PreparedStatus.READY,
    )
    if before is not None:
        condition = and_(condition, newer.finished_at < before)
    return and_(PreparedExport.status.in_(FINISHED), exists().where(condition))


def _alive(engine: Engine, export_id: int) -> AbstractContextManager[None]:
    """While the block runs, record every :data:`BEAT_EVERY` that the job writing
    ``export_id`` is alive (:func:`surveys.heartbeat.beating`)."""
    return beating(
        engine,
        lambda: (
            update(PreparedExport)
            .where(PreparedExport.id == export_id, PreparedExport.status == PreparedStatus.RUNNING)
            .values(alive_at=utcnow())
        ),
        f"export-{export_id}",
        BEAT_EVERY,
    )


def _delete(session: Session, *where: ColumnElement[bool]) -> None:
    """Delete the prepared exports that match ``where`` and their files (not committed).

    The pieces are deleted first, by hand: SQLite does not enforce ``ON DELETE``."""
    chosen = select(PreparedExport.id).where(*where).scalar_subquery()
    session.execute(delete(PreparedExportChunk).where(PreparedExportChunk.export_id.in_(chosen)))
    session.execute(
        delete(PreparedExport)
        .where(PreparedExport.id.in_(chosen))
        .execution_options(synchronize_session=False)
    )
