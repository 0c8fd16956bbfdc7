"""The scenario tracker in the console (issue 16, point 3): dated observations of
signposts and triggers, recorded by a facilitator, and the pooled scenario
probabilities updated after each one (:mod:`surveys.tracking`).

Route pattern as elsewhere: 404 for a study one is not a member of, 403 for
researchers (who read the tracker but do not record), the page again with each problem
on its field and nothing typed lost (422), a redirect after a change (303).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, get_locale, gettext, lazy_gettext
from flask_login import login_required
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from elicit.extensions import db
from elicit.facilitate.access import console_user, study_for
from elicit.facilitate.views import blueprint
from elicit.forms import SafeForm
from surveys import tracking
from surveys.errors import InvalidValues
from surveys.models import Role, Study
from surveys.tracking import NOTE_LIMIT, SIGNPOST, TRIGGER, Tracker, scenario_tracker

#: What the form's "what was observed" offers.
SEEN, NOT_SEEN, OCCURRED = "seen", "not_seen", "occurred"

#: The domain's messages in the page's language.
MESSAGES = {
    tracking.NOT_TRACKABLE: lazy_gettext("Choose one of the study's signposts or triggers."),
    tracking.NOT_A_SIGNPOST: lazy_gettext(
        "This is a trigger: record that it occurred (“The trigger occurred”)."
    ),
    tracking.NOT_A_TRIGGER: lazy_gettext(
        "This is a signpost: record whether it was seen or not seen by the date."
    ),
    tracking.TRIGGER_NOT_SEEN: lazy_gettext(
        "A trigger is recorded when it occurred, not when it did not."
    ),
    tracking.NOT_A_DATE: lazy_gettext("Give a date, such as 2027-03-02."),
    tracking.IN_THE_FUTURE: lazy_gettext("The date cannot be later than today (UTC)."),
    tracking.NO_NOTE: lazy_gettext("Say where it was observed, or where it was looked for."),
    tracking.NOTE_TOO_LONG: lazy_gettext("At most %(limit)s characters.", limit=NOTE_LIMIT),
    tracking.NOTE_NOT_ONE_LINE: lazy_gettext(
        "One line of text, without control characters or line breaks."
    ),
}


class ObservationForm(SafeForm):
    """One dated observation."""

    item = SelectField(lazy_gettext("Signpost or trigger"), validators=[InputRequired()])
    status = SelectField(
        lazy_gettext("What was observed"),
        choices=[
            SelectChoice("", lazy_gettext("Choose…")),
            SelectChoice(SEEN, lazy_gettext("The signpost was seen")),
            SelectChoice(NOT_SEEN, lazy_gettext("The signpost was not seen by this date")),
            SelectChoice(OCCURRED, lazy_gettext("The trigger occurred")),
        ],
        validators=[InputRequired()],
    )
    observed_on = DateField(lazy_gettext("Date observed"), validators=[InputRequired()])
    note = StringField(
        lazy_gettext("Source or note"), validators=[InputRequired(), Length(max=NOTE_LIMIT)]
    )


def _form(tracker: Tracker, language: str, formdata: Any = None) -> ObservationForm:
    form = ObservationForm(formdata=formdata)
    groups = {SIGNPOST: gettext("Signposts"), TRIGGER: gettext("Triggers")}
    form.item.choices = [
        SelectChoice("", gettext("Choose…")),
        *(
            SelectChoice(
                entry.key, f"{entry.words(language)} ({entry.key})", optgroup=groups[entry.kind]
            )
            for entry in tracker.items
        ),
    ]
    return form


@blueprint.route("/studies/<slug>/tracker")
@login_required
def tracker(slug: str) -> Any:
    """The observations, the timeline and, for facilitators, the form to record one."""
    study = study_for(slug)
    found = scenario_tracker(db.session, study)
    return _page(study, found, _form(found, str(get_locale())))


@blueprint.route("/studies/<slug>/tracker", methods=["POST"])
@login_required
def record_observation(slug: str) -> Any:
    """Record one observation."""
    study = study_for(slug, change=True)
    found = scenario_tracker(db.session, study)
    form = _form(found, str(get_locale()), request.form)
    if form.validate_on_submit():
        status = form.status.data
        # The kind follows from what was observed; the domain refuses an item of the
        # other kind, on the item's field.
        kind = TRIGGER if status == OCCURRED else SIGNPOST
        try:
            tracking.record(
                db.session,
                study,
                kind=kind,
                item_key=form.item.data or "",
                observed_on=form.observed_on.data,
                seen=status != NOT_SEEN,
                note=form.note.data or "",
                actor=console_user(),
            )
        except InvalidValues as invalid:
            fields = {"item": "item", "kind": "status", "seen": "status"}
            for name, messages in invalid.errors.items():
                target = form._fields.get(fields.get(name, name))
                if target is not None:
                    target.errors = [str(MESSAGES.get(message, message)) for message in messages]
        else:
            flash(gettext("The observation is recorded."))
            return redirect(url_for("facilitate.tracker", slug=slug) + "#timeline"), 303
    return _page(study, found, form), 422


@blueprint.route("/studies/<slug>/tracker/<int:observation_id>/withdraw", methods=["POST"])
@login_required
def withdraw_observation(slug: str, observation_id: int) -> Any:
    """Withdraw one observation (recorded by mistake)."""
    study = study_for(slug, change=True)
    if observation_id not in {row.id for row in tracking.observations(db.session, study)}:
        abort(404)
    if not SafeForm(prefix=f"withdraw-{observation_id}").validate_on_submit():
        abort(400)
    tracking.withdraw(db.session, study, observation_id, console_user())
    flash(gettext("The observation is withdrawn."))
    return redirect(url_for("facilitate.tracker", slug=slug) + "#observations"), 303


def _page(study: Study, found: Tracker, form: ObservationForm) -> str:
    # Imported here: matplotlib is needed for this page only, not to start the service.
    from elicit.facilitate.tracker_plots import tracker_plot

    language = str(get_locale())
    return render_template(
        "facilitate/tracker.html",
        study=study,
        form=form,
        language=language,
        plot=tracker_plot(found, language, _number),
        can_change=console_user().role == Role.FACILITATOR,
        withdraw_forms={
            row.id: SafeForm(prefix=f"withdraw-{row.id}") for row in found.observations
        },
        **tracker_context(study, found, language),
    )


def _number(value: float) -> str:
    """A number in the page's language, up to one decimal."""
    return str(format_decimal(round(value, 1)))


