"""Console sessions through Flask-Login: a session ends after ``ELICIT_LOGIN_LIFETIME``
(default eight hours) or when the user's password changes."""

from __future__ import annotations

import time

from flask import current_app, session
from flask_login import UserMixin

from elicit.extensions import db, login_manager
from surveys.models import User

LOGIN_AT = "login_at"


class ConsoleUser(UserMixin):
    """The logged-in user as Flask-Login sees it; ``account`` is the database row."""

    def __init__(self, account: User) -> None:
        self.account = account

    def get_id(self) -> str:
        """The user's id, tied to their current password hash: changing the password
        ends every session opened with the old one."""
        return f"{self.account.id}:{self.account.password_hash[-16:]}"

    @property
    def is_active(self) -> bool:
        """Deactivated accounts cannot log in."""
        return self.account.active


@login_manager.user_loader
def load_user(identifier: str) -> ConsoleUser | None:
    """Restore the session's user, unless the session has expired or is stale."""
    user_id, _, stamp = identifier.partition(":")
    started = session.get(LOGIN_AT, 0)
    if time.time() - started > current_app.config["ELICIT_LOGIN_LIFETIME"].total_seconds():
        return None
    account = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if account is None or not account.password_hash.endswith(stamp) or not account.active:
        return None
    return ConsoleUser(account)


def start_session(account: User) -> ConsoleUser:
    """Mark the moment of login; the session expires relative to it."""
    session[LOGIN_AT] = time.time()
    return ConsoleUser(account)
