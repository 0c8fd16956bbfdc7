"""Console page where a user creates and revokes their own API tokens.

A token is the user's, not a study's: it reaches the studies its user is a member of.
Its secret is shown once, on the page that answers the creation.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import login_required
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from elicit.extensions import db
from elicit.facilitate.access import console_user
from elicit.facilitate.forms import ConfirmForm
from elicit.facilitate.views import blueprint
from elicit.forms import SafeForm
from surveys.api_tokens import MAX_LIFETIME_DAYS, NAME_MAX_LENGTH, create_token, revoke_token
from surveys.api_tokens import tokens_of as user_tokens
from surveys.errors import InvalidValues, NotFound


class TokenForm(SafeForm):
    """A new token: what it is for, its scope and, optionally, its lifetime."""

    name = StringField(
        lazy_gettext("What it is for"), validators=[DataRequired(), Length(max=NAME_MAX_LENGTH)]
    )
    scope = SelectField(
        lazy_gettext("Scope"),
        choices=[
            SelectChoice("read", lazy_gettext("Read: studies, summaries, responses, exports")),
            SelectChoice(
                "write",
                lazy_gettext("Write: also load studies, add panelists, open and close rounds"),
            ),
        ],
        default="read",
    )
    expires_in_days = IntegerField(
        lazy_gettext("Expires after (days, optional)"),
        validators=[Optional(), NumberRange(min=1, max=MAX_LIFETIME_DAYS)],
    )


def _render(form: TokenForm, *, secret: str | None = None, status: int = 200) -> Any:
    return render_template(
        "facilitate/tokens.html",
        form=form,
        tokens=user_tokens(db.session, console_user()),
        revoke_form=ConfirmForm(),
        secret=secret,
        can_write=console_user().role == "facilitator",
    ), status


@blueprint.route("/tokens", methods=["GET", "POST"])
@login_required
def api_tokens() -> Any:
    """List the user's tokens; create one (its secret shown on the answering page only)."""
    form = TokenForm()
    if not form.is_submitted():
        return _render(form)
    if not form.validate():
        return _render(form, status=422)
    try:
        issued = create_token(
            db.session,
            console_user(),
            form.name.data or "",
            form.scope.data,
            expires_in_days=form.expires_in_days.data,
        )
    except InvalidValues as invalid:
        for field, messages in invalid.errors.items():
            form[field].errors = list(messages)
        return _render(form, status=422)
    response = _render(TokenForm(formdata=None), secret=issued.secret)
    return response


@blueprint.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_api_token(token_id: int) -> Any:
    """Revoke one of the user's tokens; another user's token is not found (404)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        token = revoke_token(db.session, console_user(), token_id)
    except NotFound:
        abort(404, gettext("There is no such token among yours."))
    flash(gettext("The token %(name)s is revoked.", name=token.name))
    return redirect(url_for("facilitate.api_tokens")), 303
