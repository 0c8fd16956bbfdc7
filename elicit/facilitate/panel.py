"""Console pages for the panel, invitations, reminders and the outbox.

Routes of the ``facilitate`` blueprint.  Anonymity decides what a page may show:

- ``standard``: the panel page lists names and emails beside pseudonyms and statuses
  (who has submitted), never an answer; the outbox shows recipients and, without SMTP,
  the messages themselves, never a pseudonym.
- Researchers see what a blind study shows, at either level: they work with
  pseudonymous data only.
- ``blind``: no page shows a name or an email.  The panel page lists pseudonyms and
  statuses; personal links are never shown (the system mails them: reissuing a link
  sends a new invitation); the outbox shows counts only, so a blind study needs SMTP.

A personal link is shown once, on the page answering the request that created it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from elicit.extensions import db
from elicit.facilitate.access import console_user, study_for
from elicit.facilitate.forms import ConfirmForm
from elicit.facilitate.panel_forms import ImportPanelForm, PanelistForm
from elicit.facilitate.views import blueprint
from surveys.errors import Conflict, NotFound
from surveys.messaging import (
    SmtpSettings,
    deliver,
    outbox,
    queue_invitations,
    queue_reminders,
    resend_invitation,
    unsent_messages,
)
from surveys.models import Role, Study
from surveys.panel import (
    InvalidPanel,
    IssuedLink,
    NewPanelist,
    add_panelist,
    add_panelists,
    panel_status,
    panelist_by_pseudonym,
    parse_panel_csv,
    reissue_link,
    revoke_link,
    roster_by_pseudonym,
)
from surveys.rounds import open_round_of

BLIND = "blind"


def smtp_settings(config: Mapping[str, Any]) -> SmtpSettings | None:
    """Parse ``ELICIT_SMTP_URL`` (``smtp://user:password@host:port?starttls=1``)."""
    url = config.get("ELICIT_SMTP_URL")
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "smtp" or not parts.hostname:
        raise ValueError("ELICIT_SMTP_URL must look like smtp://user:password@host:587")
    query = parse_qs(parts.query)
    username = unquote(parts.username) if parts.username else None
    sender = config.get("ELICIT_MAIL_FROM") or username or f"elicit@{parts.hostname}"
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or 25,
        sender=sender,
        username=username,
        password=unquote(parts.password) if parts.password else None,
        starttls=query.get("starttls", ["0"])[0].lower() in {"1", "true", "yes"},
    )


def _base_url() -> str:
    """Where personal links point."""
    return str(current_app.config["ELICIT_BASE_URL"] or request.host_url)


def _panel_page(
    study: Study,
    *,
    add_form: PanelistForm | None = None,
    import_form: ImportPanelForm | None = None,
    import_errors: list[str] | None = None,
) -> str:
    """The panel page, with the given forms (as filled in) or empty ones."""
    return render_template(
        "facilitate/panel.html",
        study=study,
        blind=study.anonymity == BLIND,
        people=_shows_people(study),
        statuses=panel_status(db.session, study),
        roster=_roster(study),
        open_round=open_round_of(db.session, study),
        add_form=add_form or _panelist_form(study),
        import_form=import_form or ImportPanelForm(),
        import_errors=import_errors or [],
        action_form=ConfirmForm(),
        can_change=console_user().role == "facilitator",
        mail=smtp_settings(current_app.config) is not None,
    )


def _shows_people(study: Study) -> bool:
    """Whether this visitor may see names and emails: a facilitator of a standard study.

    Researchers work with pseudonymous data only, whatever the level.
    """
    return study.anonymity != BLIND and console_user().role == Role.FACILITATOR


def _roster(study: Study) -> dict[str, tuple[str, str]]:
    """Pseudonym → (name, email), empty when the visitor may not see people."""
    if not _shows_people(study):
        return {}
    return roster_by_pseudonym(db.session, study)


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
        rows=[
            (name, link.pseudonym, link.url(base_url))
            for name, link in zip(names, links, strict=True)
        ],
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
        link = add_panelist(db.session, current, entry, actor=console_user())
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
        links = add_panelists(db.session, current, entries, actor=console_user())
    except InvalidPanel as error:
        return _panel_page(current, import_form=form, import_errors=error.errors), 422
    return _links_page(current, links, [entry.name for entry in entries])


def _panelist_or_404(study: Study, pseudonym: str) -> Any:
    """The study's panelist called ``pseudonym``."""
    try:
        return panelist_by_pseudonym(db.session, study, pseudonym)
    except NotFound:
        abort(
            404, gettext("There is no panelist %(pseudonym)s in this study.", pseudonym=pseudonym)
        )


