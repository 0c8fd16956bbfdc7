"""Reminders planned before a round's deadline: "3 days before" and "1 day before", to
the panelists who have not submitted, sent by themselves.

A schedule belongs to the study (:class:`~surveys.models.ReminderSchedule`: so many hours
before the deadline) and applies to every round that has a deadline.  When its moment
comes, the delivery queue's periodic sweep (:mod:`elicit.jobs`) calls :func:`fire_due`,
which queues one reminder batch exactly as the panel page's button does
(:func:`surveys.messaging.queue_reminders`: non-submitters with a valid link, at most
once per batch; in the schedule's own text where it has one,
:class:`~surveys.models.ReminderText`, else the study's reminder text) and records the
firing (:class:`~surveys.models.ReminderRun`, unique per schedule and round) in the same
transaction, so that two sweeps at once, or a sweep after a crash, never fire it twice
and never lose it.

Cancelled by themselves: a schedule fires only while its round is open and before the
deadline, and only to those who have not submitted then; a reminder still waiting for
delivery when the round closes or its panelist submits is cancelled at delivery
(:mod:`surveys.delivery`).  A schedule whose moment had passed when the round opened (a
deadline set two days ahead and a reminder three days before) never fires for that
round: the study page says so.  Moving the deadline moves every moment not yet past.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from surveys import audit
from surveys.errors import Conflict, InvalidValues
from surveys.links import LinkKeys
from surveys.messaging import queue_reminders
from surveys.models import (
    ReminderRun,
    ReminderSchedule,
    Round,
    RoundStatus,
    Study,
    User,
    utcnow,
)

#: A schedule is at least one hour and at most 60 days before the deadline.
MIN_HOURS_BEFORE = 1
MAX_HOURS_BEFORE = 60 * 24
#: At most this many schedules per study.
MAX_SCHEDULES = 10


@dataclass(frozen=True)
class PlannedReminder:
    """A schedule as the study page shows it for the open (or next) round."""

    schedule: ReminderSchedule
    #: When it fires in the open round (its deadline less the schedule's hours); ``None``
    #: without an open round with a deadline.
    at: datetime | None
    #: "planned", "sent" (fired in this round, with ``queued`` reminders), "missed" (its
    #: moment had passed when the round opened), or "no deadline".
    state: str
    queued: int | None = None


def schedules(session: Session, study: Study) -> list[ReminderSchedule]:
    """The study's schedules, the earliest (most hours before the deadline) first."""
    return list(
        session.execute(
            select(ReminderSchedule)
            .where(ReminderSchedule.study_id == study.id)
            .order_by(ReminderSchedule.hours_before.desc())
        ).scalars()
    )


def add_schedule(
    session: Session,
    study: Study,
    hours_before: Any,
    base_url: str,
    actor: User | None = None,
) -> ReminderSchedule:
    """Plan a reminder ``hours_before`` the deadline of every round; audited, committed.
    ``base_url`` is where the reminders' links point (the console's address when the
    schedule is made: a sweep has no request to read it from)."""
    existing = schedules(session, study)
    if isinstance(hours_before, bool) or not isinstance(hours_before, int):
        raise InvalidValues({"hours_before": ["must be a whole number of hours"]})
    if not MIN_HOURS_BEFORE <= hours_before <= MAX_HOURS_BEFORE:
        raise InvalidValues(
            {
                "hours_before": [
                    f"must be from {MIN_HOURS_BEFORE} hour to {MAX_HOURS_BEFORE // 24} days"
                ]
            }
        )
    if any(schedule.hours_before == hours_before for schedule in existing):
        raise InvalidValues({"hours_before": ["is planned already"]})
    if len(existing) >= MAX_SCHEDULES:
        raise InvalidValues({"hours_before": [f"at most {MAX_SCHEDULES} reminders can be planned"]})
    schedule = ReminderSchedule(
        study_id=study.id, hours_before=hours_before, base_url=base_url, created_at=utcnow()
    )
    session.add(schedule)
    audit.record(session, "messages.schedule", study=study, user=actor, hours_before=hours_before)
    session.commit()
    return schedule


