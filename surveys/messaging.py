"""Invitations and reminders: written to the outbox first, then delivered by SMTP if
configured.

The outbox (:class:`~surveys.models.OutboxMessage`) makes sending idempotent.  Every
message has a unique ``idempotency_key`` and is inserted with ``ON CONFLICT DO
NOTHING``: a repeated click, a retried request or two facilitators at once find the
message already there and skip it (never retry it), so nobody gets the same message twice.

- Invitation: ``invitation:{round id}:{panelist id}``, one per panelist and round.
- Reminder: ``reminder:{round id}:{panelist id}:{n}`` where ``n`` is the reminder batch.
  Batch rule: the first reminders of a round are batch 1; a click counts as the same
  batch as the latest one while that batch's first message is less than
  :data:`REMINDER_BATCH_WINDOW` old (so a repeated click reminds nobody twice, and only
  adds panelists the batch missed), and starts batch ``n + 1`` after that.

Links.  A panelist keeps one personal link for the whole study: the link shown when
they were added is the one every invitation, reminder and later round carries, and it
changes only when a facilitator reissues it on purpose (:func:`surveys.panel.reissue_link`,
or :func:`resend_invitation` in a blind study), which ends the old link and the sessions
opened with it.  The link is stored sealed (:mod:`surveys.links`), so a stored message
never holds it: its body holds :data:`LINK_PLACEHOLDER` where the link goes, and the
panelist's link is unsealed into it only on its way out (:func:`deliver`) or onto the
facilitator's screen (:func:`readable_bodies`), so a copy of the database opens no
expert's page.  A link that the configured keys cannot open (the key changed) is never
guessed at or replaced by itself: the message is not sent, its error says why, and the
facilitator restores the key or reissues the link.

A panelist added before links were sealed (revision 0011) has only a hash: their next
invitation issues a new link and seals it, as every invitation once did; a reminder does
so only if they have not opened the round, and otherwise tells them to continue with the
link they used, so that no one's open page is cut off mid-answer.

Delivery is :mod:`surveys.delivery`'s, away from any request: with SMTP settings a
queued message is handed to a job queue, sent, retried with backoff or failed with its
reason, and a message with ``sent_at`` is never sent again.  (A message queued before
revision 0011 holds its link in clear until it is sent, when the link is replaced by
``[link sent]``.)  Without SMTP the messages stay unsent in the outbox, which is then the
delivery channel: a standard study's facilitator sees each one with its link and sends
it by hand.  A blind study's console never shows a link, so its messages can only go by
SMTP.

Hostile texts.  A study's title and a panelist's name are written into every message,
and the title into its subject.  Both are made one line when a message is composed
(every run of white space and control characters becomes one space), so neither can
add a header, nor a forged paragraph to the body; the subject is made one line again
when the email is built, for messages queued before that rule.  Headers are then set
through the email library's default policy, which encodes non-ASCII text and refuses
a line break; the envelope recipient is the stored address itself, never one parsed
back from a header, and a recipient that the policy does not read as exactly that one
address is refused (:func:`surveys.delivery.deliver`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, overload

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, literal, not_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from surveys import audit
from surveys.errors import Conflict
from surveys.links import LinkKeys, UnreadableLink
from surveys.message_templates import MessageText, Renderer, deadline_words
from surveys.message_texts import message_values, study_template
from surveys.models import (
    OutboxMessage,
    Panelist,
    ReminderSchedule,
    Response,
    ResponseStatus,
    RosterEntry,
    Round,
    RoundStatus,
    Study,
    User,
    utcnow,
)
from surveys.panel import (
    PanelFilter,
    StatusFilter,
    new_token,
    selected,
    stored_link,
)

log = logging.getLogger(__name__)

REMINDER_BATCH_WINDOW = timedelta(hours=12)
"""Reminders queued within this time of a batch's first message belong to that batch."""

#: White space and control characters (C0, DEL, C1) and the Unicode line and
#: paragraph separators: what must never reach a header or split a one-line text.
_NOT_ONE_LINE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")
#: Where a stored message's body has the recipient's personal link: the token is put
#: in only when the message is sent or shown to the facilitator.
LINK_PLACEHOLDER = "/e/[personal link]"
#: A link in clear, as messages queued before revision 0011 hold them until sent.
LINK_PATTERN = re.compile(r"/e/[A-Za-z0-9_-]{20,}")
REDACTED_LINK = "/e/[link sent]"

