"""Console pages for the panel, invitations, reminders and the outbox.

Routes of the ``facilitate`` blueprint.  Anonymity decides what a page may show, and
one rule holds at every level: **no page that shows a person (a name, an email) shows
a pseudonym**, not even in a form's address, so that nobody joins the people they know
to the pseudonymous answers in the exports by reading the console.

- ``standard``, facilitator: the panel page lists names and emails with each person's
  status per round (who has submitted), never a pseudonym and never an answer; actions
  on a person name them by an internal id that no export or API answer holds.  The
  outbox shows recipients and, without SMTP, the messages themselves.
- ``standard``, researcher: pseudonyms, groups and statuses; no names.
- ``blind``, everyone: no list of the panel at all, only counts by round, status and
  group (groups smaller than the study's minimum group size gathered in one row): a
  list of pseudonyms compared before and after adding one person would reveal theirs.
  A facilitator acts on one person by their email (send a new link, withdraw one); the
  answer names no pseudonym.  Personal links are never shown (the system mails them);
  the outbox shows counts only, so a blind study needs SMTP.

A personal link is kept for the whole study: the console shows it on the page that
answers its creation, and (a standard study without SMTP) in the outbox's messages that
carry it; every invitation and reminder carries the same link, which changes only when a
facilitator issues a new one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from elicit.extensions import current_link_keys, db
from elicit.facilitate.access import console_user, study_for
from elicit.facilitate.forms import ConfirmForm
from elicit.facilitate.panel_forms import (
    ImportPanelForm,
    PanelFilterForm,
    PanelistForm,
    PersonForm,
)
from elicit.facilitate.views import blueprint
from elicit.jobs import send_again, send_messages, smtp_settings
from surveys.delivery import delivery_status, troubled_histories, unreadable_waiting
from surveys.errors import Conflict, NotFound
from surveys.messaging import (
    outbox,
    queue_invitations,
    queue_reminders,
    readable_bodies,
    reminders_due,
    resend_invitation,
)
from surveys.models import Panelist, Role, Study
from surveys.panel import (
    InvalidPanel,
    IssuedLink,
    NewPanelist,
    PanelFilter,
    StatusFilter,
    add_panelist,
    add_panelists,
    filter_counts,
    offered_groups,
    panel_counts,
    panel_status,
    panelist_by_email,
    panelist_by_id,
    parse_panel_csv,
    reissue_link,
    revoke_link,
    roster_by_id,
    status_round,
)
from surveys.rounds import open_round_of

BLIND = "blind"
#: The filter's value for the panelists without a group (no group name has parentheses).
NO_GROUP = "(none)"


def _base_url() -> str:
    """Where personal links point."""
    return str(current_app.config["ELICIT_BASE_URL"] or request.host_url)


def _panel_page(
    study: Study,
    *,
    add_form: PanelistForm | None = None,
    import_form: ImportPanelForm | None = None,
    import_errors: list[str] | None = None,
    person_form: PersonForm | None = None,
) -> str:
    """The panel page, with the given forms (as filled in) or empty ones, filtered by
    the query's ``status`` and ``group`` when they are valid."""
    blind = study.anonymity == BLIND
    statuses = panel_status(db.session, study)
    filter_form, selection = _panel_filter(study, request.args)
    open_round = open_round_of(db.session, study)
    can_change = console_user().role == "facilitator"
    return render_template(
        "facilitate/panel.html",
        study=study,
        blind=blind,
        people=_shows_people(study),
        # A blind study's page gets counts only: no list it could be compared by.
        statuses=[]
        if blind
        else (panel_status(db.session, study, selection) if selection else statuses),
        all_rounds=statuses[0].rounds if statuses else [],
        counts=panel_counts(statuses, min_group_size=study.feedback_min_n),
        roster=_roster(study),
        open_round=open_round,
        filter_form=filter_form,
        selection=selection,
        filter_round=status_round(db.session, study),
        selected_count=_selected_count(study, selection),
        reminders_due=(
            reminders_due(db.session, study, open_round, selection)
            if can_change and open_round is not None and selection is not None
            else None
        ),
        add_form=add_form or _panelist_form(study),
        import_form=import_form or ImportPanelForm(),
        import_errors=import_errors or [],
        person_form=person_form or PersonForm(),
        action_form=ConfirmForm(),
        can_change=can_change,
        mail=smtp_settings(current_app.config) is not None,
    )


