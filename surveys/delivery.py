"""Delivery of the outbox by SMTP, away from any request: claims, retries with backoff,
permanent failures, and each message's history.

The outbox (:class:`~surveys.models.OutboxMessage`, composed by :mod:`surveys.messaging`)
is the source of truth; a job queue (:mod:`elicit.jobs`: Redis and ``elicit worker``, or
a thread of the web process) only says *when* to look at it.  A job carries message ids,
never a text or a link, so a job run twice, lost, or run by a worker that is then
killed changes nothing that the database does not already say.

A message's life (columns of ``outbox_message``; every step is also a
:class:`~surveys.models.MessageEvent` written in the same transaction):

- **queued** (:func:`hand_over`): ``next_attempt_at`` is set to ``orphan_after`` from
  now.  Its job normally takes it at once; if the job is lost (a web process that died
  with jobs in memory, a flushed Redis) a :func:`sweep` takes it once that time passes.
  A message queued without a mail server is not handed over: it waits for a facilitator
  (it is then sent by hand, or handed over by "Send unsent messages", :func:`requeue`).
- **claimed**: one conditional ``UPDATE`` (compare-and-set) sets ``error`` to
  "in delivery since …", counts the attempt and moves ``next_attempt_at`` a lease
  ahead.  Two workers, or a job and a sweep, never both claim it; a worker killed while
  holding a claim leaves it to lapse, and a sweep then retries the message.
- **sent**: the server accepted it; ``sent_at`` is stamped and committed on its own.
  A sent message is never claimed again.
- **deferred**: a temporary failure (a 4xx reply, a connection refused, dropped or
  timed out): retried after :meth:`RetryPolicy.delay` (exponential backoff), by a sweep.
- **cancelled**: a reminder whose round has closed, or whose panelist has submitted,
  by the time delivery takes it up is not sent (planned reminders included); its
  ``error`` says why.
- **failed** / **bounced**: a permanent failure (a 5xx reply; the server refused the
  recipient at send time, which is a bounce; an address or header that cannot be sent;
  a link the configured keys cannot open; or ``max_attempts`` temporary failures):
  ``failed_at`` is stamped and the reason kept in ``error``.  Only a facilitator puts it
  back (:func:`requeue`).

No message is sent twice: a claim is committed before the message is sent, and
``sent_at`` right after the server's acceptance.  **The one window left** is a crash
(the worker killed, the database gone) after the server said 250 and before that
commit: the claim then lapses and the message is sent again.  SMTP itself has the same
window (a reply lost on the way back makes any client resend), so no design over SMTP
can close it; it lasts one commit.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import BindParameter, and_, bindparam, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from surveys.links import LinkKeys, UnreadableLink
from surveys.messaging import LINK_PATTERN, LINK_PLACEHOLDER, REDACTED_LINK, one_line
from surveys.models import (
    MessageEvent,
    OutboxMessage,
    Panelist,
    Response,
    ResponseStatus,
    Round,
    RoundStatus,
    Study,
    utcnow,
)
from surveys.panel import stored_link

log = logging.getLogger(__name__)

CLAIM_PREFIX = "in delivery since "
#: How the ``error`` of a reminder that was no longer needed begins.
CANCELLED_PREFIX = "cancelled: "
UNREADABLE_LINK_ERROR = f"{UnreadableLink.__name__}: "
"""How the ``error`` of a message whose link the configured keys cannot open begins."""
#: Ids per job and per query: a job is short, and a killed worker strands few.
BATCH_SIZE = 100


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send mail (built by the web layer from its configuration)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    #: Seconds to wait for the server at each step, connecting included.
    timeout: float = 30


@dataclass(frozen=True)
class RetryPolicy:
    """When a message is tried again.

    After the ``n``-th attempt fails temporarily, the next is due ``first_delay ×
    factorⁿ⁻¹`` later (at most ``max_delay``): by default after 1, 5, 25 minutes, about
    2 and 10 hours; the ``max_attempts``-th temporary failure is permanent (about 13
    hours after the first attempt).  ``lease`` is how long a claim holds: longer than
    any one send may take (each SMTP step times out after 30 s), after which a claim
    whose worker died lapses.  A message handed to delivery whose job has not begun it
    within ``orphan_after`` is taken by a sweep.
    """

    first_delay: timedelta = timedelta(minutes=1)
    factor: float = 5
    max_delay: timedelta = timedelta(hours=12)
    max_attempts: int = 6
    lease: timedelta = timedelta(minutes=10)
    orphan_after: timedelta = timedelta(minutes=10)

    def delay(self, attempts: int) -> timedelta:
        """How long after the ``attempts``-th failed attempt the next one is due."""
        return min(self.first_delay * self.factor ** max(attempts - 1, 0), self.max_delay)


@dataclass
class Delivered:
    """What one delivery did: how many messages were sent, deferred and failed."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    #: Reminders not sent because their round closed or their panelist submitted.
    cancelled: int = 0
    #: The ids sent, in order (for tests and the benchmark).
    sent_ids: list[int] = field(default_factory=list)

    def add(self, other: Delivered) -> None:
        """Count ``other`` in too."""
        self.sent += other.sent
        self.deferred += other.deferred
        self.failed += other.failed
        self.cancelled += other.cancelled
        self.sent_ids.extend(other.sent_ids)


