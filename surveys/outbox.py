"""The outbox as a facilitator works it: filtered by round and delivery status (counted
by the database), sent by hand from a mail-merge file, and marked as sent.

Without a mail server the outbox is a standard study's delivery channel (see
:mod:`surveys.messaging`): the facilitator downloads the messages as a mail-merge file
(:func:`write_mail_merge`), sends them from their own mail client, and marks them as
sent (:func:`mark_sent`), one by one or all those a filter selects.  A message marked as
sent has ``sent_at`` set, so delivery never claims it afterwards (a mail server
configured later sends it to nobody).  A blind study's console shows no link, so it gets
neither the file nor the marking: its messages go by SMTP only.

The status words are :func:`surveys.delivery.delivery_status`'s; :func:`status_expression`
says the same in SQL, so that a filter and its counts are the database's work and no
message row is loaded to count it.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import astuple, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, insert, literal, not_, or_, select, update
from sqlalchemy.orm import Session, selectinload

from surveys import audit
from surveys.delivery import CANCELLED_PREFIX, CLAIM_PREFIX, batches
from surveys.exports import spreadsheet_text
from surveys.links import LinkKeys, UnreadableLink
from surveys.messaging import LINK_PATTERN, LINK_PLACEHOLDER, REDACTED_LINK
from surveys.models import MessageEvent, OutboxMessage, Panelist, Round, Study, User, utcnow
from surveys.panel import stored_link

#: Every status a message may be in, in the order a page lists them
#: (:func:`surveys.delivery.delivery_status`'s words).
STATUSES = ("waiting", "queued", "sending", "retrying", "sent", "failed", "cancelled")
#: Messages listed per page of the outbox.
PAGE_SIZE = 200
#: The mail-merge file's columns, in order (field names a mail client's merge reads).
MAIL_MERGE_COLUMNS = ("name", "email", "language", "personal_link", "subject", "body", "problem")


@dataclass(frozen=True)
class OutboxFilter:
    """Which messages the outbox shows: of one round (its id) and in one status;
    ``None`` for any."""

    round_id: int | None = None
    status: str | None = None


@dataclass(frozen=True)
class OutboxCounts:
    """What the outbox's filter counts: messages per round within the chosen status,
    per status within the chosen round, per (kind, status) within both, and the total
    the filter selects."""

    by_round: dict[int | None, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    by_kind_status: dict[tuple[str, str], int] = field(default_factory=dict)
    selected: int = 0
    #: Every message of the study, whatever the filter.
    total: int = 0


def status_expression(now: datetime | None = None) -> Any:
    """:func:`surveys.delivery.delivery_status` as a SQL ``CASE`` over
    ``outbox_message``: its tests, in its order (a ``NULL`` test is false and falls
    through, as ``None`` does in Python)."""
    now = now or utcnow()
    moment = literal(now, OutboxMessage.next_attempt_at.type)
    return case(
        (OutboxMessage.sent_at.is_not(None), "sent"),
        (
            and_(
                OutboxMessage.failed_at.is_not(None),
                OutboxMessage.error.startswith(CANCELLED_PREFIX),
            ),
            "cancelled",
        ),
        (OutboxMessage.failed_at.is_not(None), "failed"),
        (
            and_(
                OutboxMessage.error.startswith(CLAIM_PREFIX),
                OutboxMessage.next_attempt_at > moment,
            ),
            "sending",
        ),
        (OutboxMessage.next_attempt_at.is_(None), "waiting"),
        (OutboxMessage.attempts > 0, "retrying"),
        else_="queued",
    )


def unsent_by_status(session: Session) -> dict[str, int]:
    """Every study's messages not sent yet, counted by status (:func:`status_expression`;
    "failed" and "cancelled" are ended, not waiting): the service's delivery backlog, for
    the operator's metrics.  Every status is listed, at zero if none."""
    status = status_expression()
    counts = dict.fromkeys(("waiting", "queued", "sending", "retrying"), 0)
    for state, count in session.execute(
        select(status, func.count(OutboxMessage.id))
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
        .group_by(status)
    ):
        counts[state] = count
    return counts


def selected(study: Study, selection: OutboxFilter, now: datetime | None = None) -> Any:
    """The condition that selects ``selection``'s messages of ``study``."""
    conditions: list[Any] = [OutboxMessage.study_id == study.id]
    if selection.round_id is not None:
        conditions.append(OutboxMessage.round_id == selection.round_id)
    if selection.status is not None:
        conditions.append(status_expression(now) == selection.status)
    return and_(*conditions)