def _panel_filter(
    study: Study, formdata: Mapping[str, Any]
) -> tuple[PanelFilterForm, PanelFilter | None]:
    """The filter form read from ``formdata``, each choice labelled with its count from
    the database, and the selection it makes (``None``: everyone, or a choice that is
    not offered, which gets its message on its field).

    In a blind study the groups offered are only those of at least the minimum group
    size: a group that is not offered is refused with the message of one that does not
    exist, so that the answer does not tell that it does.
    """
    form = PanelFilterForm(formdata=formdata)
    groups = offered_groups(db.session, study)
    form.group.choices = [("", gettext("All groups"))] + [
        (
            group or NO_GROUP,
            gettext("%(group)s (%(n)s)", group=group or gettext("(no group)"), n=count),
        )
        for group, count in groups
    ]
    round_ = status_round(db.session, study)
    form.status.choices = [("", gettext("Everyone"))] + (
        [(status.value, status.value) for status in StatusFilter] if round_ else []
    )
    valid = form.validate()
    if form.group.errors:
        form.group.errors = [gettext("Choose one of the groups listed.")]
    if form.status.errors:
        form.status.errors = [gettext("Choose one of the statuses listed.")]
    group: str | None = None
    if not form.group.errors and form.group.data:
        group = "" if form.group.data == NO_GROUP else form.group.data
    counts = filter_counts(db.session, study, round_, group)
    words = {
        "": gettext("Everyone (%(n)s)", n=counts.everyone),
        StatusFilter.NOT_SUBMITTED.value: gettext("Not submitted (%(n)s)", n=counts.not_submitted),
        StatusFilter.DRAFT.value: gettext("Draft, not submitted (%(n)s)", n=counts.draft),
        StatusFilter.NEVER_OPENED.value: gettext("Never opened (%(n)s)", n=counts.never_opened),
    }
    form.status.choices = [(value, words[value]) for value, _ in form.status.choices]
    if not valid:
        return form, None
    status = StatusFilter(form.status.data) if form.status.data else None
    if status is None and group is None:
        return form, None
    return form, PanelFilter(status=status, group=group)


def _selected_count(study: Study, selection: PanelFilter | None) -> int | None:
    """How many panelists ``selection`` selects (counted by the database)."""
    if selection is None:
        return None
    counts = filter_counts(db.session, study, status_round(db.session, study), selection.group)
    return counts.of(selection.status)


def _shows_people(study: Study) -> bool:
    """Whether this visitor may see names and emails: a facilitator of a standard study.

    Researchers work with pseudonymous data only, whatever the level.
    """
    return study.anonymity != BLIND and console_user().role == Role.FACILITATOR


def _roster(study: Study) -> dict[int, tuple[str, str]]:
    """Panelist id → (name, email), empty when the visitor may not see people."""
    if not _shows_people(study):
        return {}
    return roster_by_id(db.session, study)


def _panelist_form(study: Study) -> PanelistForm:
    """The add-one form, offering the study's languages."""
    form = PanelistForm()
    form.language.choices = [(code, code) for code in study.languages["codes"]]
    return form


def _links_page(study: Study, links: list[IssuedLink], names: list[str]) -> str:
    """New personal links, shown this once (none for a blind study)."""
    base_url = _base_url()
    return render_template(
        "facilitate/links.html",
        study=study,
        blind=study.anonymity == BLIND,
        rows=[(name, link.url(base_url)) for name, link in zip(names, links, strict=True)],
    )


@blueprint.route("/studies/<slug>/panel")
@login_required
def panel(slug: str) -> str:
    """The panel and each panelist's status in every round."""
    return _panel_page(study_for(slug))


@blueprint.route("/studies/<slug>/panel/add", methods=["POST"])
@login_required
def add_to_panel(slug: str) -> Any:
    """Add one panelist; show their link once."""
    current = study_for(slug, change=True)
    form = _panelist_form(current)
    if not form.validate_on_submit():
        return _panel_page(current, add_form=form), 422
    entry = NewPanelist(
        form.name.data or "", form.email.data or "", form.group.data or "", form.language.data
    )
    try:
        link = add_panelist(
            db.session, current, entry, actor=console_user(), keys=current_link_keys()
        )
    except InvalidPanel as error:
        for field, problems in error.fields.items():
            form[field].errors = list(form[field].errors) + problems
        return _panel_page(current, add_form=form), 422
    return _links_page(current, [link], [entry.name])