SAME_LINK: dict[str, str] = {
    "en": "(please continue with the personal link you used before; your draft is kept)",
    "es": "(continúe con el enlace personal que ya utilizó; su borrador se conserva)",
}
"""What a reminder puts where the link goes for a panelist added before links were
sealed who has opened the round (their link cannot be sent again without cutting off
their open page)."""


def queue_invitations(
    session: Session,
    study: Study,
    round_: Round,
    base_url: str,
    actor: User | None = None,
    *,
    keys: LinkKeys,
) -> Queued:
    """Write an invitation to ``round_`` for every panelist with a valid link, once.

    Each invitation carries the panelist's own link, the same in every round (sealed
    with ``keys``; a panelist added before links were sealed is issued one here).
    Returns the messages added by this call; those already queued are skipped.
    """
    _require_open(round_)
    recipients = _recipients(
        session, and_(Panelist.study_id == study.id, Panelist.revoked_at.is_(None))
    )
    added = _queue_many(
        session,
        study,
        round_,
        [
            _Planned(
                recipient,
                "invitation",
                f"invitation:{round_.id}:{recipient.id}",
                new_link=not recipient.sealed,
            )
            for recipient in recipients
        ],
        base_url,
        keys=keys,
    )
    audit.record(
        session,
        "messages.invite",
        study=study,
        user=actor,
        round=round_.number,
        queued=len(added),
        skipped=len(recipients) - len(added),
    )
    session.commit()
    return added


def queue_reminders(
    session: Session,
    study: Study,
    round_: Round,
    base_url: str,
    actor: User | None = None,
    selection: PanelFilter | None = None,
    *,
    keys: LinkKeys,
    commit: bool = True,
    schedule: ReminderSchedule | None = None,
) -> Queued:
    """Write a reminder to every panelist with a valid link who has not submitted to the
    open ``round_``, in their language, at most once per batch (see the module docstring).

    Each reminder carries the panelist's own link again.  With ``selection`` (the panel
    page's filter), only to those of them it selects.  With ``schedule`` (the planned
    reminder that fires), in that reminder's own text where it has one.  Returns the
    messages added by this call.  Without ``commit``, the caller commits them with its
    own changes (a planned reminder and the record that it fired, :mod:`surveys.schedules`).
    """
    _require_open(round_)
    batch = _reminder_batch(session, round_)
    planned = []
    for recipient in _recipients(session, _reminder_targets(study, round_, selection)):
        opened = (
            recipient.last_seen_at is not None
            and round_.opened_at is not None
            and recipient.last_seen_at >= round_.opened_at
        )
        planned.append(
            _Planned(
                recipient,
                "reminder",
                f"reminder:{round_.id}:{recipient.id}:{batch}",
                # Only a panelist added before links were sealed has none to send again.
                new_link=not recipient.sealed and not opened,
            )
        )
    added = _queue_many(session, study, round_, planned, base_url, keys=keys, schedule=schedule)
    audit.record(
        session,
        "messages.remind",
        study=study,
        user=actor,
        round=round_.number,
        batch=batch,
        queued=len(added),
        status=selection.status.value if selection and selection.status else None,
        group=selection.group if selection else None,
        **({"hours_before": schedule.hours_before} if schedule else {}),
    )
    if commit:
        session.commit()
    else:
        session.flush()
    return added


def reminders_due(
    session: Session, study: Study, round_: Round, selection: PanelFilter | None = None
) -> int:
    """How many reminders :func:`queue_reminders` would queue now with ``selection``:
    its targets less those the current batch has reminded already.  Counted by the
    database, so that the panel page can say it before the click."""
    batch = _reminder_batch(session, round_)
    reminded = exists(
        select(OutboxMessage.id).where(
            OutboxMessage.round_id == round_.id,
            OutboxMessage.panelist_id == Panelist.id,
            OutboxMessage.kind == "reminder",
            OutboxMessage.idempotency_key.endswith(f":{batch}"),
        )
    )
    return session.execute(
        select(func.count(Panelist.id)).where(
            _reminder_targets(study, round_, selection), not_(reminded)
        )
    ).scalar_one()


