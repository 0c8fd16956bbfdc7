"""The study's message texts in the console: the invitation, the reminder and the
thank-you in every language of the study, and each planned reminder's own text if it
should say something else ("3 days before" is not "the last day"), each edited with a
preview of what a sample panelist would receive; the planned reminders; the signature
(the lead's name and contact).

Route pattern as elsewhere: 404 for a study one is not a member of, 403 for researchers
(who may read the texts but not change them), the form again with each problem on its
field and nothing typed lost (422), a redirect after a save (303).
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import login_required
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from elicit.extensions import db
from elicit.facilitate.access import console_user, study_for
from elicit.facilitate.views import blueprint
from elicit.forms import SafeForm
from surveys.errors import InvalidValues
from surveys.message_history import STATUSES, delivery_summary
from surveys.message_templates import KINDS, PLACEHOLDERS, MessageText, template_problems
from surveys.message_texts import (
    LEAD_CONTACT_LIMIT,
    LEAD_NAME_LIMIT,
    SAMPLE_PANELISTS,
    reminder_texts,
    reset_template,
    sample_message,
    save_message_settings,
    save_template,
    study_template,
    study_templates,
)
from surveys.models import ReminderSchedule, Role, Study
from surveys.rounds import latest_round, open_round_of
from surveys.schedules import add_schedule, planned, remove_schedule

KIND_NAMES = {
    "invitation": lazy_gettext("Invitation"),
    "reminder": lazy_gettext("Reminder"),
    "thank_you": lazy_gettext("Thank-you"),
}
KIND_HELP = {
    "invitation": lazy_gettext("Sent to every panelist when a round opens."),
    "reminder": lazy_gettext(
        "Sent to the panelists who have not submitted yet: from the panel page, and by "
        "each planned reminder that has no text of its own."
    ),
    "thank_you": lazy_gettext("Sent to a panelist once they have submitted a round."),
}
PLACEHOLDER_HELP = {
    "name": lazy_gettext("the panelist's name"),
    "link": lazy_gettext("their personal link (required in invitations and reminders)"),
    "round": lazy_gettext("the round's number"),
    "deadline": lazy_gettext(
        "the round's deadline, in the panelist's language and time zone (empty without one)"
    ),
    "study_title": lazy_gettext("the study's title, in the panelist's language"),
    "lead_name": lazy_gettext("your name, as set below the texts (empty if not set)"),
    "lead_contact": lazy_gettext("how to reach you, as set below the texts (empty if not set)"),
}
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


class TemplateForm(SafeForm):
    """One message's subject and body."""

    subject = StringField(lazy_gettext("Subject"), validators=[Length(max=300)])
    body = TextAreaField(lazy_gettext("Text"), validators=[Length(max=10_000)])


class SignatureForm(SafeForm):
    """How messages are signed, and whether submissions are thanked."""

    lead_name = StringField(
        lazy_gettext("Your name, as messages sign it"),
        validators=[Optional(), Length(max=LEAD_NAME_LIMIT)],
    )
    lead_contact = StringField(
        lazy_gettext("How panelists can reach you (email or phone)"),
        validators=[Optional(), Length(max=LEAD_CONTACT_LIMIT)],
    )
    send_thank_you = BooleanField(
        lazy_gettext("Send the thank-you to each panelist who submits a round")
    )


class ScheduleForm(SafeForm):
    """A reminder planned so many days or hours before each round's deadline."""

    amount = IntegerField(
        lazy_gettext("How long before the deadline"),
        validators=[InputRequired(), NumberRange(min=1)],
    )
    unit = SelectField(
        lazy_gettext("Unit"),
        choices=[
            SelectChoice("days", lazy_gettext("days")),
            SelectChoice("hours", lazy_gettext("hours")),
        ],
        default="days",
    )


def _language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def _may_change() -> bool:
    return console_user().role == Role.FACILITATOR