@blueprint.route("/studies/<slug>/panel/import", methods=["POST"])
@login_required
def import_panel(slug: str) -> Any:
    """Add panelists from a CSV file, all or none; show their links once."""
    current = study_for(slug, change=True)
    form = ImportPanelForm()
    if not form.validate_on_submit():
        return _panel_page(current, import_form=form), 422
    try:
        text = form.file.data.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return _panel_page(
            current,
            import_form=form,
            import_errors=[gettext("The file is not UTF-8 text. Save it as CSV (UTF-8).")],
        ), 422
    try:
        entries = parse_panel_csv(text, current.languages["codes"])
        links = add_panelists(
            db.session, current, entries, actor=console_user(), keys=current_link_keys()
        )
    except InvalidPanel as error:
        return _panel_page(current, import_form=form, import_errors=error.errors), 422
    return _links_page(current, links, [entry.name for entry in entries])


def _named_panelist(study: Study, panelist_id: int) -> Panelist:
    """The panelist of a standard study's row, by the id its actions carry."""
    if study.anonymity == BLIND:
        abort(404)  # a blind study's page lists nobody; it acts by email
    try:
        return panelist_by_id(db.session, study, panelist_id)
    except NotFound:
        abort(404, gettext("There is no such panelist in this study."))


@blueprint.route("/studies/<slug>/panel/<int:panelist_id>/revoke", methods=["POST"])
@login_required
def revoke_panelist(slug: str, panelist_id: int) -> Any:
    """Withdraw a panelist's link (a standard study's row)."""
    current = study_for(slug, change=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    panelist = _named_panelist(current, panelist_id)
    revoke_link(db.session, panelist, actor=console_user())
    flash(gettext("The link of %(name)s is withdrawn.", name=panelist.roster.name))
    return redirect(url_for("facilitate.panel", slug=slug)), 303


@blueprint.route("/studies/<slug>/panel/<int:panelist_id>/reissue", methods=["POST"])
@login_required
def reissue_panelist(slug: str, panelist_id: int) -> Any:
    """Give a panelist a new link, shown once (a standard study's row)."""
    current = study_for(slug, change=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    panelist = _named_panelist(current, panelist_id)
    link = reissue_link(db.session, panelist, actor=console_user(), keys=current_link_keys())
    return _links_page(current, [link], [panelist.roster.name])


@blueprint.route("/studies/<slug>/panel/person", methods=["POST"])
@login_required
def act_on_person(slug: str) -> Any:
    """A blind study's actions on one person, named by their email: send them a new
    link (with a new invitation to the open round) or withdraw their link.  Nothing
    in the answer names a pseudonym."""
    current = study_for(slug, change=True)
    form = PersonForm()
    if not form.validate_on_submit():
        return _panel_page(current, person_form=form), 422
    try:
        panelist = panelist_by_email(db.session, current, form.email.data or "")
    except NotFound:
        form.email.errors = [gettext("Nobody on the panel has this email address.")]
        return _panel_page(current, person_form=form), 422
    if form.action.data == "revoke":
        revoke_link(db.session, panelist, actor=console_user())
        flash(gettext("The link of that person is withdrawn."))
        return redirect(url_for("facilitate.panel", slug=slug)), 303
    if current.anonymity != BLIND:
        link = reissue_link(db.session, panelist, actor=console_user(), keys=current_link_keys())
        return _links_page(current, [link], [panelist.roster.name])
    round_ = open_round_of(db.session, current)
    if round_ is None:
        form.email.errors = [
            gettext(
                "In a blind study a new link is sent by the system with an invitation, "
                "so a round must be open first."
            )
        ]
        return _panel_page(current, person_form=form), 409
    message = resend_invitation(
        db.session, current, round_, panelist, _base_url(), console_user(), keys=current_link_keys()
    )
    if message is not None:
        send_messages([message.id])
    flash(
        gettext(
            "That person has a new link, sent with a new invitation; their old link no "
            "longer works."
        )
    )
    return redirect(url_for("facilitate.panel", slug=slug)), 303


def _send(slug: str, *, reminders: bool) -> WerkzeugResponse:
    """Queue invitations or reminders for the open round and hand them to delivery,
    which sends them after the response (:mod:`elicit.jobs`): no request waits on SMTP."""
    current = study_for(slug, change=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    round_ = open_round_of(db.session, current)
    if round_ is None:
        flash(gettext("No round is open."))
        return redirect(url_for("facilitate.panel", slug=slug), 303)
    selection = None
    if reminders:
        form, selection = _panel_filter(current, request.form)
        if form.errors:
            flash(gettext("Nothing was queued: the selection is no longer offered."))
            return redirect(url_for("facilitate.panel", slug=slug), 303)
    try:
        if reminders:
            queued = queue_reminders(
                db.session,
                current,
                round_,
                _base_url(),
                console_user(),
                selection,
                keys=current_link_keys(),
            )
        else:
            queued = queue_invitations(
                db.session, current, round_, _base_url(), console_user(), keys=current_link_keys()
            )
    except Conflict as error:
        flash(gettext("Nothing was queued: %(reason)s", reason=str(error)))
        return redirect(url_for("facilitate.panel", slug=slug), 303)
    handed = send_messages([message.id for message in queued])
    flash(
        gettext(
            "%(queued)s new message(s) queued for round %(number)s.",
            queued=len(queued),
            number=round_.number,
        )
    )
    if smtp_settings(current_app.config) is None:
        flash(gettext("No mail server is configured: the messages wait in the outbox."))
    elif handed:
        flash(gettext("They are being sent; the outbox shows where each one stands."))
    return redirect(url_for("facilitate.outbox_page", slug=slug), 303)


def _unreadable_links_message(count: int, blind: bool) -> str:
    """What the facilitator is told about messages whose links cannot be read."""
    remedy = (
        gettext("or send those people new links (“One panelist” on the panel page).")
        if blind
        else gettext("or give those panelists new links (“New link” in their row's menu).")
    )
    return (
        ngettext(
            "%(num)s message cannot be sent: its personal link cannot be read with this server's "
            "key (ELICIT_LINK_KEYS, or ELICIT_SECRET_KEY from which it is derived, has "
            "changed). Restore the previous key (see the README's Security section),",
            "%(num)s messages cannot be sent: their personal links cannot be read with this "
            "server's key (ELICIT_LINK_KEYS, or ELICIT_SECRET_KEY from which it is derived, "
            "has changed). Restore the previous key (see the README's Security section),",
            count,
        )
        + " "
        + remedy
    )


@blueprint.route("/studies/<slug>/invitations", methods=["POST"])
@login_required
def send_invitations(slug: str) -> WerkzeugResponse:
    """Invite every panelist to the open round (once each)."""
    return _send(slug, reminders=False)


@blueprint.route("/studies/<slug>/reminders", methods=["POST"])
@login_required
def send_reminders(slug: str) -> WerkzeugResponse:
    """Remind the panelists who have not submitted the open round; with the panel
    page's filter in the form (``status``, ``group``), only those it selects."""
    return _send(slug, reminders=True)


@blueprint.route("/studies/<slug>/outbox/send", methods=["POST"])
@login_required
def send_outbox(slug: str) -> WerkzeugResponse:
    """Hand every unsent message to delivery again, the failed ones too (after the mail
    server or the link keys were put right); they are sent after the response."""
    current = study_for(slug, change=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if smtp_settings(current_app.config) is None:
        flash(gettext("No mail server is configured: the messages wait in the outbox."))
    else:
        handed = send_again(current)
        flash(
            ngettext(
                "%(num)s unsent message is being sent again.",
                "%(num)s unsent messages are being sent again.",
                handed,
            )
        )
    return redirect(url_for("facilitate.outbox_page", slug=slug), 303)


@blueprint.route("/studies/<slug>/outbox")
@login_required
def outbox_page(slug: str) -> str:
    """The study's messages; in a blind study only their counts."""
    current = study_for(slug)
    messages = outbox(db.session, current)
    blind = current.anonymity == BLIND
    people = _shows_people(current)
    statuses = {message.id: delivery_status(message) for message in messages}
    counts = Counter((message.kind, statuses[message.id]) for message in messages)
    mail = smtp_settings(current_app.config) is not None
    # Without SMTP a standard study's facilitator sends each message by hand, so it is
    # shown with its link; a blind study's console shows no link to anyone.
    bodies = (
        readable_bodies(
            db.session,
            current,
            [message for message in messages if message.sent_at is None],
            current_link_keys(),
        )
        if people and not mail
        else {}
    )
    unreadable = (
        unreadable_waiting(db.session, current)
        if mail
        else sum(body is None for body in bodies.values())
    )
    return render_template(
        "facilitate/outbox.html",
        study=current,
        blind=blind,
        people=people,
        messages=messages if people else [],
        bodies=bodies,
        statuses=statuses,
        histories=troubled_histories(db.session, messages) if people else {},
        unreadable=_unreadable_links_message(unreadable, blind) if unreadable else None,
        counts=sorted(counts.items()),
        mail=mail,
        form=ConfirmForm(),
        can_change=console_user().role == Role.FACILITATOR,
    )