class TemporaryFailure(Exception):
    """A failure that another attempt later may not meet (4xx, a dropped connection).

    ``server_down``: the server cannot be talked to now (it cannot be reached, dropped
    the connection, timed out, or said 421), so the rest of this delivery is deferred
    without trying it, rather than waiting out a timeout per message.
    """

    def __init__(self, reason: str, *, server_down: bool = False) -> None:
        super().__init__(reason)
        self.server_down = server_down


class PermanentFailure(Exception):
    """A failure that another attempt would meet again (5xx, a refused recipient)."""

    def __init__(self, reason: str, *, bounced: bool = False) -> None:
        super().__init__(reason)
        self.bounced = bounced


def hand_over(
    session: Session,
    message_ids: Sequence[int],
    policy: RetryPolicy | None = None,
    *,
    detail: str | None = None,
) -> list[int]:
    """Hand unsent messages to delivery: each gets a "queued" event and is due for a
    sweep after ``policy.orphan_after`` (its job takes it first); commit.

    Returns the ids handed over (those not sent meanwhile), in ``message_ids``' order,
    for the caller to put in jobs (:func:`batches`).
    """
    policy = policy or RetryPolicy()
    now = utcnow()
    handed: set[int] = set()
    for chunk in batches(list(message_ids), 500):
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(_inline(chunk)), OutboxMessage.sent_at.is_(None))
            .values(next_attempt_at=now + policy.orphan_after)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        done = list(result.scalars())
        handed.update(done)
        if done:
            # One statement per batch, not one per message (10,000 at a click).
            session.execute(
                insert(MessageEvent).from_select(
                    ["message_id", "at", "kind", "detail"],
                    select(
                        OutboxMessage.id,
                        literal(now, MessageEvent.at.type),
                        literal("queued"),
                        literal(detail, MessageEvent.detail.type),
                    ).where(OutboxMessage.id.in_(_inline(done))),
                )
            )
    ordered = [message_id for message_id in message_ids if message_id in handed]
    session.commit()
    return ordered


def _inline(ids: list[int]) -> BindParameter[Any]:
    """``ids`` written into the statement as numbers, not bound one by one: psycopg
    parses a statement with 500 placeholders each time it binds it, which cost more
    than the database's work when a click hands 10,000 messages over."""
    return bindparam("ids", [int(value) for value in ids], expanding=True, literal_execute=True)


