"""A round's close computed by a job, not in the request that asks for it.

:func:`surveys.rounds.close_round` reads every answer of the round and computes every
statistic of its summary.  At 100,000 panelists that takes one to two minutes on
PostgreSQL (``benchmarks/close.py``), near gunicorn's 120 s worker timeout, past which
the facilitator would get an error page (the close, in one transaction, would be rolled
back: nothing lost, but nothing closed either).  So the console asks for a close, and a
job does it:

1. :func:`request_close` records a :class:`~surveys.models.RoundClosing`, queued, and
   the caller hands its id to a job (:mod:`elicit.jobs`).  Two requests at once for the
   same round share one (a partial unique index: at most one is queued or running).
   The round stays open, and takes submissions, until the job claims it.
2. The job (:func:`run_closing`) claims it (queued → running, so a job run twice closes
   once) and calls :func:`~surveys.rounds.close_round` with the facilitator as actor and
   the items they ticked to retire: the summary, the feedback, the audit event and the
   retirements are exactly those of a close in the request, in one transaction.
3. The console follows it (:func:`current_status`) and shows the round closed once it
   is.

What can go wrong, and what then:

- The close fails (the study's setting changed so that its ticks are refused, a bug,
  the database gone): the closing is *failed*, with the reason in words; the close's
  transaction is rolled back, so the round is still open and every answer is kept.
- The job is lost before it starts (Redis restarted without its data, a web process that
  ran it in a thread stopped): a closing still queued :data:`REQUEUE_AFTER` after it was
  handed to a job is handed to another when its page is read (:func:`hand_again`).
- The worker dies while closing: the close's transaction dies with it (the round stays
  open), and a closing that has not said it is alive for :data:`LAPSE_AFTER` counts as
  failed (:func:`current_status`); asking again replaces it.
- The round is closed another way meanwhile (``elicit round close``, the API, a second
  job): the closing is *done*, whoever closed the round; a job that then finds no open
  round closes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from surveys import audit
from surveys.errors import Conflict
from surveys.heartbeat import beating_record
from surveys.models import (
    ClosingStatus,
    Round,
    RoundClosing,
    RoundPreview,
    RoundStatus,
    Study,
    User,
    utcnow,
)
from surveys.rounds import STAY_REFUSAL, NotTheOpenRound, close_round, open_round_of

log = logging.getLogger(__name__)

#: A queued close not started by then has lost its job, and is given another.
REQUEUE_AFTER = timedelta(minutes=2)
#: A running close that has not said it is alive for this long has lost its worker:
#: longer than an export's, as a close on SQLite cannot say it is alive (see
#: :mod:`surveys.heartbeat`), and a worker's death is rare.
LAPSE_AFTER = timedelta(minutes=10)

UNFINISHED = (ClosingStatus.QUEUED, ClosingStatus.RUNNING)
LAPSED_REASON = (
    "The close stopped before it finished (its worker was stopped or restarted). "
    "The round is still open and no answer was lost: close it again."
)


@dataclass(frozen=True)
class Requested:
    """What :func:`request_close` did: the closing asked for, and whether a job must be
    given it (a new one, or one whose job was lost), rather than one already under way."""

    closing: RoundClosing
    submit: bool


def request_close(
    session: Session,
    study: Study,
    *,
    actor: User | None,
    retire: Collection[str] = (),
    number: int | None = None,
) -> Requested:
    """Ask for ``study``'s open round to be closed by a job, audited, committed;
    ``retire`` are the items at consensus the facilitator ticked ("ask" studies);
    ``number``, the round the asker saw open (the close page's, the API's address).

    A close of the round already queued or running is returned instead of a second one
    (its own ticks stand); one whose worker lapsed is marked failed and replaced.
    Raises :class:`Conflict` when no round is open, or when ``retire`` names items in a
    study that keeps them, and :class:`NotTheOpenRound` when the open round is not
    ``number``: a close page left open while a colleague closed its round and opened the
    next must not close the new round, unanswered, for good."""
    if retire and study.consensus_items == "stay":
        raise Conflict(STAY_REFUSAL)
    round_ = open_round_of(session, study)
    if round_ is None:
        raise Conflict("no round is open")
    if number is not None and round_.number != number:
        raise NotTheOpenRound(number, round_.number)
    _mark_lapsed(session, round_.id)
    found = _unfinished(session, round_.id)
    if found is not None:
        submit = hand_again(session, found)
        session.commit()
        return Requested(found, submit=submit)
    closing = RoundClosing(
        round_id=round_.id,
        status=ClosingStatus.QUEUED,
        requested_by=actor.id if actor is not None else None,
        retire=sorted(set(retire)),
    )
    try:
        with session.begin_nested():
            session.add(closing)
    except IntegrityError:  # another request asked a moment ago
        found = _unfinished(session, round_.id)
        if found is None:
            raise
        session.commit()
        return Requested(found, submit=False)
    audit.record(session, "round.close.request", study=study, user=actor, round=round_.number)
    session.commit()
    log.info("close of round %d of %s queued", round_.number, study.slug)
    return Requested(closing, submit=True)


def hand_again(session: Session, closing: RoundClosing | RoundPreview) -> bool:
    """Whether the caller must hand ``closing`` (or a close's preview,
    :mod:`surveys.close_previews`) to a new job: it is still queued :data:`REQUEUE_AFTER`
    after it was last handed to one, whose job must be lost.  It is marked handed over
    now (committed), so that of several readers only one submits it."""
    moment = utcnow()
    if closing.status != ClosingStatus.QUEUED or closing.queued_at >= moment - REQUEUE_AFTER:
        return False  # no write: a page that asks again and again takes no lock
    model = type(closing)
    handed = session.execute(
        update(model)
        .where(
            model.id == closing.id,
            model.status == ClosingStatus.QUEUED,
            model.queued_at < moment - REQUEUE_AFTER,
        )
        .values(queued_at=moment)
        .execution_options(synchronize_session=False)
    )
    if not handed.rowcount:  # type: ignore[attr-defined]
        return False  # another reader handed it a moment ago
    session.commit()
    return True


def study_closing(session: Session, study: Study, closing_id: int) -> RoundClosing | None:
    """Closing ``closing_id`` if it is of one of ``study``'s rounds, as its job last
    wrote it."""
    closing = session.get(RoundClosing, closing_id, populate_existing=True)
    if closing is None or closing.round.study_id != study.id:
        return None
    return closing


def open_round_closing(session: Session, study: Study) -> RoundClosing | None:
    """The latest closing asked for of ``study``'s open round, if any."""
    query = (
        select(RoundClosing)
        .join(RoundClosing.round)
        .where(Round.study_id == study.id, Round.status == RoundStatus.OPEN)
        .order_by(RoundClosing.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return session.execute(query).scalar_one_or_none()


def current_status(closing: RoundClosing, now: datetime | None = None) -> ClosingStatus:
    """What ``closing`` amounts to now: done once its round is closed (by this job or
    any other way), failed once its worker has been silent for :data:`LAPSE_AFTER`
    (see :func:`failure`), else as its job last wrote it."""
    if closing.status == ClosingStatus.DONE or closing.round.status == RoundStatus.CLOSED:
        return ClosingStatus.DONE
    if _lapsed(closing, now or utcnow()):
        return ClosingStatus.FAILED
    return closing.status


def failure(closing: RoundClosing, now: datetime | None = None) -> str | None:
    """Why ``closing`` failed, in words, if it has (:func:`current_status`)."""
    if current_status(closing, now) != ClosingStatus.FAILED:
        return None
    return closing.error or LAPSED_REASON


def run_closing(session: Session, closing_id: int) -> ClosingStatus:
    """The job: close the round of ``closing_id`` if it is still queued; return its state
    afterwards.  A failure is recorded on the closing (and an unexpected one raised
    again, for the job queue to keep)."""
    moment = utcnow()
    claimed = session.execute(
        update(RoundClosing)
        .where(RoundClosing.id == closing_id, RoundClosing.status == ClosingStatus.QUEUED)
        .values(status=ClosingStatus.RUNNING, started_at=moment, alive_at=moment)
    )
    session.commit()
    closing = session.get(RoundClosing, closing_id, populate_existing=True)
    if closing is None:
        return ClosingStatus.FAILED  # deleted with its study meanwhile
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return closing.status  # another job has it, or had it
    round_ = closing.round
    if round_.status != RoundStatus.OPEN:  # closed another way since it was asked for
        return _finish(session, closing_id, ClosingStatus.DONE)
    study, retire = round_.study, list(closing.retire)
    actor = session.get(User, closing.requested_by) if closing.requested_by else None
    try:
        with beating_record(
            session, RoundClosing, closing_id, ClosingStatus.RUNNING, f"close-{closing_id}"
        ):
            close_round(session, study, actor=actor, retire=retire, number=round_.number)
    except Conflict as refused:
        session.rollback()
        if _round_closed(session, round_.id):
            return _finish(session, closing_id, ClosingStatus.DONE)
        reason = f"The round could not be closed: {refused}. It is still open."
        return _finish(session, closing_id, ClosingStatus.FAILED, reason)
    except Exception as error:
        session.rollback()
        try:
            if _round_closed(session, round_.id):  # closed; what failed came after
                _finish(session, closing_id, ClosingStatus.DONE)
            else:
                reason = (
                    f"The round could not be closed ({type(error).__name__}). It is still "
                    "open and no answer was lost: close it again."
                )
                _finish(session, closing_id, ClosingStatus.FAILED, reason)
        except Exception:  # the database itself is gone: the closing lapses in time
            log.exception("could not record how closing %d ended", closing_id)
        raise
    return _finish(session, closing_id, ClosingStatus.DONE)


def _finish(
    session: Session, closing_id: int, status: ClosingStatus, error: str | None = None
) -> ClosingStatus:
    """Record that closing ``closing_id`` ended with ``status`` (committed)."""
    session.execute(
        update(RoundClosing)
        .where(RoundClosing.id == closing_id)
        .values(status=status, finished_at=utcnow(), error=error)
    )
    session.commit()
    if status == ClosingStatus.FAILED:
        log.warning("closing %d failed: %s", closing_id, error)
    return status


def _round_closed(session: Session, round_id: int) -> bool:
    state = session.execute(select(Round.status).where(Round.id == round_id)).scalar_one_or_none()
    return state == RoundStatus.CLOSED


def _unfinished(session: Session, round_id: int) -> RoundClosing | None:
    query = select(RoundClosing).where(
        RoundClosing.round_id == round_id, RoundClosing.status.in_(UNFINISHED)
    )
    return session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()


def _lapsed(closing: RoundClosing, now: datetime) -> bool:
    return (
        closing.status == ClosingStatus.RUNNING
        and (closing.alive_at or closing.started_at or closing.requested_at) < now - LAPSE_AFTER
    )


def _mark_lapsed(session: Session, round_id: int) -> None:
    """Mark failed the running closing of ``round_id`` whose worker has been silent for
    :data:`LAPSE_AFTER` (not committed): a new one may then be asked for."""
    session.execute(
        update(RoundClosing)
        .where(
            RoundClosing.round_id == round_id,
            RoundClosing.status == ClosingStatus.RUNNING,
            RoundClosing.alive_at < utcnow() - LAPSE_AFTER,
        )
        .values(status=ClosingStatus.FAILED, finished_at=utcnow(), error=LAPSED_REASON)
        .execution_options(synchronize_session=False)
    )
