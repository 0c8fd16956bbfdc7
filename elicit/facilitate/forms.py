"""Console forms (Flask-WTF: every one carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, EmailField, PasswordField
from wtforms.validators import DataRequired, Optional


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(lazy_gettext("Email"), validators=[DataRequired()])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired()])


class OpenRoundForm(FlaskForm):
    """Open the next round, optionally with a deadline (UTC)."""

    deadline = DateTimeLocalField(
        lazy_gettext("Deadline (UTC, optional)"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )


class ConfirmForm(FlaskForm):
    """A button that confirms an action already described on the page."""
