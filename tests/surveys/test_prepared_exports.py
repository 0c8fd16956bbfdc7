"""Prepared exports (issue 15, point 4): a study too large to export within a request
has its export written by a job into the database, a compressed piece a row, and sent
from there.  The file is the download's, byte for byte; two requests share one job; a
job run twice writes once; a failure is recorded, in words, with nothing half-written
left; a lost job is given another; a dead worker's export lapses; files are replaced by
newer ones and deleted after a week."""

from __future__ import annotations

import hashlib
import io
import random
import time
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from elicit.extensions import db
from surveys import exports, prepared_exports
from surveys.answers import submit_responses
from surveys.exports import open_export, write_export
from surveys.models import PreparedExport, PreparedExportChunk, PreparedStatus, Study
from surveys.panel import panelist_by_pseudonym
from surveys.prepared_exports import (
    KEPT_FOR,
    LAPSE_AFTER,
    LAPSED_REASON,
    REQUEUE_AFTER,
    SUPERSEDED_KEPT_FOR,
    UnknownFormat,
    closed_rounds,
    hand_again,
    is_dated,
    lost_jobs,
    needs_preparing,
    read_chunks,
    request_export,
    response_count,
    study_exports,
    write_prepared,
)
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.surveys.export_reference import reference_export_tables

EXPORTED_AT = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
def study(app, make_study, make_panel, make_user, monkeypatch, built_once):
    """The demo study after one closed round of six panelists, and a facilitator."""
    monkeypatch.setattr(exports, "utcnow", lambda: EXPORTED_AT)
    created = db.session.get(Study, built_once(lambda: _closed_round(make_study, make_panel)))
    created.lead = make_user("lead@example.org", studies=[created])
    return created


def _closed_round(make_study, make_panel) -> int:
    created = make_study()
    links = make_panel(created, 6)
    open_round(db.session, created)
    rng = random.Random(7)
    for link in links:
        panelist = panelist_by_pseudonym(db.session, created, link.pseudonym)
        submit_responses(db.session, panelist, simulated_answers(rng, study_definition(created)))
    close_round(db.session, created)
    return created.id


def downloaded(export: PreparedExport) -> bytes:
    """The prepared file as a download sends it."""
    return b"".join(read_chunks(db.engine, export.id, export.size or 0))


def as_written(study, format_name: str) -> bytes:
    """The file a download writes for ``study`` now."""
    buffer = io.BytesIO()
    write_export(open_export(db.session, study), format_name, buffer)
    return buffer.getvalue()


def chunk_count(export_id: int | None = None) -> int:
    query = select(func.count()).select_from(PreparedExportChunk)
    if export_id is not None:
        query = query.where(PreparedExportChunk.export_id == export_id)
    return int(db.session.execute(query).scalar_one())


def fresh(export_id: int) -> PreparedExport | None:
    db.session.expire_all()
    return db.session.get(PreparedExport, export_id)


def contents(format_name: str, data: bytes) -> object:
    """What a reader of the file finds in it: the JSON's bytes, each member of the CSV
    zip, each cell of the workbook (a zip's and a workbook's own times are the moment
    they were written)."""
    if format_name == "json":
        return data
    if format_name == "csv":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert archive.testzip() is None
            return {name: archive.read(name) for name in archive.namelist()}
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in workbook}


