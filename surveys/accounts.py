"""Console accounts: creating users, checking and changing passwords, deactivating
accounts, and who may see which study.

Whatever should shut a person out of the console ends their sessions in the same
transaction: a password change (by them or by an administrator), a deactivation, or
an administrator's revocation.  Each is recorded in the audit log, never with a
password.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from surveys import audit
from surveys.console_sessions import end_sessions_of
from surveys.errors import Conflict, DomainError
from surveys.models import Membership, Role, SessionEnd, Study, User

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
#: How a password is hashed: werkzeug's scrypt with N = 2**15, r = 8, p = 1 (its default
#: method, written out so that a library upgrade cannot change it unnoticed: a test
#: checks it against werkzeug's default and against :data:`_UNKNOWN_USER_HASH`).  The
#: test suite hashes its own users' passwords with cheaper parameters (its conftest).
HASH_METHOD = "scrypt:32768:8:1"
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: Checked against when the email is unknown, so that a wrong email takes as long as a
#: wrong password and response times do not reveal which accounts exist.  A hash of a
#: throw-away password made once with werkzeug's default method, written out here:
#: hashing it at import (scrypt, on purpose slow) cost every command a third of a second
#: of CPU.  A test checks that its method is still the one new passwords get.
_UNKNOWN_USER_HASH = (
    "scrypt:32768:8:1$B9snmSl7MsHi4ke9$fab56830f9273ac6a0eccde4c4dc0678cfbd822c131211f7c61ed833"
    "39109692af89f3103ef83918298e8520e92eb5d13740cc36ad5878a6f2774ee0c23f9241"
)


class InvalidAccount(DomainError):
    """The email, password or role given for an account is not acceptable."""


class WrongPassword(InvalidAccount):
    """The current password, asked for before changing it, is not the user's."""


def _check_new_password(password: str) -> None:
    """Refuse a password shorter than :data:`MIN_PASSWORD_LENGTH`."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccount(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def create_user(session: Session, email: str, password: str, role: Role | str) -> User:
    """Create a console user; the password is stored only as a salted scrypt hash."""
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise InvalidAccount(f"{email!r} is not an email address")
    _check_new_password(password)
    try:
        role = Role(role)
    except ValueError:
        raise InvalidAccount(f"the role must be one of {', '.join(Role)}, not {role!r}") from None
    if find_user(session, email) is not None:
        raise Conflict(f"a user with the email {email} exists already")
    user = User(
        email=email, password_hash=generate_password_hash(password, method=HASH_METHOD), role=role
    )
    session.add(user)
    session.commit()
    log.info("created %s account %s", role.value, email)
    return user


def find_user(session: Session, email: str) -> User | None:
    """The user with ``email`` (case-insensitive), if any."""
    return session.execute(
        select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or ``None``; equally slow either way."""
    user = find_user(session, email)
    if user is None:
        check_password_hash(_UNKNOWN_USER_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def grant_access(session: Session, user: User, study: Study) -> None:
    """Make ``user`` a member of ``study`` (idempotent)."""
    if session.get(Membership, (user.id, study.id)) is None:
        session.add(Membership(user_id=user.id, study_id=study.id))
        session.commit()


def is_member(session: Session, user: User, study: Study) -> bool:
    """Whether ``user`` may see ``study``."""
    return session.get(Membership, (user.id, study.id)) is not None


def studies_of(session: Session, user: User) -> list[Study]:
    """The studies ``user`` is a member of, newest first."""
    return list(
        session.execute(
            select(Study)
            .join(Membership, Membership.study_id == Study.id)
            .where(Membership.user_id == user.id)
            .order_by(Study.created_at.desc())
        ).scalars()
    )


def change_password(
    session: Session, user: User, current_password: str, new_password: str, *, lifetime: timedelta
) -> int:
    """Change ``user``'s own password, after checking the current one, and end every
    console session of theirs (the caller starts a new one for the browser that asked).

    ``lifetime`` is the login lifetime, to count the sessions that were live.  Raises
    :class:`WrongPassword` or :class:`InvalidAccount` (too short), changing nothing.
    Returns how many live sessions were ended.
    """
    if not check_password_hash(user.password_hash, current_password):
        raise WrongPassword("the current password is not right")
    _check_new_password(new_password)
    user.password_hash = generate_password_hash(new_password, method=HASH_METHOD)
    ended = end_sessions_of(session, user, SessionEnd.PASSWORD_CHANGED, lifetime=lifetime)
    audit.record(session, "user.password_change", study=None, user=user, sessions_ended=ended)
    session.commit()
    log.info("user %d changed their password", user.id)
    return ended


def set_password(session: Session, user: User, password: str, *, lifetime: timedelta) -> int:
    """Set ``user``'s password as an administrator (no current password needed) and end
    every console session of theirs; returns how many live sessions were ended."""
    _check_new_password(password)
    user.password_hash = generate_password_hash(password, method=HASH_METHOD)
    ended = end_sessions_of(session, user, SessionEnd.PASSWORD_SET, lifetime=lifetime)
    # The administrator acts from the command line, not as a console user.
    audit.record(
        session,
        "user.password_set",
        study=None,
        user=None,
        account=user.email,
        sessions_ended=ended,
    )
    session.commit()
    log.info("an administrator set a new password for user %d", user.id)
    return ended


def deactivate_user(session: Session, user: User, *, lifetime: timedelta) -> int:
    """Shut ``user`` out: no login, no console session, no API token (tokens are
    refused while their user is inactive, and work again if the account is activated).

    Idempotent; returns how many live sessions were ended.
    """
    user.active = False
    ended = end_sessions_of(session, user, SessionEnd.DEACTIVATED, lifetime=lifetime)
    audit.record(
        session, "user.deactivate", study=None, user=None, account=user.email, sessions_ended=ended
    )
    session.commit()
    log.info("deactivated user %d", user.id)
    return ended


def activate_user(session: Session, user: User) -> None:
    """Let a deactivated user log in again (idempotent); no old session comes back."""
    user.active = True
    audit.record(session, "user.activate", study=None, user=None, account=user.email)
    session.commit()
    log.info("activated user %d", user.id)


def revoke_sessions(session: Session, user: User, *, lifetime: timedelta) -> int:
    """End every console session of ``user`` (an administrator's "log out everywhere");
    the account itself keeps working.  Returns how many live sessions were ended."""
    ended = end_sessions_of(session, user, SessionEnd.REVOKED, lifetime=lifetime)
    audit.record(
        session,
        "user.sessions_revoke",
        study=None,
        user=None,
        account=user.email,
        sessions_ended=ended,
    )
    session.commit()
    return ended