def _reminder_targets(
    study: Study, round_: Round, selection: PanelFilter | None
) -> ColumnElement[bool]:
    """Panelists with a valid link who have not submitted ``round_``, of ``selection``."""
    return and_(
        selected(study, round_, selection or PanelFilter(status=StatusFilter.NOT_SUBMITTED)),
        Panelist.revoked_at.is_(None),
        not_(
            exists(
                select(Response.id).where(
                    Response.round_id == round_.id,
                    Response.panelist_id == Panelist.id,
                    Response.status == ResponseStatus.SUBMITTED,
                )
            )
        ),
    )


def resend_invitation(
    session: Session,
    study: Study,
    round_: Round,
    panelist: Panelist,
    base_url: str,
    actor: User | None = None,
    *,
    keys: LinkKeys,
) -> OutboxMessage | None:
    """Issue ``panelist`` a new link on purpose and queue it in a fresh invitation to
    ``round_``; the old link, and the sessions opened with it, end.

    This is how a blind study reissues a link: the facilitator never sees it, the
    system mails it.  The key ``invitation:{round}:{panelist}:resend:{k}`` counts the
    invitations already queued, so two clicks at once queue one message.  A withdrawn
    link is restored.  Returns the message, or ``None`` if a simultaneous click won.
    """
    _require_open(round_)
    count = session.execute(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.round_id == round_.id,
            OutboxMessage.panelist_id == panelist.id,
            OutboxMessage.kind == "invitation",
        )
    ).scalar_one()
    message = _queue(
        session,
        study,
        round_,
        panelist,
        "invitation",
        f"invitation:{round_.id}:{panelist.id}:resend:{count}",
        base_url,
        keys=keys,
        new_link=True,
    )
    if message is not None:
        panelist.revoked_at = None
    audit.record(
        session,
        "messages.resend_invitation",
        study=study,
        user=actor,
        round=round_.number,
        # The internal id, never the pseudonym: the actor named this person by email.
        panelist=panelist.id,
    )
    session.commit()
    return message


def queue_thank_you(
    session: Session,
    study_id: int,
    round_: Round,
    panelist_id: int,
    base_url: str,
    *,
    keys: LinkKeys,
) -> OutboxMessage | None:
    """Queue the study's thank-you to a panelist who has just submitted ``round_``, once
    per round (key ``thank_you:{round}:{panelist}``: submitting again changes answers,
    not the thanks), and commit; ``None`` when the study sends none
    (``Study.send_thank_you``), the link was withdrawn, or it is queued already.

    Called after the submission is committed, so that nothing here can cost an answer.
    """
    study = session.get(Study, study_id)
    if study is None or not study.send_thank_you:
        return None
    panelist = session.get(Panelist, panelist_id)
    if panelist is None or panelist.revoked_at is not None:
        return None
    message = _queue(
        session,
        study,
        round_,
        panelist,
        "thank_you",
        f"thank_you:{round_.id}:{panelist.id}",
        base_url,
        keys=keys,
        new_link=False,
    )
    session.commit()
    return message


def _put_link(body: str, token: str) -> str:
    """``body`` with ``token``'s link where the placeholder is."""
    return body.replace(LINK_PLACEHOLDER, f"/e/{token}")


def readable_bodies(
    session: Session, study: Study, messages: Iterable[OutboxMessage], keys: LinkKeys
) -> dict[int, str | None]:
    """Message id → its text with the recipient's link, as the facilitator of a
    standard study without SMTP copies it into an email; ``None`` for a message whose
    link ``keys`` cannot open (the page says what to do instead).

    Never for a blind study's console, which shows no link to anyone.
    """
    wanted = list(messages)
    if not wanted:
        return {}
    # Only the recipients of these messages (a page of the outbox), not the whole panel.
    wanted_ids = sorted({message.panelist_id for message in wanted})
    panelists = {
        panelist.id: panelist
        for start in range(0, len(wanted_ids), 500)
        for panelist in session.execute(
            select(Panelist).where(
                Panelist.study_id == study.id,
                Panelist.id.in_(wanted_ids[start : start + 500]),
            )
        ).scalars()
    }
    links: dict[int, str | None] = {}
    bodies: dict[int, str | None] = {}
    for message in wanted:
        if LINK_PLACEHOLDER not in message.body:
            bodies[message.id] = message.body
            continue
        if message.panelist_id not in links:
            panelist = panelists.get(message.panelist_id)
            try:
                links[message.panelist_id] = (
                    stored_link(panelist, keys).token if panelist is not None else None
                )
            except UnreadableLink:
                links[message.panelist_id] = None
        token = links[message.panelist_id]
        bodies[message.id] = None if token is None else _put_link(message.body, token)
    return bodies