@blueprint.route("/studies/<slug>/messages", methods=["GET", "POST"])
@login_required
def message_texts(slug: str) -> Any:
    """Every message text of the study, with its state (default or the study's own), and
    the signature form."""
    if request.method == "POST":
        study = study_for(slug, change=True)
        form = SignatureForm()
        if form.validate_on_submit():
            try:
                save_message_settings(
                    db.session,
                    study,
                    form.lead_name.data or "",
                    form.lead_contact.data or "",
                    bool(form.send_thank_you.data),
                    console_user(),
                )
            except InvalidValues as invalid:
                for name, messages in invalid.errors.items():
                    form[name].errors = list(messages)
            else:
                flash(gettext("The signature and the thank-you setting are saved."))
                return redirect(url_for("facilitate.message_texts", slug=slug)), 303
        return _overview(study, form), 422
    study = study_for(slug)
    form = SignatureForm(
        data={
            "lead_name": study.lead_name,
            "lead_contact": study.lead_contact,
            "send_thank_you": study.send_thank_you,
        }
    )
    return _overview(study, form)


def _overview(study: Any, form: SignatureForm, schedule_form: ScheduleForm | None = None) -> str:
    return render_template(
        "facilitate/messages/overview.html",
        study=study,
        schedule_form=schedule_form or ScheduleForm(formdata=None),
        reminders=planned(db.session, study, open_round_of(db.session, study)),
        reminder_texts=reminder_texts(db.session, study),
        summary=delivery_summary(db.session, study),
        statuses=STATUSES,
        texts=study_templates(db.session, study),
        kinds=KINDS,
        kind_names=KIND_NAMES,
        kind_help=KIND_HELP,
        language_name=_language_name,
        form=form,
        can_change=_may_change(),
    )


@blueprint.route("/studies/<slug>/messages/<message>/<language>", methods=["GET", "POST"])
@login_required
def message_text(slug: str, message: str, language: str) -> Any:
    """Edit one message text: "Preview" shows it as a sample panelist would receive it
    without saving, "Save" keeps it, "Use the default text" drops the study's own."""
    study = study_for(slug, change=request.method == "POST")
    if message not in KINDS or language not in study.languages["codes"]:
        abort(404)
    return _text(study, message, language, None)


@blueprint.route(
    "/studies/<slug>/messages/reminders/<int:schedule_id>/<language>", methods=["GET", "POST"]
)
@login_required
def reminder_text(slug: str, schedule_id: int, language: str) -> Any:
    """Edit a planned reminder's own text, as :func:`message_text` does; "Use the
    reminder text" drops it, and the reminder is sent with the study's reminder text."""
    study = study_for(slug, change=request.method == "POST")
    schedule = db.session.get(ReminderSchedule, schedule_id)
    if schedule is None or schedule.study_id != study.id:
        abort(404)
    if language not in study.languages["codes"]:
        abort(404)
    return _text(study, "reminder", language, schedule)


def _text(study: Study, kind: str, language: str, schedule: ReminderSchedule | None) -> Any:
    """The editing of one text (``schedule``: a planned reminder's own)."""
    stored = study_template(db.session, study, kind, language, schedule)
    action = request.form.get("action", "preview")
    if request.method == "GET":
        form = TemplateForm(data={"subject": stored.text.subject, "body": stored.text.body})
        return _edit_page(study, kind, language, form, stored.edited, schedule)
    form = TemplateForm()
    valid = form.validate_on_submit()
    if valid and action == "reset":
        reset_template(db.session, study, kind, language, console_user(), schedule)
        flash(
            gettext("The reminder text is back.")
            if schedule
            else gettext("The default text is back.")
        )
        return _to_text(study.slug, kind, language, schedule)
    subject, body = form.subject.data or "", (form.body.data or "").replace("\r\n", "\n")
    # Every problem at once: the template's own beside the form's (a control character).
    if not form.subject.errors:
        form.subject.errors = template_problems(subject, part="subject")
    if not form.body.errors:
        form.body.errors = template_problems(body, kind=kind, part="body")
    if not valid or form.subject.errors or form.body.errors:
        return _edit_page(study, kind, language, form, stored.edited, schedule, status=422)
    if action == "save":
        save_template(db.session, study, kind, language, subject, body, console_user(), schedule)
        flash(gettext("The text is saved."))
        return _to_text(study.slug, kind, language, schedule)
    # Preview: checked as a save is, shown, not saved.
    return _edit_page(study, kind, language, form, stored.edited, schedule, unsaved=True)


