"""What happened with each panelist, round by round, and with the study's messages as a
whole (issue 14, point 5): every message (queued, sent, deferred, failed with its reason,
bounced, cancelled), when the panelist last opened their page and when they submitted.

Only the console of a standard study shows a panelist's history, next to their name: in
a blind study nobody is shown who is who, and the study-level summary (counts only) is
all there is.  "Opened" is the panelist's last visit (``Panelist.last_seen_at``): the
service keeps no log of every visit, so a round shows it only when that visit was in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from surveys.models import (
    MessageEvent,
    OutboxMessage,
    Panelist,
    Response,
    ResponseStatus,
    Round,
    Study,
)
from surveys.outbox import STATUSES as OUTBOX_STATUSES
from surveys.outbox import status_expression

#: Each message's status as the summary counts it: the outbox's
#: (:func:`surveys.outbox.status_expression`, :func:`surveys.delivery.delivery_status`).
STATUSES: tuple[str, ...] = OUTBOX_STATUSES


@dataclass(frozen=True)
class HistoryEntry:
    """One thing that happened: a message event, a visit, a submission."""

    at: datetime
    #: "message" (then ``kind``: the message's kind, ``event``: what happened to it),
    #: "opened" or "submitted".
    what: str
    kind: str | None = None
    event: str | None = None
    subject: str | None = None
    #: The server's reply or the reason, for a message event.
    detail: str | None = None
    attempt: int | None = None


@dataclass(frozen=True)
class RoundHistory:
    """One round of a panelist's history, oldest entry first."""

    number: int
    entries: list[HistoryEntry] = field(default_factory=list)


@dataclass(frozen=True)
class SummaryRow:
    """How many messages of one kind are in each status, in one round."""

    round: int | None
    kind: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """Every message of this kind in this round."""
        return sum(self.counts.values())


def panelist_history(session: Session, study: Study, panelist: Panelist) -> list[RoundHistory]:
    """The panelist's history in every round of ``study``, the latest round first."""
    rounds = list(
        session.execute(
            select(Round).where(Round.study_id == study.id).order_by(Round.number.desc())
        ).scalars()
    )
    events = session.execute(
        select(
            OutboxMessage.round_id,
            OutboxMessage.kind,
            OutboxMessage.subject,
            MessageEvent.at,
            MessageEvent.kind,
            MessageEvent.detail,
            MessageEvent.attempt,
        )
        .join(MessageEvent, MessageEvent.message_id == OutboxMessage.id)
        .where(OutboxMessage.panelist_id == panelist.id)
    ).all()
    unsent_without_events = session.execute(
        select(
            OutboxMessage.round_id,
            OutboxMessage.kind,
            OutboxMessage.subject,
            OutboxMessage.created_at,
        ).where(
            OutboxMessage.panelist_id == panelist.id,
            ~select(MessageEvent.id).where(MessageEvent.message_id == OutboxMessage.id).exists(),
        )
    ).all()
    submitted = dict(
        session.execute(
            select(Response.round_id, func.max(Response.submitted_at))
            .where(
                Response.panelist_id == panelist.id,
                Response.status == ResponseStatus.SUBMITTED,
            )
            .group_by(Response.round_id)
        ).all()
    )
    by_round: dict[int, list[HistoryEntry]] = {round_.id: [] for round_ in rounds}
    for round_id, kind, subject, at, event, detail, attempt in events:
        if round_id in by_round:
            by_round[round_id].append(
                HistoryEntry(at, "message", kind, event, subject, detail, attempt)
            )
    for round_id, kind, subject, created_at in unsent_without_events:
        # Queued without a mail server: it waits in the outbox for a facilitator.
        if round_id in by_round:
            by_round[round_id].append(HistoryEntry(created_at, "message", kind, "waiting", subject))
    for round_ in rounds:
        seen = panelist.last_seen_at
        if (
            seen is not None
            and round_.opened_at is not None
            and seen >= round_.opened_at
            and (round_.closed_at is None or seen <= round_.closed_at)
        ):
            by_round[round_.id].append(HistoryEntry(seen, "opened"))
        submitted_at = submitted.get(round_.id)
        if submitted_at is not None:
            by_round[round_.id].append(HistoryEntry(submitted_at, "submitted"))
    return [
        RoundHistory(round_.number, sorted(by_round[round_.id], key=lambda entry: entry.at))
        for round_ in rounds
    ]


def delivery_summary(session: Session, study: Study) -> list[SummaryRow]:
    """Every round's messages by kind and status, counted by the database; the latest
    round first, kinds in the order invitation, reminder, thank-you."""
    # The outbox's statuses, by the outbox's expression of them: one definition.
    status = status_expression()
    rows = session.execute(
        select(Round.number, OutboxMessage.kind, status, func.count())
        .join(Round, Round.id == OutboxMessage.round_id, isouter=True)
        .where(OutboxMessage.study_id == study.id)
        .group_by(Round.number, OutboxMessage.kind, status)
    ).all()
    summary: dict[tuple[int | None, str], dict[str, int]] = {}
    for number, kind, state, count in rows:
        summary.setdefault((number, kind), dict.fromkeys(STATUSES, 0))[state] = count
    order = {"invitation": 0, "reminder": 1, "thank_you": 2}
    return [
        SummaryRow(number, kind, counts)
        for (number, kind), counts in sorted(
            summary.items(), key=lambda item: (-(item[0][0] or 0), order.get(item[0][1], 9))
        )
    ]
