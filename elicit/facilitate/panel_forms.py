"""Forms of the panel pages (Flask-WTF: every one carries a CSRF token).

Only presence is checked here; what a valid panelist is, ``surveys.panel`` decides.
"""

from __future__ import annotations

from flask_babel import lazy_gettext
from flask_wtf.file import FileField, FileRequired
from wtforms import EmailField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional

from elicit.forms import SafeForm


class PanelistForm(SafeForm):
    """One panelist: name, email, group and language."""

    name = StringField(lazy_gettext("Name"), validators=[DataRequired()])
    email = EmailField(lazy_gettext("Email"), validators=[DataRequired()])
    group = StringField(lazy_gettext("Group (optional)"), validators=[Optional()])
    language = SelectField(lazy_gettext("Language"), choices=[])


class ImportPanelForm(SafeForm):
    """A CSV file with the columns name, email, group, language."""

    file = FileField(
        lazy_gettext("Panel file (CSV: name, email, group, language)"),
        validators=[FileRequired(lazy_gettext("Choose a CSV file."))],
    )


class PersonForm(SafeForm):
    """One person on a blind study's panel, named by their email, and what to do: send
    them a new link, or withdraw theirs."""

    email = EmailField(lazy_gettext("Email of the panelist"), validators=[DataRequired()])
    action = SelectField(
        lazy_gettext("Action"),
        choices=[
            SelectChoice("reissue", lazy_gettext("Send a new link (the old one stops working)")),
            SelectChoice("revoke", lazy_gettext("Withdraw the link")),
        ],
    )


class PanelFilterForm(SafeForm):
    """The panel page's filter, read from the query (or carried in the hidden fields of
    the reminder of the filtered set): a status in the filtered round and a group.  The
    view sets the choices, each labelled with its count."""

    class Meta:
        csrf = False  # a GET that changes nothing; the reminder's own form carries one

    # Ids of their own: the add-one form on the same page has a "group" field.
    status = RadioField(lazy_gettext("Status"), choices=[], default="", id="filter-status")
    group = SelectField(lazy_gettext("Group"), choices=[], default="", id="filter-group")


class OutboxFilterForm(SafeForm):
    """The outbox's filter, read from the query: a round (by number) and a delivery
    status.  The view sets the choices, each labelled with its count."""

    class Meta:
        csrf = False  # a GET that changes nothing

    round = SelectField(lazy_gettext("Round"), choices=[], default="", id="outbox-round")
    status = SelectField(lazy_gettext("Status"), choices=[], default="", id="outbox-status")