def remove_schedule(
    session: Session, study: Study, schedule_id: int, actor: User | None = None
) -> bool:
    """Drop one of the study's schedules (its past firings go with it); whether it was
    there."""
    schedule = session.get(ReminderSchedule, schedule_id)
    if schedule is None or schedule.study_id != study.id:
        return False
    hours = schedule.hours_before
    session.delete(schedule)
    audit.record(session, "messages.unschedule", study=study, user=actor, hours_before=hours)
    session.commit()
    return True


def planned(session: Session, study: Study, round_: Round | None) -> list[PlannedReminder]:
    """Each schedule of the study and what it does in ``round_`` (the open round)."""
    result = []
    runs = {}
    if round_ is not None:
        runs = {
            run.schedule_id: run
            for run in session.execute(
                select(ReminderRun).where(ReminderRun.round_id == round_.id)
            ).scalars()
        }
    for schedule in schedules(session, study):
        if round_ is None or round_.status != RoundStatus.OPEN or round_.deadline is None:
            result.append(PlannedReminder(schedule, None, "no deadline"))
            continue
        at = round_.deadline - timedelta(hours=schedule.hours_before)
        run = runs.get(schedule.id)
        if run is not None:
            result.append(PlannedReminder(schedule, at, "sent", run.queued))
        elif round_.opened_at is not None and at < round_.opened_at:
            result.append(PlannedReminder(schedule, at, "missed"))
        else:
            result.append(PlannedReminder(schedule, at, "planned"))
    return result


def fire_due(session: Session, *, keys: LinkKeys, now: datetime | None = None) -> list[int]:
    """Queue the reminders of every schedule whose moment has come in an open round
    (after it, before the deadline, and after the round opened), once per schedule and
    round; return the ids of the messages queued, for the caller to hand to delivery."""
    now = now or utcnow()
    due = session.execute(
        select(ReminderSchedule.id, Round.id)
        .join(Round, Round.study_id == ReminderSchedule.study_id)
        .outerjoin(
            ReminderRun,
            and_(ReminderRun.schedule_id == ReminderSchedule.id, ReminderRun.round_id == Round.id),
        )
        .where(
            Round.status == RoundStatus.OPEN,
            Round.deadline.is_not(None),
            Round.deadline > now,
            ReminderRun.id.is_(None),
        )
    ).all()
    queued: list[int] = []
    for schedule_id, round_id in due:
        schedule = session.get(ReminderSchedule, schedule_id)
        round_ = session.get(Round, round_id)
        assert schedule is not None and round_ is not None and round_.deadline is not None
        at = round_.deadline - timedelta(hours=schedule.hours_before)
        if at > now or (round_.opened_at is not None and at < round_.opened_at):
            continue  # not yet; or its moment had passed when the round opened
        try:
            queued += _fire(session, schedule, round_, keys)
        except Conflict:
            # The round closed since it was read: nothing fires, nothing is recorded.
            session.rollback()
    return queued


def _fire(session: Session, schedule: ReminderSchedule, round_: Round, keys: LinkKeys) -> list[int]:
    """Record the firing and queue its batch in one transaction; nothing if another
    sweep recorded it first."""
    dialect = session.connection().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    claimed = session.execute(
        module.insert(ReminderRun)
        .values(schedule_id=schedule.id, round_id=round_.id, fired_at=utcnow(), queued=0)
        .on_conflict_do_nothing(index_elements=["schedule_id", "round_id"])
        .returning(ReminderRun.id)
    ).scalar_one_or_none()
    if claimed is None:
        session.rollback()
        return []
    study = session.get(Study, schedule.study_id)
    assert study is not None
    messages = queue_reminders(
        session, study, round_, schedule.base_url, keys=keys, commit=False, schedule=schedule
    )
    run = session.get(ReminderRun, claimed)
    assert run is not None
    run.queued = len(messages)
    session.commit()
    return messages.ids
