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
from elicit.paging import page_number
from surveys.errors import InvalidValues
from surveys.models import Role, Study
from surveys.resolutions import (
    NO,
    SOURCE_LIMIT,
    YES,
    Resolvable,
    resolvable,
    resolve,
    withdraw,
)
from surveys.scores import (
    FEW_CALIBRATION_EVENTS,
    MIN_CALIBRATION_EVENTS,
    PANEL,
    Calibration,
    StoredScores,
    panelist_scores,
    stored_scores,
)

#: Panelists' scores a page of the outcomes page lists.
PANELISTS_PER_PAGE = 100

POOL_NAMES = {
    "mean": lazy_gettext("Mean of the probabilities"),
    "median": lazy_gettext("Median"),
    "trimmed_mean": lazy_gettext("Trimmed mean (10 percent off each end)"),
    "geometric_odds": lazy_gettext("Geometric mean of the odds"),
    "extremized": lazy_gettext("Extremized (geometric mean of the odds, d = 2.5)"),
}
PANEL_NAME = lazy_gettext("Every panelist's forecasts")
#: The calibration plot's panel titles: short enough for a panel half a phone wide.
SHORT_NAMES = {
    PANEL: lazy_gettext("All panelists"),
    "mean": lazy_gettext("Mean"),
    "median": lazy_gettext("Median"),
    "trimmed_mean": lazy_gettext("Trimmed mean"),
    "geometric_odds": lazy_gettext("Geometric mean of odds"),
    "extremized": lazy_gettext("Extremized"),
}


def plot_titles(shown: list[tuple[str, Calibration]]) -> list[tuple[str, Calibration]]:
    """``shown`` with the plot's short titles."""
    return [(str(SHORT_NAMES.get(table.forecaster, title)), table) for title, table in shown]


def calibration_shown(scores: StoredScores | None) -> list[tuple[str, Calibration]]:
    """The calibration tables to show, titled (the panel's first, then each pool's):
    those resting on at least :data:`MIN_CALIBRATION_EVENTS` resolved events."""
    if scores is None:
        return []
    names = {PANEL: PANEL_NAME, **POOL_NAMES}
    return [
        (str(title), scores.calibration[name])
        for name, title in names.items()
        if name in scores.calibration and scores.calibration[name].shown
    ]


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
    # Imported here: matplotlib is needed for this page's plot only.
    from elicit.facilitate.report import _number as plot_number
    from elicit.facilitate.score_plots import calibration_plot

    language = str(get_locale())
    entries = resolvable(db.session, study)
    forms = {
        entry.definition.key: (filled or {}).get(entry.definition.key) or _form(entry, language)
        for entry in entries
    }
    # Stored when an outcome or a round last changed (surveys.scores): nothing is
    # computed here, and the panelists come a page at a time.
    scores = stored_scores(db.session, study)
    total = scores.panelists if scores is not None else 0
    pages = max(1, -(-total // PANELISTS_PER_PAGE))
    page = min(page_number(), pages)
    shown = calibration_shown(scores)
    return render_template(
        "facilitate/outcomes.html",
        study=study,
        entries=entries,
        forms=forms,
        language=language,
        words={entry.definition.key: dict(_outcome_words(entry, language)) for entry in entries},
        pools=scores.pools if scores is not None else [],
        beats=scores.pool_comparison if scores is not None else {},
        panelists=panelist_scores(
            db.session,
            study,
            offset=(page - 1) * PANELISTS_PER_PAGE,
            limit=PANELISTS_PER_PAGE,
        )
        if scores is not None
        else [],
        paging={
            "page": page,
            "pages": pages,
            "total": total,
            "first": (page - 1) * PANELISTS_PER_PAGE + 1,
            "last": min(page * PANELISTS_PER_PAGE, total),
        },
        rounds=scores.rounds if scores is not None else {},
        pool_names=POOL_NAMES,
        calibration=shown,
        calibration_plot=(
            calibration_plot(plot_titles(shown), plot_number, language) if shown else None
        ),
        calibration_waiting=(
            scores.calibration[PANEL].events
            if scores is not None and PANEL in scores.calibration and not shown
            else None
        ),
        min_calibration_events=MIN_CALIBRATION_EVENTS,
        few_calibration_events=FEW_CALIBRATION_EVENTS,
        can_change=console_user().role == Role.FACILITATOR,
    )