def rounds_of(session: Session, study: Study) -> list[Round]:
    """The study's rounds, by number: the round filter's choices."""
    return list(
        session.execute(
            select(Round).where(Round.study_id == study.id).order_by(Round.number)
        ).scalars()
    )


def outbox_counts(session: Session, study: Study, selection: OutboxFilter) -> OutboxCounts:
    """Count the study's messages per round, status and kind in one grouped query (no
    message row is loaded), and what ``selection`` selects."""
    status = status_expression().label("status")
    # Grouped over a subquery: PostgreSQL does not match a CASE holding parameters in
    # the SELECT list to the same CASE in GROUP BY.
    rows = select(OutboxMessage.round_id, OutboxMessage.kind, status).where(
        OutboxMessage.study_id == study.id
    )
    inner = rows.subquery()
    by_round: dict[int | None, int] = {}
    by_status: dict[str, int] = dict.fromkeys(STATUSES, 0)
    by_kind_status: dict[tuple[str, str], int] = {}
    selected_count = total = 0
    for round_id, kind, word, count in session.execute(
        select(inner.c.round_id, inner.c.kind, inner.c.status, func.count()).group_by(
            inner.c.round_id, inner.c.kind, inner.c.status
        )
    ):
        total += count
        in_round = selection.round_id is None or round_id == selection.round_id
        in_status = selection.status is None or word == selection.status
        if in_status:
            by_round[round_id] = by_round.get(round_id, 0) + count
        if in_round:
            by_status[word] = by_status.get(word, 0) + count
        if in_round and in_status:
            by_kind_status[(kind, word)] = by_kind_status.get((kind, word), 0) + count
            selected_count += count
    return OutboxCounts(by_round, by_status, by_kind_status, selected_count, total)


def outbox_page(
    session: Session, study: Study, selection: OutboxFilter, page: int = 1
) -> list[OutboxMessage]:
    """The ``page``-th :data:`PAGE_SIZE` messages ``selection`` selects, ordered by
    recipient then time (not by creation, whose order would follow the panel's)."""
    return list(
        session.execute(
            select(OutboxMessage)
            .where(selected(study, selection))
            .order_by(OutboxMessage.recipient, OutboxMessage.created_at, OutboxMessage.id)
            .offset((max(page, 1) - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        ).scalars()
    )


def _sendable(study: Study, selection: OutboxFilter, upto: int | None) -> Any:
    """Messages of ``selection`` that are not sent and not cancelled (a failed one
    may still be sent by hand), and with ``upto``, none added after the message of
    that id (so that a click marks only what the page counted, not a thank-you
    queued since)."""
    conditions = [
        selected(study, selection),
        OutboxMessage.sent_at.is_(None),
        status_expression() != "cancelled",
    ]
    if upto is not None:
        conditions.append(OutboxMessage.id <= upto)
    return and_(*conditions)


def unsent_summary(
    session: Session, study: Study, selection: OutboxFilter
) -> tuple[int, int | None]:
    """How many messages of ``selection`` could be sent by hand (not sent, not
    cancelled) and the highest id among them (``None`` if there is none): the page's
    bulk action and mail-merge link carry it as ``upto``."""
    count, highest = session.execute(
        select(func.count(OutboxMessage.id), func.max(OutboxMessage.id)).where(
            _sendable(study, selection, None)
        )
    ).one()
    return int(count), highest


@dataclass(frozen=True)
class Marked:
    """What :func:`mark_sent` did."""

    marked: int
    #: Messages left unsent because their link cannot be read with the keys given: no
    #: one can have sent them from this console (their text was never shown).
    unreadable: int = 0


def mark_sent(
    session: Session,
    study: Study,
    actor: User,
    *,
    message_id: int | None = None,
    selection: OutboxFilter | None = None,
    upto: int | None = None,
    keys: LinkKeys | None = None,
) -> Marked:
    """Record as sent by hand one message (``message_id``) or every message
    ``selection`` selects (of ids up to ``upto``), unsent and not cancelled; commit.

    With ``keys``, a message of the many whose recipient's link they cannot open is
    left unsent and counted in :attr:`Marked.unreadable`: its text was shown to no one
    (the outbox and the mail-merge file leave it out), so it cannot have been sent.

    Each gets ``sent_at`` and a "sent" event whose detail names the facilitator, in one
    conditional ``UPDATE`` per batch: a message sent, or being sent by a worker, since
    the page was shown is left as it is.  Delivery never claims a message with
    ``sent_at``, so none of these is mailed afterwards.  The audit log records the
    count and the filter, never a recipient (nothing when nothing was marked).
    """
    now = utcnow()
    if message_id is not None:
        where = and_(_sendable(study, OutboxFilter(), None), OutboxMessage.id == message_id)
    else:
        where = _sendable(study, selection or OutboxFilter(), upto)
    candidates = list(
        session.execute(select(OutboxMessage.id).where(where).order_by(OutboxMessage.id)).scalars()
    )
    unreadable: set[int] = set()
    if keys is not None and message_id is None:
        unreadable = _unreadable_links(session, study, candidates, keys)
        candidates = [candidate for candidate in candidates if candidate not in unreadable]
    # A claim whose lease runs: a worker is sending it now (NULLs spelled out, so
    # that a row without a claim is not lost to a NULL comparison).
    not_claimed = or_(
        OutboxMessage.error.is_(None),
        not_(OutboxMessage.error.startswith(CLAIM_PREFIX)),
        OutboxMessage.next_attempt_at.is_(None),
        OutboxMessage.next_attempt_at <= literal(now, OutboxMessage.next_attempt_at.type),
    )
    detail = f"marked as sent by {actor.email}"
    marked: list[int] = []
    for chunk in batches(candidates, 500):
        done = list(
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(chunk),
                    OutboxMessage.sent_at.is_(None),
                    not_claimed,
                )
                .values(sent_at=now, next_attempt_at=None, error=None)
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            ).scalars()
        )
        marked.extend(done)
        if done:
            session.execute(
                insert(MessageEvent).from_select(
                    ["message_id", "at", "kind", "detail"],
                    select(
                        OutboxMessage.id,
                        literal(now, MessageEvent.at.type),
                        literal("sent"),
                        literal(detail, MessageEvent.detail.type),
                    ).where(OutboxMessage.id.in_(done)),
                )
            )
            _redact_clear_links(session, done)
    if marked:
        audit.record(
            session,
            "messages.mark_sent",
            study=study,
            user=actor,
            marked=len(marked),
            message=message_id,
            round=selection.round_id if selection else None,
            status=selection.status if selection else None,
        )
    session.commit()
    session.expire_all()
    return Marked(len(marked), len(unreadable))