def _text_url(slug: str, kind: str, language: str, schedule: ReminderSchedule | None) -> str:
    if schedule is not None:
        return url_for(
            "facilitate.reminder_text", slug=slug, schedule_id=schedule.id, language=language
        )
    return url_for("facilitate.message_text", slug=slug, message=kind, language=language)


def _to_text(
    slug: str, kind: str, language: str, schedule: ReminderSchedule | None
) -> tuple[Any, int]:
    return redirect(_text_url(slug, kind, language, schedule)), 303


def _edit_page(
    study: Study,
    kind: str,
    language: str,
    form: TemplateForm,
    edited: bool,
    schedule: ReminderSchedule | None,
    *,
    status: int = 200,
    unsaved: bool = False,
) -> tuple[str, int]:
    text = MessageText(form.subject.data or "", (form.body.data or "").replace("\r\n", "\n"))
    preview = None
    if not form.subject.errors and not form.body.errors:
        try:
            preview = sample_message(
                study, text, language, request.host_url, latest_round(db.session, study)
            )
        except ValueError:  # refused by the checks: the errors say why
            preview = None
    return render_template(
        "facilitate/messages/edit.html",
        study=study,
        kind=kind,
        language=language,
        schedule=schedule,
        action_url=_text_url(study.slug, kind, language, schedule),
        language_urls={
            code: _text_url(study.slug, kind, code, schedule) for code in study.languages["codes"]
        },
        kind_names=KIND_NAMES,
        kind_help=KIND_HELP,
        language_name=_language_name,
        languages=study.languages["codes"],
        form=form,
        edited=edited,
        unsaved=unsaved,
        preview=preview,
        sample_name=SAMPLE_PANELISTS.get(language, SAMPLE_PANELISTS["en"]),
        placeholders=[(name, PLACEHOLDER_HELP[name]) for name in PLACEHOLDERS],
        can_change=_may_change(),
    ), status


@blueprint.route("/studies/<slug>/messages/schedules", methods=["POST"])
@login_required
def plan_reminder(slug: str) -> Any:
    """Plan a reminder so many days or hours before each round's deadline."""
    study = study_for(slug, change=True)
    form = ScheduleForm()
    signature = SignatureForm(
        data={
            "lead_name": study.lead_name,
            "lead_contact": study.lead_contact,
            "send_thank_you": study.send_thank_you,
        }
    )
    if form.validate_on_submit():
        hours = (form.amount.data or 0) * (24 if form.unit.data == "days" else 1)
        try:
            add_schedule(
                db.session,
                study,
                hours,
                str(current_app.config["ELICIT_BASE_URL"] or request.host_url),
                console_user(),
            )
        except InvalidValues as invalid:
            form.amount.errors = [
                message for messages in invalid.errors.values() for message in messages
            ]
        else:
            flash(gettext("The reminder is planned."))
            return redirect(url_for("facilitate.message_texts", slug=slug) + "#reminders"), 303
    return _overview(study, signature, form), 422


@blueprint.route("/studies/<slug>/messages/schedules/<int:schedule_id>/remove", methods=["POST"])
@login_required
def unplan_reminder(slug: str, schedule_id: int) -> Any:
    """Drop a planned reminder."""
    study = study_for(slug, change=True)
    if not SafeForm().validate_on_submit():
        abort(400)
    if not remove_schedule(db.session, study, schedule_id, console_user()):
        abort(404)
    flash(gettext("The planned reminder is removed."))
    return redirect(url_for("facilitate.message_texts", slug=slug) + "#reminders"), 303
