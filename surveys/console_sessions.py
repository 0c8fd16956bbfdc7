"""Console sessions kept on the server: started at login, looked up on every request,
ended by logout, by a password change, by a deactivation or by an administrator.

The browser holds a random secret (inside Flask's signed session cookie); the database
holds its SHA-256.  Because every request looks the session up, ending it here ends it
for every copy of the cookie at once, which a cookie alone could never do.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, joinedload

from surveys.models import ConsoleSession, SessionEnd, User, utcnow
from surveys.panel import hash_token

log = logging.getLogger(__name__)

SECRET_BYTES = 32
#: A request within this long of the recorded one is not written again: a facilitator
#: clicking through the console costs one write a minute, not one per page.
SEEN_GRANULARITY = timedelta(minutes=1)
#: Ended and expired sessions are kept this long (who logged in when, and why each
#: session ended), then deleted when their user next logs in.
RETENTION = timedelta(days=90)


@dataclass(frozen=True)
class IssuedSession:
    """A new session and its secret, which exists only in this object and the cookie."""

    session: ConsoleSession
    secret: str


def start_session(session: Session, user: User) -> IssuedSession:
    """Record a login of ``user`` and return the secret for the browser's cookie.

    Also deletes the user's sessions older than :data:`RETENTION`, so that the table
    grows with the number of users, not with the number of logins ever made.
    """
    now = utcnow()
    secret = secrets.token_urlsafe(SECRET_BYTES)
    session.execute(
        delete(ConsoleSession).where(
            ConsoleSession.user_id == user.id, ConsoleSession.created_at < now - RETENTION
        )
    )
    row = ConsoleSession(
        user_id=user.id, token_hash=hash_token(secret), created_at=now, last_seen_at=now
    )
    session.add(row)
    session.commit()
    return IssuedSession(row, secret)


def find_live_session(
    session: Session, secret: str, *, lifetime: timedelta
) -> ConsoleSession | None:
    """The session whose secret is ``secret``, with its user, if it is still live.

    Live: not revoked, started less than ``lifetime`` ago, and its user active.  Returns
    ``None`` otherwise.  Records the request (at most once a minute, see
    :data:`SEEN_GRANULARITY`).
    """
    row = (
        session.execute(
            select(ConsoleSession)
            .where(ConsoleSession.token_hash == hash_token(secret))
            .options(joinedload(ConsoleSession.user))
        )
        .unique()
        .scalar_one_or_none()
    )
    now = utcnow()
    if (
        row is None
        or row.revoked_at is not None
        or row.created_at <= now - lifetime
        or not row.user.active
    ):
        return None
    if row.last_seen_at is None or now - row.last_seen_at >= SEEN_GRANULARITY:
        session.execute(
            update(ConsoleSession).where(ConsoleSession.id == row.id).values(last_seen_at=now)
        )
        session.commit()
        row.last_seen_at = now
    return row


def end_session(session: Session, row: ConsoleSession, reason: SessionEnd) -> None:
    """End one session (idempotent: an ended session keeps its first reason)."""
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == row.id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    session.commit()


def end_sessions_of(
    session: Session, user: User, reason: SessionEnd, *, lifetime: timedelta
) -> int:
    """End every session of ``user`` not ended yet, in the caller's transaction (the
    caller commits, together with whatever made the sessions end).

    Expired sessions are marked too, so that none can come back to life if the login
    lifetime is raised later.  Returns how many were live (younger than ``lifetime``),
    the number worth telling an administrator.
    """
    now = utcnow()
    started = session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user.id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .returning(ConsoleSession.created_at)
    ).scalars()
    live = sum(1 for created_at in started if created_at > now - lifetime)
    log.info("ended %d live console session(s) of user %d: %s", live, user.id, reason.value)
    return live
