"""Console accounts: creating users, checking passwords, and who may see which study."""

from __future__ import annotations

import logging
import re

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from surveys.errors import Conflict, DomainError
from surveys.models import Membership, Role, Study, User

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: Checked against when the email is unknown, so that a wrong email takes as long as a
#: wrong password and response times do not reveal which accounts exist.
_UNKNOWN_USER_HASH = generate_password_hash("not a real password, only for timing")


class InvalidAccount(DomainError):
    """The email, password or role given for an account is not acceptable."""


def create_user(session: Session, email: str, password: str, role: Role | str) -> User:
    """Create a console user; the password is stored only as a salted scrypt hash."""
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise InvalidAccount(f"{email!r} is not an email address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccount(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    try:
        role = Role(role)
    except ValueError:
        raise InvalidAccount(f"the role must be one of {', '.join(Role)}, not {role!r}") from None
    if find_user(session, email) is not None:
        raise Conflict(f"a user with the email {email} exists already")
    user = User(email=email, password_hash=generate_password_hash(password), role=role)
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
