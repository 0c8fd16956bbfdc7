"""Console pages for the panel, invitations, reminders and the outbox.

Routes of the ``facilitate`` blueprint.  Anonymity decides what a page may show, and
one rule holds at every level: **no page that shows a person (a name, an email) shows
a pseudonym**, not even in a form's address, so that nobody joins the people they know
to the pseudonymous answers in the exports by reading the console.

- ``standard``, facilitator: the panel page lists names and emails with each person's
  status per round (who has submitted), never a pseudonym and never an answer; actions
  on a person name them by an internal id that no export or API answer holds.  The
  outbox shows recipients and, without SMTP, the messages themselves, which the
  facilitator downloads as a mail-merge file and marks as sent (:mod:`surveys.outbox`).
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

from collections.abc import Mapping
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_decimal, gettext, ngettext
from flask_login import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from elicit.extensions import current_link_keys, db
from elicit.facilitate.access import console_user, study_for
from elicit.facilitate.forms import ConfirmForm
from elicit.facilitate.panel_forms import (
    ImportPanelForm,
    OutboxFilterForm,
    PanelFilterForm,
    PanelistForm,
    PersonForm,
)
from elicit.facilitate.views import blueprint
from elicit.jobs import send_again, send_messages, smtp_settings
from elicit.paging import page_number
from surveys.delivery import delivery_status, troubled_histories, unreadable_waiting
from surveys.errors import Conflict, NotFound
from surveys.messaging import (
    queue_invitations,
    queue_reminders,
    readable_bodies,
    reminders_due,
    resend_invitation,
)
from surveys.models import Panelist, Role, Study
from surveys.outbox import (
    PAGE_SIZE,
    STATUSES,
    OutboxCounts,
    OutboxFilter,
    mail_merge_chunks,
    mail_merge_rows,
    mark_sent,
    outbox_counts,
    record_mail_merge,
    rounds_of,
    unsent_summary,
)
from surveys.outbox import outbox_page as outbox_page_of
from surveys.panel import (
    FilterCounts,
    InvalidPanel,
    IssuedLink,
    NewPanelist,
    PanelCensus,
    PanelFilter,
    PanelistStatus,
    StatusFilter,
    add_panelist,
    add_panelists,
    filter_counts,
    offered_groups,
    panel_census,
    panel_page,
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
    the query's ``status`` and ``group`` when they are valid, a page (``page``) of
    :data:`~surveys.panel.PANEL_PAGE_SIZE` panelists at a time.

    Every count on it is the database's; only the page's rows (and, for a standard
    study's facilitator, their names) are read, so that its cost follows the page and
    not the panel's size.
    """
    blind = study.anonymity == BLIND
    # Submissions by group are shown in a blind study only (its group table).
    census = panel_census(db.session, study, by_group=blind)
    counts = census.counts
    filter_form, selection, filtered = _panel_filter(study, request.args, census)
    open_round = open_round_of(db.session, study)
    can_change = console_user().role == "facilitator"
    selected_count = filtered.of(selection.status) if selection else None
    # A blind study's page gets counts only: no list it could be compared by.
    rows = (
        None
        if blind
        else panel_page(
            db.session,
            study,
            selection,
            page=page_number(),
            total=counts.panelists if selection is None else selected_count,
        )
    )
    query = _panel_query(filter_form) if selection else {}
    return render_template(
        "facilitate/panel.html",
        study=study,
        blind=blind,
        people=_shows_people(study),
        rows=rows,
        # The page's position, written as the visitor's language writes numbers.
        numbers={
            name: format_decimal(getattr(rows, name))
            for name in ("first", "last", "total", "page", "pages")
        }
        if rows
        else {},
        statuses=rows.rows if rows else [],
        all_rounds=rows.rounds if rows else [],
        counts=counts,
        roster=_roster(study, rows.rows if rows else []),
        open_round=open_round,
        filter_form=filter_form,
        selection=selection,
        query=query,
        filter_round=status_round(db.session, study),
        selected_count=selected_count,
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


def _panel_query(form: PanelFilterForm) -> dict[str, str]:
    """The valid filter of ``form`` as query arguments, for the page links and the row
    actions' way back."""
    return {
        name: value
        for name, value in (("status", form.status.data), ("group", form.group.data))
        if value and not form[name].errors
    }


def _panel_filter(
    study: Study, formdata: Mapping[str, Any], census: PanelCensus | None = None
) -> tuple[PanelFilterForm, PanelFilter | None, FilterCounts]:
    """The filter form read from ``formdata``, each choice labelled with its count from
    the database (from ``census`` when the page has counted already), the selection it
    makes (``None``: everyone, or a choice that is not offered, which gets its message
    on its field), and the counts of the chosen group.

    In a blind study the groups offered are only those of at least the minimum group
    size: a group that is not offered is refused with the message of one that does not
    exist, so that the answer does not tell that it does.
    """
    form = PanelFilterForm(formdata=formdata)
    groups = (
        census.offered_groups(study) if census is not None else offered_groups(db.session, study)
    )
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
    counts = (
        census.filter_counts(group)
        if census is not None
        else filter_counts(db.session, study, round_, group)
    )
    words = {
        "": gettext("Everyone (%(n)s)", n=counts.everyone),
        StatusFilter.NOT_SUBMITTED.value: gettext("Not submitted (%(n)s)", n=counts.not_submitted),
        StatusFilter.DRAFT.value: gettext("Draft, not submitted (%(n)s)", n=counts.draft),
        StatusFilter.NEVER_OPENED.value: gettext("Never opened (%(n)s)", n=counts.never_opened),
    }
    form.status.choices = [(value, words[value]) for value, _ in form.status.choices]
    if not valid:
        return form, None, counts
    status = StatusFilter(form.status.data) if form.status.data else None
    if status is None and group is None:
        return form, None, counts
    return form, PanelFilter(status=status, group=group), counts


def _shows_people(study: Study) -> bool:
    """Whether this visitor may see names and emails: a facilitator of a standard study.

    Researchers work with pseudonymous data only, whatever the level.
    """
    return study.anonymity != BLIND and console_user().role == Role.FACILITATOR


def _roster(study: Study, rows: list[PanelistStatus]) -> dict[int, tuple[str, str]]:
    """Panelist id → (name, email) of the page's ``rows``, empty when the visitor may
    not see people."""
    if not _shows_people(study) or not rows:
        return {}
    return roster_by_id(db.session, study, [row.panelist_id for row in rows])


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
    # Back to the page and filter the row was on (the page checks them again).
    back = {
        name: request.args[name] for name in ("status", "group", "page") if request.args.get(name)
    }
    return redirect(url_for("facilitate.panel", slug=slug, **back)), 303


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
    # The round the page showed (the console's forms carry it): a page kept while that
    # round closed and the next opened must not mail the panel about a round nobody
    # looked at, a reminder minutes after a colleague's invitations.
    number = request.form.get("round", type=int)
    if number is not None and number != round_.number:
        flash(
            gettext(
                "Nothing was queued: round %(asked)s was closed meanwhile, and round "
                "%(open)s is open now.",
                asked=number,
                open=round_.number,
            ),
            "warning",
        )
        return redirect(url_for("facilitate.panel", slug=slug), 303)
    selection = None
    if reminders:
        form, selection, _ = _panel_filter(current, request.form)
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
    handed = send_messages(queued.ids)
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


def _unreadable_links_message(count: int, blind: bool, *, on_page: bool = False) -> str:
    """What the facilitator is told about messages whose links cannot be read
    (``on_page``: counted among the messages of the page shown only)."""
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
        + (
            " "
            + gettext(
                "Counted on this page only; marking messages as sent in bulk leaves every "
                "such message unsent."
            )
            if on_page
            else ""
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


def _status_words() -> dict[str, str]:
    """Each delivery status as the outbox names it (its template's labels say the same)."""
    return {
        "waiting": gettext("waiting"),
        "queued": gettext("queued"),
        "sending": gettext("being sent"),
        "retrying": gettext("to be retried"),
        "sent": gettext("sent"),
        "failed": gettext("failed"),
        "cancelled": gettext("cancelled"),
    }


def _outbox_filter(
    study: Study, formdata: Mapping[str, Any]
) -> tuple[OutboxFilterForm, OutboxFilter, OutboxCounts, dict[int, int]]:
    """The outbox's filter read from ``formdata`` (``round``: a round's number,
    ``status``: a delivery status), each choice labelled with its count from the
    database; the selection it makes (a choice not offered selects nothing more and
    gets its message on its field); the counts; round number → round id."""
    form = OutboxFilterForm(formdata=formdata)
    rounds = {round_.number: round_.id for round_ in rounds_of(db.session, study)}
    form.round.choices = [("", "")] + [(str(number), "") for number in rounds]
    form.status.choices = [("", "")] + [(status, "") for status in STATUSES]
    form.validate()
    if form.round.errors:
        form.round.errors = [gettext("Choose one of the rounds listed.")]
    if form.status.errors:
        form.status.errors = [gettext("Choose one of the statuses listed.")]
    round_id = rounds[int(form.round.data)] if form.round.data and not form.round.errors else None
    status = form.status.data if form.status.data and not form.status.errors else None
    selection = OutboxFilter(round_id=round_id, status=status)
    counts = outbox_counts(db.session, study, selection)
    words = _status_words()
    form.round.choices = [("", gettext("All rounds (%(n)s)", n=sum(counts.by_round.values())))] + [
        (
            str(number),
            gettext(
                "%(group)s (%(n)s)",
                group=gettext("Round %(number)s", number=number),
                n=counts.by_round.get(round_id_, 0),
            ),
        )
        for number, round_id_ in rounds.items()
    ]
    form.status.choices = [
        ("", gettext("Every status (%(n)s)", n=sum(counts.by_status.values())))
    ] + [
        (value, gettext("%(group)s (%(n)s)", group=words[value], n=counts.by_status[value]))
        for value in STATUSES
    ]
    return form, selection, counts, rounds


def _by_hand(study: Study) -> bool:
    """Whether this visitor sends the study's messages by hand: a facilitator of a
    standard study, with no mail server configured (the outbox is then the channel)."""
    return (
        study.anonymity != BLIND
        and console_user().role == Role.FACILITATOR
        and smtp_settings(current_app.config) is None
    )


@blueprint.route("/studies/<slug>/outbox")
@login_required
def outbox_page(slug: str) -> str:
    """The study's messages, filtered by round and status and a page at a time; in a
    blind study only their counts."""
    current = study_for(slug)
    form, selection, counts, _ = _outbox_filter(current, request.args)
    blind = current.anonymity == BLIND
    people = _shows_people(current)
    pages = max(-(-counts.selected // PAGE_SIZE), 1)
    page = min(page_number(), pages)
    messages = outbox_page_of(db.session, current, selection, page) if people else []
    statuses = {message.id: delivery_status(message) for message in messages}
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
    # With a mail server, delivery has recorded each failure: counted for the study.
    # Without one, only this page's links are unsealed (unsealing every waiting link
    # of a large panel on each view would cost seconds): the warning says so.
    unreadable = (
        unreadable_waiting(db.session, current)
        if mail
        else sum(body is None for body in bodies.values())
    )
    by_hand = _by_hand(current)
    unsent, upto = unsent_summary(db.session, current, selection) if by_hand else (0, None)
    query = {
        name: value
        for name, value in (("round", form.round.data), ("status", form.status.data))
        if value and not form[name].errors
    }
    return render_template(
        "facilitate/outbox.html",
        study=current,
        blind=blind,
        people=people,
        messages=messages,
        bodies=bodies,
        statuses=statuses,
        histories=troubled_histories(db.session, messages) if people else {},
        unreadable=(
            _unreadable_links_message(unreadable, blind, on_page=not mail) if unreadable else None
        ),
        counts=sorted(counts.by_kind_status.items()),
        outbox_counts=counts,
        filter_form=form,
        query=query,
        page=page,
        pages=pages,
        by_hand=by_hand,
        unsent=unsent,
        upto=upto,
        mail=mail,
        form=ConfirmForm(),
        can_change=console_user().role == Role.FACILITATOR,
    )


@blueprint.route("/studies/<slug>/outbox/mail-merge.csv")
@login_required
def mail_merge(slug: str) -> WerkzeugResponse:
    """The unsent messages the outbox's filter selects (up to the message ``upto``, the
    last one the page counted) as a mail-merge file for one's own mail client, with
    each recipient's personal link (:func:`surveys.outbox.mail_merge_rows`).

    Facilitators only (it names people), and never for a blind study, whose console
    shows no link to anyone; with a mail server configured the system sends, so the
    page offers no file and this answers 409.
    """
    current = study_for(slug, change=True)
    if current.anonymity == BLIND:
        abort(
            403,
            gettext(
                "This study is blind: no personal link is ever shown, so its messages "
                "cannot be downloaded; they are sent by the mail server only."
            ),
        )
    if smtp_settings(current_app.config) is not None:
        abort(409, gettext("A mail server is configured: it sends the messages."))
    form, selection, _, _ = _outbox_filter(current, request.args)
    if form.errors:
        abort(400, gettext("The filter is not one the outbox offers."))
    upto = request.args.get("upto", type=int)
    rows = mail_merge_rows(db.session, current, selection, current_link_keys(), upto=upto)
    record_mail_merge(db.session, current, console_user(), selection)
    name = f"{current.slug}-mail-merge.csv"
    return current_app.response_class(
        stream_with_context(mail_merge_chunks(rows)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _mark(slug: str, *, message_id: int | None) -> WerkzeugResponse:
    """Mark one message, or those the filter in the form selects, as sent by hand."""
    current = study_for(slug, change=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if current.anonymity == BLIND:
        abort(404)  # nobody sends a blind study's messages by hand
    back = {name: request.form[name] for name in ("round", "status") if request.form.get(name)}
    if smtp_settings(current_app.config) is not None:
        flash(gettext("A mail server is configured: it sends the messages."))
        return redirect(url_for("facilitate.outbox_page", slug=slug, **back), 303)
    if message_id is None:
        form, selection, _, _ = _outbox_filter(current, request.form)
        if form.errors:
            flash(gettext("Nothing was marked: the filter is no longer offered."))
            return redirect(url_for("facilitate.outbox_page", slug=slug), 303)
        done = mark_sent(
            db.session,
            current,
            console_user(),
            selection=selection,
            upto=request.form.get("upto", type=int),
            keys=current_link_keys(),
        )
    else:
        done = mark_sent(db.session, current, console_user(), message_id=message_id)
        if not done.marked:
            abort(404, gettext("There is no unsent message of this study at this address."))
    flash(
        ngettext(
            "%(num)s message is marked as sent.",
            "%(num)s messages are marked as sent.",
            done.marked,
        )
    )
    if done.unreadable:
        flash(
            ngettext(
                "%(num)s message was left unsent: its personal link cannot be read, so its "
                "text was never shown.",
                "%(num)s messages were left unsent: their personal links cannot be read, so "
                "their texts were never shown.",
                done.unreadable,
            )
        )
    return redirect(url_for("facilitate.outbox_page", slug=slug, **back), 303)


@blueprint.route("/studies/<slug>/outbox/<int:message_id>/sent", methods=["POST"])
@login_required
def mark_message_sent(slug: str, message_id: int) -> WerkzeugResponse:
    """Record that the facilitator sent this message by hand."""
    return _mark(slug, message_id=message_id)


@blueprint.route("/studies/<slug>/outbox/sent", methods=["POST"])
@login_required
def mark_outbox_sent(slug: str) -> WerkzeugResponse:
    """Record that the facilitator sent by hand every unsent message the filter in the
    form (``round``, ``status``) selects, up to the message ``upto`` the page counted."""
    return _mark(slug, message_id=None)