@blueprint.route("/studies/<slug>/panel/<pseudonym>/revoke", methods=["POST"])
@login_required
def revoke_panelist(slug: str, pseudonym: str) -> Any:
    """Withdraw a panelist's link."""
    current = study_for(slug, change=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    revoke_link(db.session, _panelist_or_404(current, pseudonym), actor=console_user())
    flash(gettext("The link of %(pseudonym)s is withdrawn.", pseudonym=pseudonym))
    return redirect(url_for("facilitate.panel", slug=slug)), 303


@blueprint.route("/studies/<slug>/panel/<pseudonym>/reissue", methods=["POST"])
@login_required
def reissue_panelist(slug: str, pseudonym: str) -> Any:
    """Give a panelist a new link: shown once, or in a blind study mailed by the system."""
    current = study_for(slug, change=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    panelist = _panelist_or_404(current, pseudonym)
    if current.anonymity != BLIND:
        link = reissue_link(db.session, panelist, actor=console_user())
        return _links_page(current, [link], [panelist.roster.name])
    round_ = open_round_of(db.session, current)
    if round_ is None:
        flash(
            gettext(
                "In a blind study a new link is sent by the system with an invitation, "
                "so a round must be open first."
            )
        )
        return redirect(url_for("facilitate.panel", slug=slug)), 303
    message = resend_invitation(
        db.session, current, round_, panelist, _base_url(), actor=console_user()
    )
    if message is not None:
        deliver(db.session, [message], smtp_settings(current_app.config))
    flash(
        gettext(
            "%(pseudonym)s has a new link, sent with a new invitation; the old link no "
            "longer works.",
            pseudonym=pseudonym,
        )
    )
    return redirect(url_for("facilitate.panel", slug=slug)), 303


def _send(slug: str, *, reminders: bool) -> WerkzeugResponse:
    """Queue invitations or reminders for the open round, then deliver what is unsent."""
    current = study_for(slug, change=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    round_ = open_round_of(db.session, current)
    if round_ is None:
        flash(gettext("No round is open."))
        return redirect(url_for("facilitate.panel", slug=slug), 303)
    queue = queue_reminders if reminders else queue_invitations
    try:
        queued = queue(db.session, current, round_, _base_url(), actor=console_user())
    except Conflict as error:
        flash(gettext("Nothing was queued: %(reason)s", reason=str(error)))
        return redirect(url_for("facilitate.panel", slug=slug), 303)
    smtp = smtp_settings(current_app.config)
    sent = _deliver_unsent(current, smtp)
    flash(
        gettext(
            "%(queued)s new message(s) queued for round %(number)s; %(sent)s sent.",
            queued=len(queued),
            number=round_.number,
            sent=sent,
        )
    )
    if smtp is None:
        flash(gettext("No mail server is configured: the messages wait in the outbox."))
    else:
        _say_what_waits(current)
    return redirect(url_for("facilitate.outbox_page", slug=slug), 303)


def _deliver_unsent(current: Study, smtp: SmtpSettings | None) -> int:
    """Deliver the study's unsent messages for as long as a request may take
    (``ELICIT_DELIVERY_BUDGET``); return how many were sent."""
    return deliver(
        db.session,
        unsent_messages(db.session, current),
        smtp,
        budget=current_app.config["ELICIT_DELIVERY_BUDGET"],
    )


def _say_what_waits(current: Study) -> None:
    """Tell the facilitator how many messages are still unsent, if any: stopped by the
    time budget, or refused by the mail server."""
    waiting = len(unsent_messages(db.session, current))
    if waiting:
        flash(
            ngettext(
                "%(num)s message is not sent yet: choose “Send unsent messages” to send it.",
                "%(num)s messages are not sent yet: choose “Send unsent messages” to send them.",
                waiting,
            )
        )


@blueprint.route("/studies/<slug>/invitations", methods=["POST"])
@login_required
def send_invitations(slug: str) -> WerkzeugResponse:
    """Invite every panelist to the open round (once each)."""
    return _send(slug, reminders=False)


@blueprint.route("/studies/<slug>/reminders", methods=["POST"])
@login_required
def send_reminders(slug: str) -> WerkzeugResponse:
    """Remind the panelists who have not submitted the open round."""
    return _send(slug, reminders=True)


@blueprint.route("/studies/<slug>/outbox/send", methods=["POST"])
@login_required
def send_outbox(slug: str) -> WerkzeugResponse:
    """Try again to deliver every unsent message (after a mail server failure)."""
    current = study_for(slug, change=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    smtp = smtp_settings(current_app.config)
    if smtp is None:
        flash(gettext("No mail server is configured: the messages wait in the outbox."))
    else:
        sent = _deliver_unsent(current, smtp)
        flash(gettext("%(sent)s message(s) sent.", sent=sent))
        _say_what_waits(current)
    return redirect(url_for("facilitate.outbox_page", slug=slug), 303)


@blueprint.route("/studies/<slug>/outbox")
@login_required
def outbox_page(slug: str) -> str:
    """The study's messages; in a blind study only their counts."""
    current = study_for(slug)
    messages = outbox(db.session, current)
    blind = current.anonymity == BLIND
    people = _shows_people(current)
    counts = Counter(
        (message.kind, "sent" if message.sent_at else ("failed" if message.error else "waiting"))
        for message in messages
    )
    return render_template(
        "facilitate/outbox.html",
        study=current,
        blind=blind,
        people=people,
        messages=messages if people else [],
        counts=sorted(counts.items()),
        mail=smtp_settings(current_app.config) is not None,
        form=ConfirmForm(),
        can_change=console_user().role == Role.FACILITATOR,
    )