def unsent_messages(session: Session, study: Study) -> list[OutboxMessage]:
    """The study's messages not sent yet, oldest first."""
    return list(
        session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.study_id == study.id, OutboxMessage.sent_at.is_(None))
            .order_by(OutboxMessage.id)
        ).scalars()
    )


def outbox(session: Session, study: Study) -> list[OutboxMessage]:
    """Every message of the study, ordered by recipient then kind and time.

    Ordered by recipient rather than by creation, so that the order does not follow the
    panel's order and cannot be matched against the pseudonym list.
    """
    return list(
        session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.study_id == study.id)
            .order_by(OutboxMessage.recipient, OutboxMessage.created_at, OutboxMessage.id)
        ).scalars()
    )


def _require_open(round_: Round) -> None:
    """Messages invite to an open round only."""
    if round_.status != RoundStatus.OPEN:
        raise Conflict(f"round {round_.number} is not open")


def _reminder_batch(session: Session, round_: Round) -> int:
    """The batch number for reminders queued now (see the module docstring)."""
    rows = session.execute(
        select(OutboxMessage.idempotency_key, OutboxMessage.created_at).where(
            OutboxMessage.round_id == round_.id, OutboxMessage.kind == "reminder"
        )
    ).all()
    if not rows:
        return 1
    first_of: dict[int, datetime] = {}
    for key, created_at in rows:
        number = int(key.rsplit(":", 1)[1])
        if number not in first_of or created_at < first_of[number]:
            first_of[number] = created_at
    latest = max(first_of)
    return latest if utcnow() - first_of[latest] < REMINDER_BATCH_WINDOW else latest + 1


def _queue(
    session: Session,
    study: Study,
    round_: Round,
    panelist: Panelist,
    kind: str,
    key: str,
    base_url: str,
    *,
    keys: LinkKeys,
    new_link: bool,
) -> OutboxMessage | None:
    """Insert one message unless its key exists; with ``new_link``, issue the panelist a
    new link (sealed with ``keys``), only if the message is inserted (see
    :func:`_queue_many` for many at once).

    The text is the study's template of ``kind`` in the panelist's language (else the
    study's first), rendered with their name, link, the round, its deadline in their
    time zone and language, the study's title and the lead's signature
    (:mod:`surveys.message_texts`).

    The body holds :data:`LINK_PLACEHOLDER`, never the link, whenever the panelist has
    (or is now issued) a sealed link.
    """
    exists = session.execute(
        select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
    ).first()
    if exists is not None:
        return None
    values = _Composer(session, study, round_, base_url).row(
        _Planned(_Recipient.of(panelist), kind, key, new_link)
    )
    # The key decides: a message queued meanwhile by another request makes this insert
    # do nothing, and no new link is issued (the panelist's token is changed only after
    # the insert succeeds).
    inserted = session.execute(_insert_once(session).values(values)).scalar_one_or_none()
    if inserted is None:
        return None
    if new_link:
        new_token(panelist, keys)
    return session.get(OutboxMessage, inserted)


@dataclass(frozen=True)
class _Recipient:
    """What composing a message needs of its panelist, read as plain rows (a click that
    invites 10,000 panelists loads no 20,000 ORM objects: that was a third of its time)."""

    id: int
    language: str
    #: Whether the panelist has a sealed link (one added before revision 0011 has not).
    sealed: bool
    last_seen_at: datetime | None
    name: str
    email: str
    time_zone: str | None

    @classmethod
    def of(cls, panelist: Panelist) -> _Recipient:
        """The recipient that ``panelist`` (loaded) is."""
        roster = panelist.roster
        return cls(
            panelist.id,
            panelist.language,
            panelist.token_sealed is not None,
            panelist.last_seen_at,
            roster.name,
            roster.email,
            roster.time_zone,
        )


