"""The close's preview of a large round, computed by a job and kept.

The close's confirmation page shows what closing would store
(:func:`surveys.rounds.close_preview`): every row's state, rule and stability.  It reads
every answer of the round and of the one before: at 100,000 panelists about a minute
(``benchmarks/console.py``), which a page must not take, nor take again at each visit.
So past a number of answers to read (:func:`answers_to_read`, the app's
``ELICIT_CLOSE_PREVIEW_INLINE_LIMIT``) the page shows a preview computed by a job and
kept, one per round
(:class:`~surveys.models.RoundPreview`):

1. The first visit asks for it (:func:`request_preview`): a queued preview, handed to a
   job (:mod:`elicit.jobs`).  Two visits at once share one (a unique round).
2. The job (:func:`run_preview`) claims it (queued → running) and stores the preview
   with its distributions tallied (:func:`stored_form`: at 100,000 panelists a few
   hundred distinct values per distribution, not 100,000 answers each).
3. The page shows it, saying when it was computed and from how many panelists, beside
   how many have submitted since; asking again computes it again in place.

What can go wrong, and what then: the job fails (the reason is kept and shown, the
facilitator asks again); the job is lost before it starts (a preview still queued
:data:`~surveys.closing.REQUEUE_AFTER` after it was handed to a job is handed to another
when the page is read); the worker dies while computing (a preview that has not said it
is alive for :data:`LAPSE_AFTER` counts as failed, and asking again replaces it; should
the first job still finish, it writes nothing over the preview that replaced it).  The
preview only reads, so it never holds a close or a submission back, and its job can
say it is alive on SQLite too (unlike a close: :mod:`surveys.heartbeat`).

A preview is what the answers were when it was computed; the close decides on the
answers it stores, as the page says.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from analysis.criterion_checks import READS_ANSWERS
from surveys.closing import UNFINISHED, current_status, hand_again, open_round_closing
from surveys.definition import StudyDefinition
from surveys.heartbeat import beating_record
from surveys.models import (
    ClosingStatus,
    Round,
    RoundPreview,
    RoundStatus,
    RoundSummary,
    Study,
    utcnow,
)
from surveys.rounds import close_preview
from surveys.rule_editing import effective_rule
from surveys.studies import study_definition

log = logging.getLogger(__name__)

#: A running preview that has not said it is alive for this long has lost its worker
#: (it says so every 30 s, on SQLite too: it writes nothing else).
LAPSE_AFTER = timedelta(minutes=2)

LAPSED_REASON = "The preview stopped before it finished (its worker was stopped or restarted)."


@dataclass(frozen=True)
class Requested:
    """What :func:`request_preview` did: the preview asked for, and whether a job must
    be given it (a new one, or one whose job was lost), rather than one under way."""

    preview: RoundPreview
    submit: bool


def answers_to_read(session: Session, study: Study, round_: Round, respondents: int) -> int:
    """About how many answers the preview of ``round_`` reads: ``respondents`` (its
    submitted panelists) and the previous round's, times the study's items.  What the
    preview's time grows with: at 3,000 panelists of the demo (21 items) with 600 of
    them submitted, 75,600 answers, it took 2.3 s on SQLite (``benchmarks/console.py``)."""
    previous = session.execute(
        select(RoundSummary.respondents)
        .join(RoundSummary.round)
        .where(Round.study_id == study.id, Round.number == round_.number - 1)
    ).scalar_one_or_none()
    return (respondents + (previous or 0)) * len(study.items)


def computed_in_request(answers: int, limit: int) -> bool:
    """Whether the page computes the preview itself, at each visit: at most ``limit``
    answers to read (:func:`answers_to_read`; the app's
    ``ELICIT_CLOSE_PREVIEW_INLINE_LIMIT``)."""
    return answers <= limit


def round_preview(session: Session, round_: Round) -> RoundPreview | None:
    """``round_``'s kept preview, as its job last wrote it, if one was asked for; the
    preview itself is read when first used (its state is read more often)."""
    query = (
        select(RoundPreview)
        .where(RoundPreview.round_id == round_.id)
        .options(defer(RoundPreview.preview))
    )
    return session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()


def request_preview(session: Session, round_: Round, *, again: bool = False) -> Requested:
    """Ask for ``round_``'s preview to be computed by a job, committed.

    Without ``again`` a preview already asked for is returned as it is (one whose job
    was lost is handed to another).  With ``again`` (the facilitator's "compute again")
    a finished, failed or lapsed one is computed again in place; one under way is
    returned as it is."""
    found = round_preview(session, round_)
    if found is None:
        preview = RoundPreview(round_id=round_.id, status=ClosingStatus.QUEUED)
        try:
            with session.begin_nested():
                session.add(preview)
        except IntegrityError:  # another visit asked a moment ago
            found = round_preview(session, round_)
            if found is None:
                raise
            session.commit()
            return Requested(found, submit=False)
        session.commit()
        log.info("preview of round %d queued", round_.number)
        return Requested(preview, submit=True)
    if preview_status(found) in UNFINISHED:
        submit = hand_again(session, found)
        session.commit()
        return Requested(found, submit=submit)
    if not again:
        return Requested(found, submit=False)
    moment = utcnow()
    queued = session.execute(
        update(RoundPreview)
        .where(
            RoundPreview.id == found.id,
            RoundPreview.status == found.status,
            _started(found.started_at),
        )
        .values(
            status=ClosingStatus.QUEUED,
            requested_at=moment,
            queued_at=moment,
            started_at=None,
            alive_at=None,
            finished_at=None,
            preview=None,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    found = round_preview(session, round_) or found
    # Of two visits asking again at once, only the one whose update took it submits.
    return Requested(found, submit=bool(queued.rowcount))  # type: ignore[attr-defined]


def preview_status(preview: RoundPreview, now: datetime | None = None) -> ClosingStatus:
    """What ``preview`` amounts to now: failed once its worker has been silent for
    :data:`LAPSE_AFTER`, else as its job last wrote it."""
    moment = now or utcnow()
    if preview.status == ClosingStatus.RUNNING and (
        (preview.alive_at or preview.started_at or preview.requested_at) < moment - LAPSE_AFTER
    ):
        return ClosingStatus.FAILED
    return preview.status


def preview_failure(preview: RoundPreview, now: datetime | None = None) -> str | None:
    """Why ``preview`` failed, in words, if it has (:func:`preview_status`)."""
    if preview_status(preview, now) != ClosingStatus.FAILED:
        return None
    return preview.error or LAPSED_REASON


def run_preview(session: Session, preview_id: int) -> ClosingStatus:
    """The job: compute preview ``preview_id`` if it is still queued and keep it; return
    its state afterwards.  A failure is recorded on the preview (and an unexpected one
    raised again, for the job queue to keep)."""
    moment = utcnow()
    claimed = session.execute(
        update(RoundPreview)
        .where(RoundPreview.id == preview_id, RoundPreview.status == ClosingStatus.QUEUED)
        .values(status=ClosingStatus.RUNNING, started_at=moment, alive_at=moment)
    )
    session.commit()
    preview = session.get(RoundPreview, preview_id, populate_existing=True)
    if preview is None:
        return ClosingStatus.FAILED  # deleted with its round meanwhile
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return preview.status  # another job has it, or had it
    # The claim's moment as the database stores it: this job's mark on the row.
    started = preview.started_at
    round_ = preview.round
    if round_.status != RoundStatus.OPEN:
        return _finish(session, preview_id, started, ClosingStatus.FAILED, "The round is closed.")
    closing = open_round_closing(session, round_.study)
    if closing is not None and current_status(closing) in UNFINISHED:
        # Its close was asked for since: no wait of a minute for a preview it ends.
        reason = "The round is being closed."
        return _finish(session, preview_id, started, ClosingStatus.FAILED, reason)
    try:
        with beating_record(
            session,
            RoundPreview,
            preview_id,
            ClosingStatus.RUNNING,
            f"preview-{preview_id}",
            _started(started),  # a run replaced meanwhile keeps no other run alive
        ):
            computed = close_preview(session, round_.study, round_)
        session.rollback()  # the answers' read ends here
        kept = stored_form(computed, study_definition(round_.study))
        return _finish(session, preview_id, started, ClosingStatus.DONE, stored=kept)
    except Exception as error:
        session.rollback()
        try:
            reason = f"The preview could not be computed ({type(error).__name__})."
            _finish(session, preview_id, started, ClosingStatus.FAILED, reason)
        except Exception:  # the database itself is gone: the preview lapses in time
            log.exception("could not record how preview %d ended", preview_id)
        raise


def _started(started_at: datetime | None) -> Any:
    """A condition on a preview's claim: the same ``started_at`` (none)."""
    if started_at is None:
        return RoundPreview.started_at.is_(None)
    return RoundPreview.started_at == started_at


def _finish(
    session: Session,
    preview_id: int,
    started: datetime | None,
    status: ClosingStatus,
    error: str | None = None,
    *,
    stored: dict[str, Any] | None = None,
) -> ClosingStatus:
    """Record that this job's run of preview ``preview_id`` ended with ``status``
    (committed), unless the preview was asked for again meanwhile (the claim differs):
    then the run's result is not the one wanted, and nothing is written."""
    written = session.execute(
        update(RoundPreview)
        .where(
            RoundPreview.id == preview_id,
            RoundPreview.status == ClosingStatus.RUNNING,
            _started(started),
        )
        .values(status=status, finished_at=utcnow(), error=error, preview=stored)
    )
    session.commit()
    if not written.rowcount:  # type: ignore[attr-defined]
        log.info("preview %d was asked for again: this run's result is dropped", preview_id)
        return status
    if status == ClosingStatus.FAILED:
        log.warning("preview %d failed: %s", preview_id, error)
    return status


def stored_form(preview: Mapping[str, Any], definition: StudyDefinition) -> dict[str, Any]:
    """``preview`` (:func:`surveys.rounds.close_preview`) of a study defined by
    ``definition``, as it is kept: under ``"tallies"``, in place of ``"distributions"``,
    the sorted answers of each distribution whose rule reads them (a criterion of
    :data:`analysis.criterion_checks.READS_ANSWERS`), as ``[[value, count], …]`` in
    ascending order of value, which :func:`read_form` gives back exactly; none of the
    others, whose criteria read their summary rows only (the page reads the answers for
    nothing else).  At 100,000 panelists the calibration seeds' thousands of distinct
    values were 2.4 MB of the 2.5 MB kept, and decoding them was most of the page's time.
    The rest is kept as it is."""
    items = {item.key: item for item in definition.items}

    def read(item_key: str, component: str) -> bool:
        item = items.get(item_key)
        if item is None:
            return False
        rule = effective_rule(definition.consensus, item, component or None).rule
        return rule is not None and any(c.kind in READS_ANSWERS for c in rule.criteria)

    kept = {key: value for key, value in preview.items() if key != "distributions"}
    tallies: dict[str, dict[str, list[list[float]]]] = {}
    for item, components in preview["distributions"].items():
        tallies[item] = {}
        for component, values in components.items():
            if not read(item, component):
                tallies[item][component] = []
                continue
            distinct, counts = np.unique(np.asarray(values, dtype=float), return_counts=True)
            tallies[item][component] = [
                [value, count]
                for value, count in zip(distinct.tolist(), counts.tolist(), strict=True)
            ]
    kept["tallies"] = tallies
    return kept


def read_form(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A kept preview (:func:`stored_form`) as :func:`surveys.rounds.close_preview`
    returned it but for the answers the page does not read: ``"distributions"`` again,
    each one's answers sorted ascending, or none."""
    preview = {key: value for key, value in stored.items() if key != "tallies"}
    preview["distributions"] = {
        item: {
            component: np.repeat(
                np.asarray([value for value, _ in pairs], dtype=float),
                np.asarray([count for _, count in pairs], dtype=np.int64),
            ).tolist()
            for component, pairs in components.items()
        }
        for item, components in stored["tallies"].items()
    }
    return preview
