"""The rule editor's form: criteria added and removed by buttons that work without
JavaScript, each parameter read as a person types a number (``0,7`` or ``0.7``).

Shares (a band's share, a split's share) are entered as percentages and stored as
shares from 0 to 1, as :class:`analysis.Criterion` takes them.  Each problem gets a
message on its own input in the page's language; the domain checks the rule again
(:func:`surveys.rule_editing.build_rule`), in case anything got past these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext, lazy_gettext
from wtforms import (
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from analysis import CRITERIA
from analysis.consensus import DISSENSUS_ONLY
from elicit.facilitate.rule_words import CRITERION_NAMES, PERCENT_PARAMETERS
from elicit.forms import SafeForm
from surveys.answers import parse_number
from surveys.protocol import REASON_LIMIT
from surveys.rule_editing import CRITERIA_LIMIT

#: Every parameter any criterion takes: each criterion's inputs are a subset.
PARAMETERS: tuple[str, ...] = tuple(dict.fromkeys(p for names in CRITERIA.values() for p in names))


class CriterionForm(Form):
    """One criterion: its kind (fixed once added) and the inputs of its parameters."""

    kind = HiddenField()
    max = StringField()
    low = StringField()
    high = StringField()
    min = StringField()
    divisor = StringField()
    min_share = StringField()


class RuleForm(SafeForm):
    """A consensus rule: how its criteria combine, the criteria, and why it changes."""

    combine = RadioField(
        lazy_gettext("Consensus is reached when"),
        choices=[
            SelectChoice("all", lazy_gettext("every criterion holds (all)")),
            SelectChoice("any", lazy_gettext("at least one criterion holds (any)")),
        ],
        default="all",
    )
    criteria = FieldList(FormField(CriterionForm), max_entries=CRITERIA_LIMIT)
    new_kind = SelectField(
        lazy_gettext("Criterion to add"),
        choices=[SelectChoice(kind, CRITERION_NAMES[kind]) for kind in CRITERIA],
        validators=[Optional()],
    )
    reason = TextAreaField(
        lazy_gettext("Why the rule changes"),
        validators=[Optional(), Length(max=REASON_LIMIT)],
    )


def input_value(kind: str, name: str, value: float) -> str:
    """A stored parameter as its input shows it: a share as a percentage, whole numbers
    without a fraction, no thousands separator (which the number reader refuses)."""
    shown = value * 100 if (kind, name) in PERCENT_PARAMETERS else value
    shown = round(shown, 6)
    return str(int(shown)) if float(shown).is_integer() else repr(float(shown))


def criterion_data(kind: str, params: Mapping[str, float]) -> dict[str, str]:
    """A criterion as the data of a :class:`CriterionForm`."""
    return {
        "kind": kind,
        **{name: input_value(kind, name, value) for name, value in params.items()},
    }


def read_criteria(form: RuleForm) -> tuple[list[tuple[str, dict[str, float]]], dict[str, str]]:
    """The criteria typed into ``form`` as (kind, parameters), and the problems found,
    each worded for the page under its input's name (``criteria-0-max``, ``criteria``),
    the names :func:`surveys.rule_editing.build_rule` uses too."""
    criteria: list[tuple[str, dict[str, float]]] = []
    problems: dict[str, str] = {}
    for index, entry in enumerate(form.criteria.entries):
        subform: Any = entry.form
        kind = subform.kind.data or ""
        if kind not in CRITERIA:
            problems[f"criteria-{index}-kind"] = gettext("Choose a criterion from the list.")
            continue
        params: dict[str, float] = {}
        for name in CRITERIA[kind]:
            problem, value = _read(kind, name, subform[name].data or "")
            if problem or value is None:
                problems[f"criteria-{index}-{name}"] = problem or ""
            else:
                params[name] = value
        if kind == "share" and {"low", "high"} <= set(params) and params["low"] > params["high"]:
            problems[f"criteria-{index}-high"] = gettext("Must not be below “From”.")
        criteria.append((kind, params))
    if not form.criteria.entries:
        problems["criteria"] = gettext("Add at least one criterion.")
    elif criteria and all(kind in DISSENSUS_ONLY for kind, _ in criteria):
        problems["criteria"] = gettext(
            "Add a criterion that can establish consensus: a split panel only detects dissensus."
        )
    return criteria, problems


def mark_problems(form: RuleForm, problems: Mapping[str, str | list[str]]) -> None:
    """Put each problem on its input (``criteria-0-max``), the rule's (``criteria``,
    ``combine``) or the reason's; anything else on the list of criteria."""
    for name, problem in problems.items():
        messages = [problem] if isinstance(problem, str) else list(problem)
        if name in ("criteria", "combine", "reason"):
            form[name].errors = [*form[name].errors, *messages]
            continue
        parts = name.split("-")
        if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(form.criteria.entries):
            subform: Any = form.criteria.entries[int(parts[1])].form
            if parts[2] in subform:
                subform[parts[2]].errors = [*subform[parts[2]].errors, *messages]
                continue
        form.criteria.errors = [*form.criteria.errors, *messages]


def _read(kind: str, name: str, typed: str) -> tuple[str | None, float | None]:
    """(problem, value) of one typed parameter: a number within its range."""
    value = parse_number(typed) if typed.strip() else None
    if value is None:
        if not typed.strip():
            return gettext("Enter a number."), None
        return gettext(
            "Enter a number, for example 0.7 or 20, without a thousands separator."
        ), None
    if (kind, name) in PERCENT_PARAMETERS:
        if not 0 <= value <= 100:
            return gettext("Enter a percentage from 0 to 100."), None
        return None, value / 100
    if name == "max" and value < 0:
        return gettext("Must not be negative."), None
    if name == "divisor" and value <= 0:
        return gettext("Must be above 0."), None
    return None, value
