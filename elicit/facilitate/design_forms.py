"""Forms of the pages that shape a study: create it, change its settings, curate items."""

from __future__ import annotations

from flask_babel import lazy_gettext
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from analysis import QUANTILE_METHODS
from elicit.forms import SafeForm
from surveys.definition import RATIONALE_POLICIES
from surveys.protocol import REASON_LIMIT
from surveys.settings import FEEDBACK_MIN_N_LIMIT, MAX_ROUNDS_LIMIT

ANONYMITY_CHOICES = [
    SelectChoice("standard", lazy_gettext("Standard: the console shows who has submitted")),
    SelectChoice("blind", lazy_gettext("Blind: the console shows only counts and pseudonyms")),
]
RATIONALE_LABELS = {
    "off": lazy_gettext("Never ask"),
    "optional": lazy_gettext("Ask (optional)"),
    "required": lazy_gettext("Require"),
}


class NewStudyForm(SafeForm):
    """A definition file, uploaded or pasted, and the anonymity level."""

    definition = FileField(lazy_gettext("Definition file (TOML)"))
    source = TextAreaField(lazy_gettext("Or paste the definition"), validators=[Optional()])
    anonymity = SelectField(
        lazy_gettext("Anonymity"), choices=ANONYMITY_CHOICES, default="standard"
    )


class DemoStudyForm(SafeForm):
    """Create the demo study, at the chosen anonymity level."""

    anonymity = SelectField(
        lazy_gettext("Anonymity"), choices=ANONYMITY_CHOICES, default="standard"
    )


class SettingsForm(SafeForm):
    """A study's settings.  The consensus rules have their own editor (``rules.py``)."""

    quantile_method = SelectField(
        lazy_gettext("Quantile method"),
        choices=[SelectChoice(method, method) for method in QUANTILE_METHODS],
    )
    feedback_min_n = IntegerField(
        lazy_gettext("Minimum number of answers for feedback"),
        validators=[InputRequired(), NumberRange(min=1, max=FEEDBACK_MIN_N_LIMIT)],
    )
    rationale_outside_iqr = SelectField(
        lazy_gettext("Rationale for answers outside the panel's interquartile range"),
        choices=[SelectChoice(policy, RATIONALE_LABELS[policy]) for policy in RATIONALE_POLICIES],
    )
    max_rounds = IntegerField(
        lazy_gettext("Maximum number of rounds"),
        validators=[InputRequired(), NumberRange(min=1, max=MAX_ROUNDS_LIMIT)],
    )
    cannot_judge = BooleanField(lazy_gettext("Likert items offer “I can't judge this”"))
    anonymity = SelectField(lazy_gettext("Anonymity"), choices=ANONYMITY_CHOICES)
    consensus_items = SelectField(
        lazy_gettext("Items that reached consensus"),
        choices=[
            SelectChoice("stay", lazy_gettext("Stay: ask them again in the next round")),
            SelectChoice("leave", lazy_gettext("Leave: retire them when the round closes")),
            SelectChoice("ask", lazy_gettext("Ask: choose which leave when closing each round")),
        ],
    )
    carry_over = SelectField(
        lazy_gettext("Later rounds start from"),
        choices=[
            SelectChoice(
                "previous", lazy_gettext("Each expert's previous answers, to keep or revise")
            ),
            SelectChoice("blank", lazy_gettext("Blank: every answer is given anew")),
        ],
    )
    show_outcome = BooleanField(lazy_gettext("When the study ends, show the panel its outcome"))
    show_own_score = BooleanField(
        lazy_gettext("Once items have resolved, show each expert their own score")
    )
    reason = TextAreaField(
        lazy_gettext("Reason for the change"), validators=[Optional(), Length(max=REASON_LIMIT)]
    )


class ItemForm(SafeForm):
    """What the pages that add and reword items between rounds put beside the item's
    own form (:func:`elicit.facilitate.item_forms.item_form`): the kind, where a new
    item goes, the note (the amendment's reason once the protocol is stamped), and the
    item as TOML for those who prefer to paste it."""

    kind = SelectField(lazy_gettext("Kind of item"), choices=[], validate_choice=False)
    place = SelectField(lazy_gettext("Where it goes"), choices=[], validate_choice=False)
    #: One line: it heads the version in the item's history.
    note = StringField(
        lazy_gettext("Note for the history (optional)"), validators=[Optional(), Length(max=500)]
    )
    #: The group of answers the item is made from, if any.
    group = HiddenField()
    item = TextAreaField(lazy_gettext("Item (TOML)"), validators=[Optional()])


class RetireForm(SafeForm):
    """Why an item is retired (one form per item on the items page, each field given
    the id ``reason-<key>``; all post ``reason``)."""

    reason = StringField(lazy_gettext("Reason"), validators=[DataRequired(), Length(max=500)])
