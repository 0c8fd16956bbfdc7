"""Bearer tokens for the JSON API: created and revoked by their user, stored hashed.

A token acts as its user, on the user's studies only, and no further than its scope:
"read" tokens read; "write" tokens may also do what the user's role allows (for a
facilitator: load studies, add panelists, open and close rounds).  The secret is shown
once, when it is created; the database keeps its SHA-256 and its first characters (so
that a user can tell their tokens apart), and records when it was last used.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from surveys import audit
from surveys.errors import InvalidValues, NotFound
from surveys.models import ApiToken, User, utcnow
from surveys.panel import hash_token

log = logging.getLogger(__name__)

#: Every token starts with this, so that secret scanners and people recognise one.
TOKEN_PREFIX = "elicit_"  # noqa: S105 (a public marker, not a secret)
TOKEN_BYTES = 32
#: How many characters of the token (after :data:`TOKEN_PREFIX`) are kept to show.
SHOWN_CHARACTERS = 6
SCOPES: tuple[str, ...] = ("read", "write")
NAME_MAX_LENGTH = 100
MAX_LIFETIME_DAYS = 3650
#: A use within this long of the recorded one is not written again: a script making
#: thousands of calls costs one write a minute, not one per call.
USE_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its secret, which exists only in this object."""

    token: ApiToken
    secret: str


def create_token(
    session: Session,
    user: User,
    name: str,
    scope: str = "read",
    *,
    expires_in_days: int | None = None,
) -> IssuedToken:
    """Create a token for ``user``; the returned secret is never stored.

    Raises :class:`InvalidValues` naming each bad field (``name``, ``scope``,
    ``expires_in_days``).
    """
    name = name.strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["is empty"]
    elif len(name) > NAME_MAX_LENGTH or any(ord(character) < 32 for character in name):
        errors["name"] = [f"must be at most {NAME_MAX_LENGTH} printable characters"]
    if scope not in SCOPES:
        errors["scope"] = [f"must be one of {', '.join(SCOPES)}"]
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_LIFETIME_DAYS:
        errors["expires_in_days"] = [f"must lie between 1 and {MAX_LIFETIME_DAYS}"]
    if errors:
        raise InvalidValues(errors)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=hash_token(secret),
        prefix=secret[: len(TOKEN_PREFIX) + SHOWN_CHARACTERS],
        scope=scope,
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    audit.record(session, "token.create", study=None, user=user, name=name, scope=scope)
    session.commit()
    log.info("created %s API token %s for %s", scope, token.prefix, user.email)
    return IssuedToken(token, secret)


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens, newest first, revoked ones included (they say when)."""
    return list(
        session.execute(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        ).scalars()
    )


def revoke_token(session: Session, user: User, token_id: int) -> ApiToken:
    """Revoke one of ``user``'s tokens (idempotent); another user's token is NotFound."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("there is no such token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(session, "token.revoke", study=None, user=user, name=token.name)
        session.commit()
    return token


def is_usable(token: ApiToken, now: datetime) -> bool:
    """Whether ``token`` is neither revoked nor expired and its user still active."""
    return (
        token.revoked_at is None
        and (token.expires_at is None or token.expires_at > now)
        and token.user.active
    )


def authenticate_token(session: Session, secret: str) -> ApiToken | None:
    """The usable token whose secret is ``secret``, with its user; ``None`` otherwise.

    Records the use (at most once a minute, see :data:`USE_GRANULARITY`).
    """
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = (
        session.execute(
            select(ApiToken)
            .where(ApiToken.token_hash == hash_token(secret))
            .options(joinedload(ApiToken.user))
        )
        .unique()
        .scalar_one_or_none()
    )
    now = utcnow()
    if token is None or not is_usable(token, now):
        return None
    if token.last_used_at is None or now - token.last_used_at >= USE_GRANULARITY:
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
        session.commit()
        token.last_used_at = now
    return token