def tracker_context(study: Study, found: Tracker, language: str) -> dict[str, Any]:
    """What the tracker's page, the study page's summary and the report show of
    ``found``: the steps in order, each with its observation's words and every
    scenario's probability and range, and the scenarios' texts."""
    names = {entry.key: entry.words(language) for entry in found.items}
    by_id = {row.id: row for row in found.observations}
    steps: list[dict[str, Any]] = []
    scenario_texts: dict[str, str] = {}
    if found.inputs is not None:
        scenario_texts = _scenario_texts(study, found.inputs.scenario_item, language)
    if found.timeline is not None:
        for step, rows in found.timeline.groupby("step", sort=True):
            first = rows.iloc[0]
            observation = by_id.get(first["observation"]) if step else None
            steps.append(
                {
                    "step": int(step),
                    "observation": observation,
                    "applied": bool(first["applied"]),
                    "values": [
                        {
                            "scenario": row.scenario,
                            "probability": float(row.probability),
                            "low": float(row.low),
                            "high": float(row.high),
                        }
                        for row in rows.itertuples()
                    ],
                }
            )
    numbers = {step["observation"].id: step["step"] for step in steps if step["observation"]}
    return {
        "tracker": found,
        "steps": steps,
        "step_numbers": numbers,
        "item_names": names,
        "scenario_texts": scenario_texts,
        "has_individual": found.inputs is not None and found.inputs.individual is not None,
    }


def _scenario_texts(study: Study, scenario_item: str, language: str) -> dict[str, str]:
    for item in study.items:
        if item.key == scenario_item:
            return {
                str(entry["key"]): str(
                    (entry.get("text") or {}).get(language)
                    or next(iter((entry.get("text") or {}).values()), entry["key"])
                )
                for entry in item.spec.get("scenarios") or []
            }
    return {}


def current_state(study: Study, language: str) -> dict[str, Any] | None:
    """The study page's compact state of the tracker: each scenario's prior and its
    probability (and range) after the last observation, with how many observations
    there are and the latest date; ``None`` while there is no observation (one count)."""
    if not tracking.has_observations(db.session, study):
        return None
    # Without the panel's individual likelihoods: the study page shows where the
    # scenarios stand, the tracker's page how sensitive that is.
    found = scenario_tracker(db.session, study, individual=False)
    context = tracker_context(study, found, language)
    steps = context["steps"]
    latest = found.observations[-1]
    return {
        "count": len(found.observations),
        "latest": latest.observed_on,
        "rows": [
            {
                "scenario": now["scenario"],
                "text": context["scenario_texts"].get(now["scenario"], now["scenario"]),
                "prior": before["probability"],
                "probability": now["probability"],
                "low": now["low"],
                "high": now["high"],
            }
            for before, now in zip(steps[0]["values"], steps[-1]["values"], strict=True)
        ]
        if steps
        else [],
    }
