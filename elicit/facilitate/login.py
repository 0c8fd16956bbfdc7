"""Console sessions through Flask-Login, kept on the server.

Flask-Login's "alternative tokens" pattern: :meth:`ConsoleUser.get_id` returns the
secret of a :class:`surveys.models.ConsoleSession`, which Flask-Login keeps in the
signed session cookie; :func:`load_user` looks the session up on every request.  A
session therefore ends the moment its row does (logout, a password change, a
deactivation, an administrator's ``elicit user logout``), for every copy of the cookie,
and the login lifetime (``ELICIT_LOGIN_LIFETIME``, eight hours by default) is counted
from the row, not from anything the browser sends.

Logging in starts from an empty session: the CSRF token and anything put in the
session before (by this browser or by someone who planted a cookie in it) are dropped.
"""

from __future__ import annotations

from flask import current_app, g, session
from flask_login import UserMixin, current_user, login_user, logout_user

from elicit.extensions import db, login_manager
from surveys.console_sessions import end_session, find_live_session, start_session
from surveys.models import ConsoleSession, SessionEnd, User

#: Session keys that survive a login or a logout: preferences, never credentials.
KEPT_ACROSS_LOGIN = ("language",)


class ConsoleUser(UserMixin):
    """The logged-in user as Flask-Login sees it: ``account`` is the user's row,
    ``console_session`` the row of this login, ``secret`` what the cookie carries."""

    def __init__(self, account: User, console_session: ConsoleSession, secret: str) -> None:
        self.account = account
        self.console_session = console_session
        self.secret = secret

    def get_id(self) -> str:
        """The session's secret, not the user's id: the cookie names a login that the
        server can end, not a user it would have to trust until the cookie expires."""
        return self.secret

    @property
    def is_active(self) -> bool:
        """Deactivated accounts cannot log in."""
        return self.account.active


@login_manager.user_loader
def load_user(secret: str) -> ConsoleUser | None:
    """The user of the live session ``secret``; ``None`` (logged out) if it has ended,
    expired or belongs to a deactivated user."""
    row = find_live_session(
        db.session, secret, lifetime=current_app.config["ELICIT_LOGIN_LIFETIME"]
    )
    if row is None:
        return None
    return ConsoleUser(row.user, row, secret)


def _fresh_session() -> None:
    """Empty the Flask session but for preferences, and forget the CSRF token this
    request may have cached, so that the next form gets a new one."""
    kept = {key: session[key] for key in KEPT_ACROSS_LOGIN if key in session}
    session.clear()
    session.update(kept)
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def log_in(account: User) -> None:
    """Start a new server-side session for ``account`` in a fresh Flask session."""
    issued = start_session(db.session, account)
    _fresh_session()
    login_user(ConsoleUser(account, issued.session, issued.secret))


def log_out() -> None:
    """End the current session on the server, then empty the Flask session."""
    if current_user.is_authenticated:
        end_session(db.session, current_user.console_session, SessionEnd.LOGOUT)
    _fresh_session()
    logout_user()