def _unreadable_links(
    session: Session, study: Study, message_ids: list[int], keys: LinkKeys
) -> set[int]:
    """Those of ``message_ids`` whose body carries the link placeholder and whose
    recipient's link ``keys`` cannot open (each panelist's link unsealed once)."""
    readable: dict[int, bool] = {}
    found: set[int] = set()
    for chunk in batches(message_ids, 500):
        rows = session.execute(
            select(OutboxMessage.id, Panelist.id, Panelist.token_sealed)
            .join(Panelist, Panelist.id == OutboxMessage.panelist_id)
            .where(
                OutboxMessage.id.in_(chunk),
                Panelist.study_id == study.id,
                OutboxMessage.body.contains(LINK_PLACEHOLDER),
            )
        )
        for message_id, panelist_id, sealed in rows:
            if panelist_id not in readable:
                readable[panelist_id] = sealed is not None and keys.unseal(sealed) is not None
            if not readable[panelist_id]:
                found.add(message_id)
    return found


def _redact_clear_links(session: Session, message_ids: list[int]) -> None:
    """Replace a link held in clear (a message queued before links were sealed) as
    delivery does once a message is sent; others hold only the placeholder."""
    for message_id, body in session.execute(
        select(OutboxMessage.id, OutboxMessage.body).where(
            OutboxMessage.id.in_(message_ids), OutboxMessage.body.contains("/e/")
        )
    ):
        redacted = LINK_PATTERN.sub(REDACTED_LINK, body)
        if redacted != body:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(body=redacted)
                .execution_options(synchronize_session=False)
            )


def record_mail_merge(session: Session, study: Study, actor: User, selection: OutboxFilter) -> None:
    """Audit that ``actor`` downloaded the mail-merge file of ``selection`` (a file of
    names, addresses and links leaves the service); commit."""
    audit.record(
        session,
        "messages.mail_merge",
        study=study,
        user=actor,
        round=selection.round_id,
        status=selection.status,
    )
    session.commit()


@dataclass(frozen=True)
class MailMergeRow:
    """One line of the mail-merge file, before the formula guard."""

    name: str
    email: str
    language: str
    personal_link: str
    subject: str
    body: str
    problem: str


CANNOT_READ_LINK = (
    "its personal link cannot be read with this server's key: restore the previous key "
    "or give this panelist a new link; leave this row out of the merge"
)