def _recipients(session: Session, condition: ColumnElement[bool]) -> list[_Recipient]:
    """The panelists ``condition`` selects, with their roster entries, in a fixed order
    (locks in one order)."""
    return [
        _Recipient(*row)
        for row in session.execute(
            select(
                Panelist.id,
                Panelist.language,
                Panelist.token_sealed.is_not(None),
                Panelist.last_seen_at,
                RosterEntry.name,
                RosterEntry.email,
                RosterEntry.time_zone,
            )
            .join(RosterEntry, RosterEntry.panelist_id == Panelist.id)
            .where(condition)
            .order_by(Panelist.id)
        )
    ]


@dataclass(frozen=True)
class _Planned:
    """A message :func:`_queue_many` is to write: to whom, which kind, its key, and
    whether it issues the panelist a new link."""

    recipient: _Recipient
    kind: str
    key: str
    new_link: bool


class Queued(Sequence[OutboxMessage]):
    """The messages one call queued, in its order: their ids at once (what a click
    hands to delivery), the messages themselves loaded only when read."""

    def __init__(self, session: Session, ids: list[int]) -> None:
        self.session = session
        self.ids = ids
        self._messages: list[OutboxMessage] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __eq__(self, other: object) -> bool:
        """Equal to a list (or another :class:`Queued`) of the same messages."""
        if isinstance(other, Queued):
            return self.ids == other.ids
        return isinstance(other, list) and list(self) == other

    __hash__ = None  # type: ignore[assignment]

    @overload
    def __getitem__(self, index: int) -> OutboxMessage: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[OutboxMessage]: ...

    def __getitem__(self, index: int | slice) -> OutboxMessage | Sequence[OutboxMessage]:
        return self._loaded()[index]

    def _loaded(self) -> list[OutboxMessage]:
        if self._messages is None:
            found: dict[int, OutboxMessage] = {}
            for start in range(0, len(self.ids), _QUEUE_BATCH):
                chunk = self.ids[start : start + _QUEUE_BATCH]
                found.update(
                    (message.id, message)
                    for message in self.session.execute(
                        select(OutboxMessage).where(OutboxMessage.id.in_(chunk))
                    ).scalars()
                )
            self._messages = [found[message_id] for message_id in self.ids]
        return self._messages


#: Rows per statement when messages are written in batches.
_QUEUE_BATCH = 500


def _queue_many(
    session: Session,
    study: Study,
    round_: Round,
    planned: list[_Planned],
    base_url: str,
    *,
    keys: LinkKeys,
    schedule: ReminderSchedule | None = None,
) -> Queued:
    """:func:`_queue` for many messages, with the same rules, in a few statements: the
    round's keys already queued are read at once, the others composed and inserted
    ``_QUEUE_BATCH`` rows at a time (``INSERT … ON CONFLICT DO NOTHING RETURNING``), and a
    new link is issued only to the panelists whose message was inserted.  A click that
    queues 10,000 invitations costs some forty statements, not thirty thousand.
    Returns the messages inserted, in ``planned``'s order.
    """
    # Every key embeds its round: the round's keys are all those that can be known.
    known = set(
        session.execute(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.round_id == round_.id)
        ).scalars()
    )
    composer = _Composer(session, study, round_, base_url, schedule)
    fresh = [item for item in planned if item.key not in known]
    inserted: dict[str, int] = {}
    for start in range(0, len(fresh), _QUEUE_BATCH):
        rows = [composer.row(item) for item in fresh[start : start + _QUEUE_BATCH]]
        # The key decides, row by row: one queued meanwhile by another request is not
        # returned, and its panelist is issued no new link.
        for message_id, key in _insert_rows(session, rows):
            inserted[key] = message_id
    for item in fresh:
        if item.new_link and item.key in inserted:
            panelist = session.get(Panelist, item.recipient.id)
            assert panelist is not None
            new_token(panelist, keys)
    return Queued(session, [inserted[item.key] for item in fresh if item.key in inserted])