def requeue(session: Session, study: Study, policy: RetryPolicy | None = None) -> list[int]:
    """Hand every unsent message of ``study`` to delivery again, the failed ones too,
    as fresh messages (their attempts counted from zero); commit.

    This is a facilitator's "Send unsent messages", after the mail server or the link
    keys were put right.  A message a worker holds a live claim on is left to it.
    Returns the ids handed over.
    """
    policy = policy or RetryPolicy()
    now = utcnow()
    waiting = list(
        session.execute(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.study_id == study.id,
                OutboxMessage.sent_at.is_(None),
                ~_live_claim(now),
            )
            .order_by(OutboxMessage.id)
        ).scalars()
    )
    for chunk in batches(waiting, 500):
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(chunk), ~_live_claim(now))
            .values(attempts=0, error=None, failed_at=None)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    return hand_over(session, waiting, policy, detail="again, by a facilitator")


def batches(ids: Sequence[int], size: int = BATCH_SIZE) -> list[list[int]]:
    """``ids`` cut into lists of at most ``size``."""
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


def deliver(
    session: Session,
    message_ids: Iterable[int],
    smtp: SmtpSettings | None,
    *,
    keys: LinkKeys,
    policy: RetryPolicy | None = None,
    connect: Callable[[SmtpSettings], smtplib.SMTP] | None = None,
) -> Delivered:
    """Deliver those of ``message_ids`` that are due, over one SMTP connection.

    Due: handed to delivery, neither sent nor failed, and either never attempted
    (its job's first look) or past its ``next_attempt_at`` (a retry, a lapsed claim).
    Each is claimed, sent with its recipient's link unsealed into it (the stored text
    keeps its placeholder), then stamped sent, deferred or failed and committed on its
    own, with its event.  A connection that cannot be opened defers every message
    claimed, and so does a server that drops the connection or times out (each is
    tried again after its backoff, rather than waiting out a timeout per message).
    Without ``smtp`` nothing is done.
    """
    done = Delivered()
    if smtp is None:
        return done
    policy = policy or RetryPolicy()
    open_connection = connect or _connect
    connection: smtplib.SMTP | None = None
    server_down: TemporaryFailure | None = None
    try:
        for message_id in message_ids:
            message = _claim(session, message_id, policy)
            if message is None:
                continue
            cancelled = _no_longer_needed(session, message)
            if cancelled is not None:
                _cancel(session, message, cancelled)
                done.cancelled += 1
                continue
            try:
                email = _email(message, smtp.sender, _with_link(session, message, keys))
                if server_down is not None:
                    raise server_down
                if connection is None:
                    connection = _open(open_connection, smtp)
                _send(connection, email, smtp.sender, message.recipient)
            except PermanentFailure as error:
                _fail(session, message, str(error), bounced=error.bounced)
                done.failed += 1
                connection = _ready_for_next(connection)
            except TemporaryFailure as error:
                if message.attempts >= policy.max_attempts:
                    _fail(session, message, f"gave up after {message.attempts} attempts: {error}")
                    done.failed += 1
                else:
                    _defer(session, message, str(error), policy)
                    done.deferred += 1
                if error.server_down:
                    server_down = error
                connection = _ready_for_next(connection, broken=error.server_down)
            else:
                _sent(session, message)
                done.sent += 1
                done.sent_ids.append(message.id)
    finally:
        if connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                connection.quit()
    return done


def due_messages(session: Session, limit: int = BATCH_SIZE) -> list[int]:
    """Ids of messages whose ``next_attempt_at`` has passed (retries due, lapsed
    claims, messages whose job was lost), oldest due first."""
    return list(
        session.execute(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.next_attempt_at <= utcnow(),
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.failed_at.is_(None),
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        ).scalars()
    )


