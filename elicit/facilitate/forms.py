"""Console forms (Flask-WTF: every one carries a CSRF token)."""

from __future__ import annotations

from datetime import UTC

from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from elicit.deadlines import MAX_YEARS_AHEAD, latest_deadline
from elicit.forms import SafeForm
from surveys.accounts import MIN_PASSWORD_LENGTH


class LoginForm(SafeForm):
    """Email and password."""

    email = EmailField(lazy_gettext("Email"), validators=[DataRequired()])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired()])


class ChangePasswordForm(SafeForm):
    """One's current password, then the new one twice (a typo would lock one out)."""

    current_password = PasswordField(lazy_gettext("Current password"), validators=[DataRequired()])
    new_password = PasswordField(
        lazy_gettext("New password"),
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                # WTForms puts the minimum in.
                message=lazy_gettext("The new password must have at least %(min)d characters."),
            ),
        ],
    )
    confirm_password = PasswordField(
        lazy_gettext("New password again"),
        validators=[
            DataRequired(),
            EqualTo(
                "new_password", message=lazy_gettext("The two new passwords are not the same.")
            ),
        ],
    )


def _deadline_within_reach(form: FlaskForm, field: DateTimeLocalField) -> None:
    """Refuse a deadline (UTC) more than ``MAX_YEARS_AHEAD`` years ahead: a typo, and
    beyond year 9999 one that no date can hold.  A past one is the domain's refusal."""
    if field.data is not None and field.data.replace(tzinfo=UTC) > latest_deadline():
        raise ValidationError(
            gettext("The deadline must be at most %(years)d years ahead.", years=MAX_YEARS_AHEAD)
        )


class OpenRoundForm(SafeForm):
    """Open the next round, optionally with a deadline (UTC); also the form that
    extends the open round's deadline."""

    deadline = DateTimeLocalField(
        lazy_gettext("Deadline (UTC, optional)"),
        format="%Y-%m-%dT%H:%M",
        validators=[Optional(), _deadline_within_reach],
    )


class ConfirmOpeningForm(OpenRoundForm):
    """The confirmation that opens the next round: the deadline chosen on the study page
    and, when the last close's stopping rule recommended stopping, the facilitator's
    acknowledgement of that recommendation (its label, naming the round, is the page's)."""

    acknowledge_stop = BooleanField(
        lazy_gettext("I have read the recommendation to stop, and open the round anyway")
    )


class ConfirmForm(SafeForm):
    """A button that confirms an action already described on the page."""