def mail_merge_rows(
    session: Session,
    study: Study,
    selection: OutboxFilter,
    keys: LinkKeys,
    *,
    upto: int | None = None,
) -> Iterator[MailMergeRow]:
    """The unsent, not cancelled messages ``selection`` selects (up to id ``upto``),
    each with its recipient's name and personal link, and its body with the link put
    in, read a batch of 500 at a time (each body once), ordered by recipient.

    Links are unsealed as the outbox page unseals them (:func:`surveys.panel.
    stored_link`, once per panelist).  A message whose link ``keys`` cannot open is
    kept, with an empty link, an empty body and the reason in ``problem``, so that the
    file says whom it cannot serve and no body with a broken link can be sent from it.
    A message that carries no link (a reminder to someone added before links were
    sealed, told to go on with the link they have) has an empty ``personal_link``.
    Never for a blind study: the caller refuses it.
    """
    ids = list(
        session.execute(
            select(OutboxMessage.id)
            .where(_sendable(study, selection, upto))
            .order_by(OutboxMessage.recipient, OutboxMessage.created_at, OutboxMessage.id)
        ).scalars()
    )
    for chunk in batches(ids, 500):
        messages = {
            message.id: message
            for message in session.execute(
                select(OutboxMessage).where(OutboxMessage.id.in_(chunk))
            ).scalars()
        }
        people = {
            panelist.id: panelist
            for panelist in session.execute(
                select(Panelist)
                .options(selectinload(Panelist.roster))
                .where(
                    Panelist.study_id == study.id,
                    Panelist.id.in_({message.panelist_id for message in messages.values()}),
                )
            ).scalars()
        }
        tokens: dict[int, str | None] = {}
        for message_id in chunk:
            message = messages.get(message_id)
            if message is None:
                continue  # deleted meanwhile
            panelist = people.get(message.panelist_id)
            name = panelist.roster.name if panelist is not None else ""
            found = _LINK_IN_BODY.search(message.body)
            if found is None:
                yield MailMergeRow(
                    name,
                    message.recipient,
                    message.language,
                    "",
                    message.subject,
                    message.body,
                    "",
                )
                continue
            if message.panelist_id not in tokens:
                try:
                    if panelist is None:
                        raise UnreadableLink("the recipient is no longer on the panel")
                    tokens[message.panelist_id] = stored_link(panelist, keys).token
                except UnreadableLink:
                    tokens[message.panelist_id] = None
            token = tokens[message.panelist_id]
            if token is None:
                yield MailMergeRow(
                    name,
                    message.recipient,
                    message.language,
                    "",
                    message.subject,
                    "",
                    CANNOT_READ_LINK,
                )
                continue
            link = f"{found.group(1)}/e/{token}"
            body = message.body.replace(LINK_PLACEHOLDER, f"/e/{token}")
            yield MailMergeRow(
                name, message.recipient, message.language, link, message.subject, body, ""
            )
        session.expunge_all()  # a batch at a time in memory, whatever the panel's size


#: The link a stored body carries: the base URL it was written with (the run of
#: characters before the placeholder that are not white space or brackets), then
#: the placeholder.
_LINK_IN_BODY = re.compile(r"([^\s<>()\[\]\"']*)" + re.escape(LINK_PLACEHOLDER))


def mail_merge_chunks(rows: Iterator[MailMergeRow]) -> Iterator[bytes]:
    """``rows`` as the mail-merge CSV, in UTF-8 bytes, a chunk of 500 rows at a time
    (for a streamed download): a byte-order mark (as the exports' spreadsheet copies
    have, without which Excel reads UTF-8 as the system's legacy encoding), a header of
    :data:`MAIL_MERGE_COLUMNS`, then one line per row, RFC 4180 with CRLF line ends.

    Every cell passes through :func:`surveys.exports.spreadsheet_text`, the exports'
    guard against formula injection: a name such as ``=HYPERLINK(…)``, or a subject
    starting with ``+``, ``-`` or ``@``, begins with an apostrophe, so that a
    spreadsheet opening the file runs nothing.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(MAIL_MERGE_COLUMNS)
    iterator = iter(rows)
    prefix = "\ufeff"
    while True:
        batch = list(itertools.islice(iterator, 500))
        for row in batch:
            writer.writerow([spreadsheet_text(value) for value in astuple(row)])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if text or prefix:
            yield (prefix + text).encode("utf-8")
        prefix = ""
        if not batch:
            return