def sweep(
    session: Session,
    smtp: SmtpSettings | None,
    *,
    keys: LinkKeys,
    policy: RetryPolicy | None = None,
    rounds: int = 100,
) -> Delivered:
    """Deliver every message that is due (:func:`due_messages`), a batch at a time, at
    most ``rounds`` batches: the queue's periodic look at the outbox, which retries
    what failed for a while and recovers what a dead worker or a lost job left."""
    done = Delivered()
    if smtp is None:
        return done
    for _ in range(rounds):
        due = due_messages(session)
        if not due:
            break
        batch = deliver(session, due, smtp, keys=keys, policy=policy)
        done.add(batch)
        if not (batch.sent or batch.deferred or batch.failed):
            break  # all claimed by others meanwhile
    return done


def history(session: Session, message: OutboxMessage) -> list[MessageEvent]:
    """Every event of ``message``'s delivery, oldest first."""
    return list(
        session.execute(
            select(MessageEvent)
            .where(MessageEvent.message_id == message.id)
            .order_by(MessageEvent.at, MessageEvent.id)
        ).scalars()
    )


def troubled_histories(
    session: Session, messages: Iterable[OutboxMessage]
) -> dict[int, list[MessageEvent]]:
    """Message id → its whole history, for those of ``messages`` whose delivery met a
    failure (a deferral, a failure, a bounce): what the outbox shows under a message.
    A message that was simply queued and sent has nothing to explain."""
    found: dict[int, list[MessageEvent]] = {}
    for chunk in batches([message.id for message in messages], 500):
        troubled = (
            select(MessageEvent.message_id)
            .where(
                MessageEvent.message_id.in_(chunk),
                MessageEvent.kind.in_(("deferred", "failed", "bounced")),
            )
            .distinct()
        )
        for event in session.execute(
            select(MessageEvent)
            .where(MessageEvent.message_id.in_(troubled))
            .order_by(MessageEvent.message_id, MessageEvent.at, MessageEvent.id)
        ).scalars():
            found.setdefault(event.message_id, []).append(event)
    return found


def delivery_status(message: OutboxMessage, now: datetime | None = None) -> str:
    """Where ``message`` stands: "sent", "failed", "sending" (claimed by a worker),
    "retrying" (a temporary failure, tried again later), "queued" (handed to delivery,
    not begun) or "waiting" (not handed to delivery: no mail server when queued)."""
    now = now or utcnow()
    if message.sent_at is not None:
        return "sent"
    if message.failed_at is not None:
        return "cancelled" if (message.error or "").startswith(CANCELLED_PREFIX) else "failed"
    error = message.error or ""
    if error.startswith(CLAIM_PREFIX) and message.next_attempt_at and message.next_attempt_at > now:
        return "sending"
    if message.next_attempt_at is None:
        return "waiting"
    return "retrying" if message.attempts else "queued"


def unreadable_waiting(session: Session, study: Study) -> int:
    """How many of the study's unsent messages failed because their link cannot be
    read with the configured keys (see :func:`deliver`)."""
    return session.execute(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.study_id == study.id,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.error.startswith(UNREADABLE_LINK_ERROR),
        )
    ).scalar_one()


def _live_claim(now: datetime) -> Any:
    """A claim whose lease has not run out (false, never NULL, for a row without one,
    so that its negation selects that row)."""
    return and_(
        OutboxMessage.error.is_not(None),
        OutboxMessage.next_attempt_at.is_not(None),
        OutboxMessage.error.startswith(CLAIM_PREFIX),
        OutboxMessage.next_attempt_at > now,
    )