class _Composer:
    """Writes the outbox rows of one batch of messages (see :func:`_queue`), reading
    each template once and writing each deadline once per language and time zone."""

    def __init__(
        self,
        session: Session,
        study: Study,
        round_: Round,
        base_url: str,
        schedule: ReminderSchedule | None = None,
    ) -> None:
        self.session, self.study, self.round = session, study, round_
        #: The planned reminder whose own texts, if any, a reminder is written in.
        self.schedule = schedule
        self.base_url = base_url.rstrip("/")
        self.codes: list[str] = study.languages["codes"]
        self.templates: dict[tuple[str, str], MessageText] = {}
        self.deadlines: dict[tuple[str, str | None], str] = {}
        self.renderer = Renderer()
        #: One moment for the whole batch: the messages of one click are queued at once.
        self.now = utcnow()

    def row(self, item: _Planned) -> dict[str, Any]:
        """The outbox row of ``item``."""
        recipient, kind = item.recipient, item.kind
        language = recipient.language if recipient.language in self.codes else self.codes[0]
        if item.new_link or recipient.sealed:
            link = self.base_url + LINK_PLACEHOLDER
        else:
            link = SAME_LINK.get(language, SAME_LINK["en"])
        if (kind, language) not in self.templates:
            self.templates[(kind, language)] = study_template(
                self.session,
                self.study,
                kind,
                language,
                self.schedule if kind == "reminder" else None,
            ).text
        zone = (language, recipient.time_zone)
        if zone not in self.deadlines:
            self.deadlines[zone] = deadline_words(self.round.deadline, *zone)
        text = self.renderer.render(
            self.templates[(kind, language)],
            message_values(
                self.study,
                language,
                name=recipient.name,
                link=link,
                round_number=self.round.number,
                deadline=self.deadlines[zone],
            ),
        )
        return {
            "study_id": self.study.id,
            "panelist_id": recipient.id,
            "round_id": self.round.id,
            "kind": kind,
            "idempotency_key": item.key,
            "language": language,
            "recipient": recipient.email,
            "subject": one_line(text.subject)[:300],
            "body": text.body,
            "created_at": self.now,
        }


#: The columns whose values differ from message to message in a batch.
_PER_MESSAGE = ("panelist_id", "idempotency_key", "language", "recipient", "subject", "body")


def _insert_rows(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """Insert ``rows`` (one batch of :meth:`_Composer.row`: same study, round, kind and
    time) unless their keys exist; the id and key of each row inserted.

    On PostgreSQL the rows travel as one array per column (``INSERT … SELECT … FROM
    unnest(…)``): a statement with 5,000 placeholders cost the driver more than the
    database (psycopg parses such a query each time to bind it: 70 % of a 10,000
    invitation click).  SQLite takes the rows as a multi-row ``VALUES``.
    """
    if not rows:
        return []
    if session.connection().dialect.name != "postgresql":
        statement = _insert_once(session).returning(OutboxMessage.idempotency_key)
        return [(message_id, key) for message_id, key in session.execute(statement, rows)]
    table = OutboxMessage.__table__
    first = rows[0]
    arrays = (
        func.unnest(
            *(
                bindparam(name, [row[name] for row in rows], type_=ARRAY(table.c[name].type))
                for name in _PER_MESSAGE
            )
        )
        .table_valued(*_PER_MESSAGE)
        .render_derived(name="batch")
    )
    same = ("study_id", "round_id", "kind", "created_at")
    source = select(
        *(literal(first[name], table.c[name].type) for name in same),
        *(arrays.c[name] for name in _PER_MESSAGE),
    )
    statement = (
        postgresql.insert(OutboxMessage)
        .from_select([*same, *_PER_MESSAGE], source)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxMessage.id, OutboxMessage.idempotency_key)
    )
    return [(message_id, key) for message_id, key in session.execute(statement)]


def _insert_once(session: Session) -> Any:
    """``INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING id``."""
    dialect = session.connection().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(OutboxMessage)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxMessage.id)
    )


def one_line(text: str) -> str:
    """``text`` as one line: each run of white space, control characters and line
    separators becomes one space, and none is left at either end."""
    return _NOT_ONE_LINE.sub(" ", text).strip()