@pytest.mark.parametrize("format_name", ["csv", "json", "xlsx"])
def test_the_prepared_file_is_the_download_s(study, format_name):
    requested = request_export(db.session, study, format_name, study.lead)
    assert requested.submit and requested.export.status == PreparedStatus.QUEUED
    # Small pieces, so that the file spans many rows and commits.
    assert write_prepared(db.session, requested.export.id, chunk_bytes=997) == PreparedStatus.READY
    export = fresh(requested.export.id)
    sent = downloaded(export)
    assert export.size == len(sent)
    assert export.sha256 == hashlib.sha256(sent).hexdigest()
    assert chunk_count(export.id) == -(-len(sent) // 997)
    assert contents(format_name, sent) == contents(format_name, as_written(study, format_name))
    assert export.closed_rounds == 1
    assert export.filename == f"{study.slug}-export.{exports.FORMATS[format_name][1]}"
    assert export.media_type == exports.FORMATS[format_name][0]
    assert export.started_at <= export.finished_at


def test_two_requests_share_one_export_and_a_job_run_twice_writes_once(study):
    first = request_export(db.session, study, "csv", study.lead)
    second = request_export(db.session, study, "csv", None)
    assert second.export.id == first.export.id and not second.submit
    other = request_export(db.session, study, "json", None)
    assert other.export.id != first.export.id and other.submit
    assert write_prepared(db.session, first.export.id) == PreparedStatus.READY
    pieces = chunk_count(first.export.id)
    # The same job again (a queue that delivers twice) finds it taken and writes nothing.
    assert write_prepared(db.session, first.export.id) == PreparedStatus.READY
    assert chunk_count(first.export.id) == pieces
    # Once written, a new request is a new export.
    again = request_export(db.session, study, "csv", None)
    assert again.submit and again.export.id != first.export.id


def test_the_database_refuses_a_second_unfinished_export_of_a_format(study):
    request_export(db.session, study, "csv", None)
    db.session.add(PreparedExport(study_id=study.id, format="csv", status=PreparedStatus.RUNNING))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_a_request_that_loses_the_race_returns_the_winner(study, monkeypatch):
    winner = request_export(db.session, study, "csv", None)
    # As if the other request committed between this one's look and its insert.
    real = prepared_exports._unfinished
    calls = []

    def late(session, *arguments):
        calls.append(1)
        return None if len(calls) == 1 else real(session, *arguments)

    monkeypatch.setattr(prepared_exports, "_unfinished", late)
    loser = request_export(db.session, study, "csv", None)
    assert loser.export.id == winner.export.id and not loser.submit
    assert db.session.execute(select(func.count(PreparedExport.id))).scalar_one() == 1


def test_an_unknown_format_is_refused(study):
    with pytest.raises(UnknownFormat, match="'pdf'"):
        request_export(db.session, study, "pdf", None)


def test_a_workbook_too_large_fails_with_the_reason_and_leaves_no_file(study, monkeypatch):
    rows = len(reference_export_tables(db.session, study).responses) + 1
    monkeypatch.setattr(exports, "SPREADSHEET_MAX_ROWS", rows - 1)
    requested = request_export(db.session, study, "xlsx", None)
    assert write_prepared(db.session, requested.export.id) == PreparedStatus.FAILED
    export = fresh(requested.export.id)
    assert export.status == PreparedStatus.FAILED
    assert export.error.startswith(f"The responses sheet would need {rows:,} rows, ")
    assert f"more than the {rows - 1:,} a spreadsheet holds" in export.error
    assert export.error.endswith("The CSV export holds every row.")
    assert chunk_count() == 0 and export.size is None


def test_a_failure_part_way_through_storing_leaves_no_piece_and_says_so(study, monkeypatch):
    monkeypatch.setattr(prepared_exports, "CHUNKS_PER_COMMIT", 1)
    real = prepared_exports.zlib.compress
    calls = []

    def failing(data, level):
        calls.append(1)
        if len(calls) == 4:  # three pieces are committed by then
            raise MemoryError("out of memory")
        return real(data, level)

    monkeypatch.setattr(prepared_exports.zlib, "compress", failing)
    requested = request_export(db.session, study, "json", None)
    with pytest.raises(MemoryError):
        write_prepared(db.session, requested.export.id, chunk_bytes=500)
    export = fresh(requested.export.id)
    assert export.status == PreparedStatus.FAILED
    assert export.error == "The export could not be written (MemoryError)."
    assert chunk_count() == 0
    # And it may be asked for again.
    assert request_export(db.session, study, "json", None).submit


def test_a_lost_job_is_handed_again_once_and_a_dead_worker_s_export_lapses(study):
    queued = request_export(db.session, study, "csv", None).export
    assert not hand_again(db.session, queued)  # just handed to a job
    db.session.execute(
        update(PreparedExport)
        .where(PreparedExport.id == queued.id)
        .values(queued_at=datetime.now(UTC) - REQUEUE_AFTER - timedelta(seconds=1))
    )
    db.session.commit()
    again = request_export(db.session, study, "csv", None)
    assert again.export.id == queued.id and again.submit  # the same export, another job
    # Read again at once (a page that reloads itself, a second reader): not again.
    assert not request_export(db.session, study, "csv", None).submit
    assert not hand_again(db.session, fresh(queued.id))
    assert lost_jobs(db.session, study) == []  # handed just now
    # A worker took it, wrote some of it, and died: it has said nothing for a while.
    db.session.execute(
        update(PreparedExport)
        .where(PreparedExport.id == queued.id)
        .values(
            status=PreparedStatus.RUNNING,
            started_at=datetime.now(UTC) - timedelta(hours=1),
            alive_at=datetime.now(UTC) - LAPSE_AFTER - timedelta(seconds=1),
        )
    )
    db.session.add(PreparedExportChunk(export_id=queued.id, number=0, data=b"x"))
    db.session.commit()
    (lapsed,) = study_exports(db.session, study)
    assert lapsed.status == PreparedStatus.FAILED and lapsed.error == LAPSED_REASON
    assert chunk_count(queued.id) == 0  # nothing half-written is kept
    # The job, should it wake, does not write over it, nor its failure over the reason.
    assert write_prepared(db.session, queued.id) == PreparedStatus.FAILED
    # A piece its job wrote after the lapse goes when that job fails.
    db.session.add(PreparedExportChunk(export_id=queued.id, number=7, data=b"late"))
    db.session.commit()
    prepared_exports._fail(db.session, queued.id, "something else")
    assert fresh(queued.id).error == LAPSED_REASON
    assert chunk_count(queued.id) == 0
    new = request_export(db.session, study, "csv", None)
    assert new.submit and new.export.id != queued.id


def test_a_running_job_says_it_is_alive_and_so_does_not_lapse(study, monkeypatch):
    monkeypatch.setattr(prepared_exports, "BEAT_EVERY", timedelta(seconds=0.05))
    monkeypatch.setattr(prepared_exports, "LAPSE_AFTER", timedelta(seconds=0.2))
    real = prepared_exports.write_export
    seen = []

    def slow(export, format_name, stream):
        # Half a second of writing: past LAPSE_AFTER, but beating all along.
        for _ in range(5):
            time.sleep(0.1)
            seen.append(study_exports(db.session, study)[0].status)
        return real(export, format_name, stream)

    monkeypatch.setattr(prepared_exports, "write_export", slow)
    export_id = request_export(db.session, study, "json", None).export.id
    assert write_prepared(db.session, export_id) == PreparedStatus.READY
    assert seen == [PreparedStatus.RUNNING] * 5
    export = fresh(export_id)
    assert export.alive_at > export.started_at


def test_a_failure_reported_late_leaves_a_ready_file_alone(study):
    export_id = request_export(db.session, study, "json", None).export.id
    write_prepared(db.session, export_id)
    pieces = chunk_count(export_id)
    prepared_exports._fail(db.session, export_id, "a log line that could not be written")
    export = fresh(export_id)
    assert export.status == PreparedStatus.READY and export.error is None
    assert chunk_count(export_id) == pieces > 0


def test_lost_jobs_are_handed_once_each(study):
    first = request_export(db.session, study, "csv", None).export.id
    second = request_export(db.session, study, "json", None).export.id
    written = request_export(db.session, study, "xlsx", None).export.id
    write_prepared(db.session, written)
    db.session.execute(
        update(PreparedExport).values(
            queued_at=datetime.now(UTC) - REQUEUE_AFTER - timedelta(seconds=1)
        )
    )
    db.session.commit()
    assert sorted(lost_jobs(db.session, study)) == [first, second]
    assert lost_jobs(db.session, study) == []


def test_an_id_is_never_used_twice(study):
    first = request_export(db.session, study, "csv", None).export.id
    db.session.execute(PreparedExport.__table__.delete())
    db.session.commit()
    assert request_export(db.session, study, "csv", None).export.id > first


def ages(export_id: int, by: timedelta) -> None:
    """Move ``export_id``'s end of writing ``by`` into the past."""
    db.session.execute(
        update(PreparedExport)
        .where(PreparedExport.id == export_id)
        .values(finished_at=datetime.now(UTC) - by)
    )
    db.session.commit()


def test_a_new_file_replaces_the_old_and_files_go_after_a_week(study):
    old = request_export(db.session, study, "csv", None).export.id
    write_prepared(db.session, old)
    kept = request_export(db.session, study, "json", None).export.id
    write_prepared(db.session, kept)
    failed = request_export(db.session, study, "csv", None).export.id
    db.session.execute(  # as a job that failed leaves it
        update(PreparedExport)
        .where(PreparedExport.id == failed)
        .values(status=PreparedStatus.FAILED, finished_at=datetime.now(UTC), error="broken")
    )
    db.session.commit()
    new = request_export(db.session, study, "csv", None).export.id
    write_prepared(db.session, new)
    # Listed: the newest file of each format; the old file and the failure are replaced.
    assert [export.id for export in study_exports(db.session, study)] == [new, kept]
    assert fresh(old) is not None and chunk_count(old) > 0  # readable a while longer
    ages(new, SUPERSEDED_KEPT_FOR + timedelta(seconds=1))
    assert [export.id for export in study_exports(db.session, study)] == [new, kept]
    assert fresh(old) is None and fresh(failed) is None and chunk_count(old) == 0
    ages(kept, KEPT_FOR + timedelta(seconds=1))
    assert [export.id for export in study_exports(db.session, study)] == [new]
    assert chunk_count(kept) == 0 and chunk_count(new) > 0


def test_a_download_under_way_finishes_when_a_newer_file_replaces_it(study):
    old = request_export(db.session, study, "json", None).export.id
    write_prepared(db.session, old, chunk_bytes=500)
    export = fresh(old)
    expected = downloaded(export)
    pieces = read_chunks(db.engine, old, export.size)
    received = next(pieces)  # the client has the first piece when the new file is ready
    new = request_export(db.session, study, "json", None).export.id
    assert write_prepared(db.session, new) == PreparedStatus.READY
    assert [export.id for export in study_exports(db.session, study)] == [new]
    assert received + b"".join(pieces) == expected
    assert prepared_exports.study_export(db.session, study, old) is not None  # its API status


def test_a_missing_piece_stops_the_file_short(study):
    export_id = request_export(db.session, study, "json", None).export.id
    write_prepared(db.session, export_id, chunk_bytes=1000)
    export = fresh(export_id)
    db.session.execute(
        PreparedExportChunk.__table__.delete().where(
            PreparedExportChunk.export_id == export_id, PreparedExportChunk.number == 2
        )
    )
    db.session.commit()
    pieces = read_chunks(db.engine, export_id, export.size)
    assert len(next(pieces)) == 1000 and len(next(pieces)) == 1000
    with pytest.raises(LookupError, match="lost piece 2"):
        next(pieces)


def test_a_later_close_dates_a_file(study, make_panel):
    export_id = request_export(db.session, study, "csv", None).export.id
    write_prepared(db.session, export_id)
    export = fresh(export_id)
    assert not is_dated(export, closed_rounds(db.session, study))
    open_round(db.session, study)
    close_round(db.session, study)
    assert closed_rounds(db.session, study) == 2
    assert is_dated(export, closed_rounds(db.session, study))


def test_the_size_that_needs_preparing_is_counted_by_the_database(study):
    # Six panelists, every item answered: one response per panelist and item.
    responses = response_count(db.session, study)
    assert responses == 6 * len(study_definition(study).items)
    assert not needs_preparing(responses, "csv", responses)
    assert needs_preparing(responses + 1, "csv", responses)
    # A workbook is slower to write: the same study needs preparing sooner.
    assert needs_preparing(responses, "xlsx", responses)
    assert not needs_preparing(responses, "xlsx", 5 * responses)
