"""Wording of answer problems in the expert's language.

The domain names each problem with a code (:class:`surveys.errors.AnswerError`); the
words belong to the web layer, where Flask-Babel translates them.  Every problem of a
submission is shown at once: beside its field, and in the summary above the form,
where each line names its question and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import format_decimal, gettext

from elicit.expert.presenters import ItemView
from surveys.definition import cross_impact_component
from surveys.errors import AnswerError
from surveys.fields import component_field, rationale_field


def describe_error(error: AnswerError) -> str:
    """A sentence telling the expert what is wrong with one field and how to fix it."""
    params = error.params
    if error.code == "not_an_option":
        return gettext(
            "Choose one of the options from %(min)s to %(max)s.",
            min=params["min"],
            max=params["max"],
        )
    if error.code == "not_a_number":
        return gettext("Enter a number, for example 25 or 12.5.")
    if error.code == "ambiguous_number":
        return gettext(
            "Write the number without a thousands separator, for example 1000, or with "
            "one decimal separator, for example 12.5."
        )
    if error.code == "out_of_range":
        return gettext(
            "Enter a percentage from %(min)s to %(max)s.", min=params["min"], max=params["max"]
        )
    if error.code == "scenario_missing":
        return gettext("Enter a percentage for this scenario too (0 if you rule it out).")
    if error.code == "likelihood_missing":
        return gettext(
            "Enter a percentage for this scenario too: how likely the signpost is to be "
            "observed if this scenario is unfolding."
        )
    if error.code == "scenario_sum":
        return gettext(
            "The scenarios add up to %(total)s %%; they must add up to %(expected)s %%.",
            total=format_decimal(params["total"]),
            expected=params["expected"],
        )
    if error.code == "too_long":
        return gettext(
            "Shorten this text to %(max)s characters (it has %(length)s).",
            max=params["max"],
            length=params["length"],
        )
    if error.code == "estimate_missing":
        return gettext("Fill in this part of the estimate too.")
    if error.code == "outside_bounds":
        return gettext(
            "Enter a number from %(min)s to %(max)s.",
            min=format_decimal(params["min"]),
            max=format_decimal(params["max"]),
        )
    if error.code == "lowest_above_highest":
        return gettext(
            "Your lowest plausible value (%(lowest)s) is above your highest plausible value "
            "(%(highest)s): the lowest must not exceed the highest.",
            lowest=format_decimal(params["lowest"]),
            highest=format_decimal(params["highest"]),
        )
    if error.code == "best_below_lowest":
        return gettext(
            "Your best guess (%(best)s) is below your lowest plausible value (%(lowest)s): "
            "it must lie between your lowest and highest values.",
            best=format_decimal(params["best"]),
            lowest=format_decimal(params["lowest"]),
        )
    if error.code == "best_above_highest":
        return gettext(
            "Your best guess (%(best)s) is above your highest plausible value (%(highest)s): "
            "it must lie between your lowest and highest values.",
            best=format_decimal(params["best"]),
            highest=format_decimal(params["highest"]),
        )
    if error.code == "percentiles_not_increasing":
        names = percentile_names()
        return gettext(
            "Your %(upper_name)s (%(upper)s) must be greater than your %(lower_name)s "
            "(%(lower)s): the three values must increase from the 5th to the 95th percentile.",
            upper_name=names[params["part"]],
            upper=format_decimal(params["upper"]),
            lower_name=names[params["below"]],
            lower=format_decimal(params["lower"]),
        )
    if error.code == "not_positive":
        return gettext("Enter a number greater than 0.")
    if error.code == "rank_missing":
        return gettext("Give this option a place from 1 to %(max)s.", max=params["max"])
    if error.code == "rank_duplicate":
        return gettext("Give each option a different place from 1 to %(max)s.", max=params["max"])
    if error.code == "rationale_required":
        return gettext(
            "Your answer lies outside the middle half of the panel's answers in the last "
            "round: please explain why."
        )
    if error.code == "rationale_without_answer":
        return gettext("Give an answer to go with this explanation, or clear the explanation.")
    return gettext("Check this answer.")


def percentile_names() -> dict[str, str]:
    """The three answers of a seed item, as sentences name them."""
    return {
        "q05": gettext("5th percentile"),
        "q50": gettext("50th percentile (median)"),
        "q95": gettext("95th percentile"),
    }


@dataclass(frozen=True)
class ErrorReport:
    """The problems of one submission, as the answer page shows them."""

    #: Every message about a field, by field name, to print beside it.
    fields: dict[str, list[str]] = field(default_factory=dict)
    #: ``(field name, line)`` for the summary above the form, in the order found; each
    #: line names the question and the field it is about.
    summary: list[tuple[str, str]] = field(default_factory=list)


def error_report(errors: list[AnswerError], views: list[ItemView]) -> ErrorReport:
    """Word every problem in ``errors``: all of them, several per field if need be."""
    labels = _field_labels(views)
    report = ErrorReport()
    for error in errors:
        message = describe_error(error)
        report.fields.setdefault(error.field, []).append(message)
        label = labels.get(error.field)
        line = gettext("%(field)s: %(message)s", field=label, message=message) if label else message
        report.summary.append((error.field, line))
    return report


def _field_labels(views: list[ItemView]) -> dict[str, str]:
    """What each field of the page is called in a summary line: "Question 7",
    "Question 7, confidence", "Question 6, scenario 2", "Question 5, Trade relations
    and tariffs" (a ranking's options move about the page, so they go by name; a
    scenario's text is too long for a line, and scenarios keep their place),
    "Question 7, your reason"."""
    parts = {
        "lowest": gettext("lowest plausible value"),
        "highest": gettext("highest plausible value"),
        "best": gettext("best guess"),
        "confidence": gettext("confidence"),
    }
    labels: dict[str, str] = {}
    for view in views:
        question = gettext("Question %(number)s", number=view.number)
        labels[view.key] = question
        named: list[tuple[str, str]]
        if view.kind == "numeric_estimate":
            named = list(parts.items())
        elif view.kind == "seed":
            named = list(percentile_names().items())
        elif view.kind in ("scenario_set", "signpost"):
            named = [
                (key, gettext("scenario %(position)s", position=position))
                for position, (key, _) in enumerate(view.choices, start=1)
            ]
        elif view.kind == "cross_impact":
            named = []
            for row, (trigger, _) in enumerate(view.triggers, start=1):
                named.append((trigger, gettext("trigger %(row)s", row=row)))
                named += [
                    (
                        cross_impact_component(trigger, key),
                        gettext(
                            "trigger %(row)s, scenario %(position)s", row=row, position=position
                        ),
                    )
                    for position, (key, _) in enumerate(view.choices, start=1)
                ]
        else:
            named = [(key, text.rstrip(". ")) for key, text in view.choices]
        for part, name in named:
            labels[component_field(view.key, part)] = gettext(
                "%(question)s, %(part)s", question=question, part=name
            )
        labels[rationale_field(view.key)] = gettext("%(question)s, your reason", question=question)
    return labels
