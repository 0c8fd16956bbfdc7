"""Wording of answer problems in the expert's language.

The domain names each problem with a code (:class:`surveys.errors.AnswerError`); the
words belong to the web layer, where Flask-Babel translates them.
"""

from __future__ import annotations

from flask_babel import format_decimal, gettext

from surveys.errors import AnswerError


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
    if error.code == "estimate_order":
        return gettext(
            "Your lowest estimate must not exceed your best guess, and your best guess must "
            "not exceed your highest estimate."
        )
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
