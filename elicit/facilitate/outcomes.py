"""Outcomes and scores in the console (issue 16, point 4): what happened for each
probability item and scenario set, recorded by a facilitator with its date and source,
and the panel's forecasts scored on it (:mod:`surveys.resolutions`).

Route pattern as elsewhere: 404 for a study one is not a member of, 403 for
researchers (who read the outcomes and the scores but do not record them), the page
again with each problem on its field and nothing typed lost (422), a redirect after a
change (303).  Scores are by pseudonym and by pooling method: never a name.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, lazy_gettext
from flask_login import login_required
from wtforms import DateField, SelectField, StringField
from wtforms.validators import InputRequired, Length

from elicit.extensions import db
from elicit.facilitate.access import console_user, study_for
from elicit.facilitate.views import blueprint
from elicit.forms import SafeForm
from surveys.errors import InvalidValues
from surveys.models import Role, Study
from surveys.resolutions import (
    NO,
    SOURCE_LIMIT,
    YES,
    Resolvable,
    forecast_scores,
    resolvable,
    resolve,
    withdraw,
)

POOL_NAMES = {
    "mean": lazy_gettext("Mean of the probabilities"),
    "median": lazy_gettext("Median"),
    "trimmed_mean": lazy_gettext("Trimmed mean (10 percent off each end)"),
    "geometric_odds": lazy_gettext("Geometric mean of the odds"),
    "extremized": lazy_gettext("Extremized (geometric mean of the odds, d = 2.5)"),
}


class OutcomeForm(SafeForm):
    """What happened for one item."""

    outcome = SelectField(lazy_gettext("What happened"), validators=[InputRequired()])
    resolved_on = DateField(lazy_gettext("Known on"), validators=[InputRequired()])
    source = StringField(
        lazy_gettext("Source"), validators=[InputRequired(), Length(max=SOURCE_LIMIT)]
    )


def _outcome_words(entry: Resolvable, language: str) -> list[tuple[str, str]]:
    """The outcomes ``entry`` may take, as the form offers them."""
    if entry.definition.kind == "probability":
        return [(YES, gettext("It happened")), (NO, gettext("It did not happen"))]
    return [(scenario.key, scenario.text.get(language)) for scenario in entry.definition.scenarios]


def _form(entry: Resolvable, language: str, formdata: Any = None) -> OutcomeForm:
    resolution = entry.resolution
    data = (
        {
            "outcome": resolution.outcome,
            "resolved_on": resolution.resolved_on,
            "source": resolution.source,
        }
        if resolution is not None
        else {}
    )
    form = OutcomeForm(formdata=formdata, data=data, prefix=entry.definition.key)
    # Nothing chosen until the facilitator chooses: no outcome recorded by a slip.
    form.outcome.choices = [("", gettext("Choose…")), *_outcome_words(entry, language)]
    return form


@blueprint.route("/studies/<slug>/outcomes")
@login_required
def outcomes(slug: str) -> Any:
    """Every resolvable item with its outcome, and the scores."""
    return _page(study_for(slug))


@blueprint.route("/studies/<slug>/outcomes/<item_key>", methods=["POST"])
@login_required
def record_outcome(slug: str, item_key: str) -> Any:
    """Record, correct or withdraw what happened for one item."""
    study = study_for(slug, change=True)
    entries = {entry.definition.key: entry for entry in resolvable(db.session, study)}
    entry = entries.get(item_key)
    if entry is None:
        abort(404)
    language = str(get_locale())
    form = _form(entry, language, request.form)
    if request.form.get("action") == "withdraw":
        if not SafeForm(prefix=item_key).validate_on_submit():
            abort(400)
        withdraw(db.session, study, item_key, console_user())
        flash(gettext("The outcome is withdrawn."))
        return redirect(url_for("facilitate.outcomes", slug=slug) + f"#item-{item_key}"), 303
    if form.validate_on_submit():
        try:
            resolve(
                db.session,
                study,
                item_key,
                form.outcome.data or "",
                form.resolved_on.data,
                form.source.data or "",
                console_user(),
            )
        except InvalidValues as invalid:
            for name, messages in invalid.errors.items():
                if name in form:
                    form[name].errors = list(messages)
        else:
            flash(gettext("The outcome is recorded."))
            return redirect(url_for("facilitate.outcomes", slug=slug) + f"#item-{item_key}"), 303
    return _page(study, {item_key: form}), 422


def _page(study: Study, filled: dict[str, OutcomeForm] | None = None) -> str:
    language = str(get_locale())
    entries = resolvable(db.session, study)
    forms = {
        entry.definition.key: (filled or {}).get(entry.definition.key) or _form(entry, language)
        for entry in entries
    }
    scores = forecast_scores(db.session, study)
    summary = scores.summary.reset_index() if scores is not None else None
    return render_template(
        "facilitate/outcomes.html",
        study=study,
        entries=entries,
        forms=forms,
        language=language,
        words={entry.definition.key: dict(_outcome_words(entry, language)) for entry in entries},
        pools=[] if summary is None else summary[summary["kind"] == "pool"].to_dict("records"),
        panelists=[]
        if summary is None
        else summary[summary["kind"] == "panelist"].sort_values("log").to_dict("records"),
        rounds=scores.settings["rounds"] if scores is not None else {},
        pool_names=POOL_NAMES,
        can_change=console_user().role == Role.FACILITATOR,
    )