def _claim(session: Session, message_id: int, policy: RetryPolicy) -> OutboxMessage | None:
    """Claim one message for this delivery if it is due (see :func:`deliver`); commit
    the claim and return the message, or ``None``.

    One ``UPDATE … WHERE`` that re-reads the row's state: of two deliveries at once,
    the second finds it claimed (its ``next_attempt_at`` a lease ahead) and skips it.
    """
    now = utcnow()
    due = or_(
        OutboxMessage.next_attempt_at <= now,
        and_(OutboxMessage.attempts == 0, OutboxMessage.error.is_(None)),
    )
    result: Any = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            OutboxMessage.next_attempt_at.is_not(None),
            due,
        )
        .values(
            attempts=OutboxMessage.attempts + 1,
            error=CLAIM_PREFIX + now.isoformat(),
            next_attempt_at=now + policy.lease,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != 1:
        return None
    return session.get(OutboxMessage, message_id, populate_existing=True)


def _sent(session: Session, message: OutboxMessage) -> None:
    """Stamp ``message`` sent, with its event; commit."""
    message.sent_at = utcnow()
    message.error = None
    message.next_attempt_at = None
    # Only a message queued before links were sealed holds one in clear.
    message.body = LINK_PATTERN.sub(REDACTED_LINK, message.body)
    _event(session, message, "sent")
    session.commit()


def _defer(session: Session, message: OutboxMessage, reason: str, policy: RetryPolicy) -> None:
    """Record a temporary failure and when the message is tried again; commit."""
    message.error = reason[:2000]
    message.next_attempt_at = utcnow() + policy.delay(message.attempts)
    _event(session, message, "deferred", reason)
    session.commit()
    # The reason's first words only: a server's reply may quote the address, and logs
    # hold no one's email.
    log.warning("message %s deferred (attempt %s): %s", message.id, message.attempts, _gist(reason))


def _fail(session: Session, message: OutboxMessage, reason: str, *, bounced: bool = False) -> None:
    """Record a permanent failure with its reason; commit."""
    message.error = reason[:2000]
    message.failed_at = utcnow()
    message.next_attempt_at = None
    _event(session, message, "bounced" if bounced else "failed", reason)
    session.commit()
    log.warning("message %s not sent: %s", message.id, _gist(reason))


def _no_longer_needed(session: Session, message: OutboxMessage) -> str | None:
    """Why a reminder should not go out any more: its round has closed, or its panelist
    has submitted since it was queued; ``None`` for every other message."""
    if message.kind != "reminder" or message.round_id is None:
        return None
    status = session.execute(
        select(Round.status).where(Round.id == message.round_id)
    ).scalar_one_or_none()
    if status != RoundStatus.OPEN:
        return f"{CANCELLED_PREFIX}the round closed before it was sent"
    submitted = session.execute(
        select(Response.id)
        .where(
            Response.round_id == message.round_id,
            Response.panelist_id == message.panelist_id,
            Response.status == ResponseStatus.SUBMITTED,
        )
        .limit(1)
    ).first()
    if submitted is not None:
        return f"{CANCELLED_PREFIX}the panelist submitted before it was sent"
    return None


def _cancel(session: Session, message: OutboxMessage, reason: str) -> None:
    """Record that ``message`` will not be sent, and why; commit."""
    message.error = reason
    message.failed_at = utcnow()
    message.next_attempt_at = None
    _event(session, message, "cancelled", reason)
    session.commit()


def _event(session: Session, message: OutboxMessage, kind: str, detail: str | None = None) -> None:
    """Add ``message``'s event ``kind`` (committed with the state it records)."""
    session.add(
        MessageEvent(
            message_id=message.id,
            at=utcnow(),
            kind=kind,
            attempt=message.attempts,
            detail=None if detail is None else detail[:2000],
        )
    )


def _with_link(session: Session, message: OutboxMessage, keys: LinkKeys) -> str:
    """The message's text as its recipient gets it: their link unsealed into the
    placeholder.  A link that cannot be unsealed is a permanent failure (the facilitator
    restores the key or issues a new link, then sends it again)."""
    if LINK_PLACEHOLDER not in message.body:
        return message.body
    panelist = session.get(Panelist, message.panelist_id)
    try:
        if panelist is None:
            raise UnreadableLink("the recipient is no longer on the panel")
        token = stored_link(panelist, keys).token
    except UnreadableLink as error:
        raise PermanentFailure(_describe(error)) from None
    return message.body.replace(LINK_PLACEHOLDER, f"/e/{token}")


def _email(message: OutboxMessage, sender: str, body: str) -> EmailMessage:
    """The outbox message as an email with the text ``body``, its headers set through
    the default policy (which encodes non-ASCII text and refuses a line break).

    A recipient that is not exactly one address as the policy reads it (a comma would
    make two), or a header the policy refuses, is a permanent failure.
    """
    try:
        email = EmailMessage()
        email["From"] = sender
        if one_line(message.recipient) != message.recipient or " " in message.recipient:
            raise ValueError("the recipient address holds white space or a control character")
        email["To"] = message.recipient
        addresses = email["To"].addresses
        if len(addresses) != 1 or addresses[0].addr_spec != message.recipient:
            raise ValueError("the recipient is not one email address")
        email["Subject"] = one_line(message.subject)
        email["Content-Language"] = message.language
        email.set_content(body)
    except ValueError as error:
        raise PermanentFailure(_describe(error)) from None
    return email


def _open(
    open_connection: Callable[[SmtpSettings], smtplib.SMTP], smtp: SmtpSettings
) -> smtplib.SMTP:
    """A connection, or a temporary failure that says why there is none."""
    try:
        return open_connection(smtp)
    except (OSError, smtplib.SMTPException) as error:
        raise TemporaryFailure(
            f"cannot reach the mail server: {_describe(error)}", server_down=True
        ) from None


def _send(connection: smtplib.SMTP, email: EmailMessage, sender: str, recipient: str) -> None:
    """Send ``email`` to ``recipient`` alone, the envelope taken from the stored address
    (never parsed back from a header); classify what goes wrong.

    A reply's code decides: 5xx is permanent (a 5xx to the recipient is a bounce), 4xx
    and anything without a code (a dropped or timed-out connection) temporary; 421 and
    a connection lost mean the server is down for now.
    """
    try:
        connection.send_message(email, sender, [recipient])
    except smtplib.SMTPRecipientsRefused as error:
        code, reply = error.recipients.get(recipient, (0, b""))
        reason = f"the server refused the recipient: {code} {_text(reply)}"
        if 500 <= code < 600:
            raise PermanentFailure(reason, bounced=True) from None
        raise TemporaryFailure(reason, server_down=code == 421) from None
    except smtplib.SMTPResponseException as error:
        reason = f"{type(error).__name__}: {error.smtp_code} {_text(error.smtp_error)}"
        if 500 <= error.smtp_code < 600:
            raise PermanentFailure(reason) from None
        raise TemporaryFailure(reason, server_down=error.smtp_code == 421) from None
    except (OSError, smtplib.SMTPException) as error:
        raise TemporaryFailure(_describe(error), server_down=True) from None


def _ready_for_next(
    connection: smtplib.SMTP | None, *, broken: bool = False
) -> smtplib.SMTP | None:
    """The connection for the next message: reset after a refused message; closed
    (``None``, to be opened again) if it may be broken or cannot be reset."""
    if connection is None:
        return None
    if not broken:
        try:
            connection.rset()
            return connection
        except (OSError, smtplib.SMTPException):
            pass
    with contextlib.suppress(OSError, smtplib.SMTPException):
        connection.close()
    return None


def _connect(smtp: SmtpSettings) -> smtplib.SMTP:
    """Open an SMTP connection, with STARTTLS and login as configured."""
    connection = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        if smtp.starttls:
            connection.starttls()
        if smtp.username:
            connection.login(smtp.username, smtp.password or "")
    except BaseException:
        connection.close()
        raise
    return connection


def _gist(reason: str) -> str:
    """What a log may say of a failure: the reason before its first colon, and the
    reply's code when it has one (never the reply's text, which may quote an address)."""
    head, _, rest = reason.partition(": ")
    code = rest.split(" ", 1)[0]
    return f"{head} {code}" if code.isdigit() else head


def _text(reply: bytes | str) -> str:
    """A server's reply as one line of text."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return one_line(text)


def _describe(error: BaseException) -> str:
    """An error as stored in the outbox and its history."""
    return one_line(f"{type(error).__name__}: {error}")[:2000]
