"""Closing a round from the console: the preview, the confirmation, and the close itself
computed by a job (:mod:`surveys.closing`), whose page the facilitator follows.

At 100,000 panelists a close takes one to two minutes, too long for a request; at 30 it
takes a moment, and the job has often finished by the time the browser follows the
redirect, which then lands on the study page as a close in the request did.  The
preview of a large round is a job's too, kept for later visits
(:mod:`surveys.close_previews`); the page follows it as the close's page follows a
close, and shows it once computed.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, gettext
from flask_login import login_required

from elicit.extensions import db
from elicit.facilitate.access import console_user, study_for
from elicit.facilitate.close_words import preview_items, preview_rows
from elicit.facilitate.forms import ConfirmForm
from elicit.facilitate.views import blueprint
from elicit.jobs import close_later, preview_later
from surveys.close_checklist import close_checklist
from surveys.close_previews import (
    answers_to_read,
    computed_in_request,
    preview_failure,
    preview_status,
    read_form,
    request_preview,
    round_preview,
)
from surveys.closing import (
    UNFINISHED,
    current_status,
    failure,
    hand_again,
    open_round_closing,
    request_close,
    study_closing,
)
from surveys.errors import Conflict
from surveys.models import ClosingStatus, Round, RoundPreview, Study
from surveys.protocol import items_at_consensus, retired_at_close
from surveys.rounds import (
    NotTheOpenRound,
    close_preview,
    count_respondents,
    latest_round,
    open_round_of,
)
from surveys.studies import study_definition

#: The longest wait between two questions of a close's page while the close is under
#: way (static/follow.js asks after 1 s, then 2, 4… up to this).
REFRESH_SECONDS = 10


@blueprint.route("/studies/<slug>/rounds/close", methods=["GET", "POST"])
@login_required
def close_current_round(slug: str) -> Any:
    """Preview the open round's summary as a decision (each row's rule in words with
    what it measured, the state, the stability), under a checklist of what could still
    change it (unsubmitted drafts, non-respondents by group, the deadline); closing
    needs a confirmation, and hands the close to a job.  Items at consensus follow the
    study's setting: listed as leaving, kept, or ticked here.

    A round with more answers to read than ``ELICIT_CLOSE_PREVIEW_INLINE_LIMIT`` shows
    the preview a job computed and kept, with when and from how many panelists; the
    first visit asks for it, and the page follows the job meanwhile (the checklist, and
    the close but in a study whose items at consensus are ticked here, do not wait)."""
    current = study_for(slug, change=True)
    form = ConfirmForm()
    if request.method == "POST":
        # The round the page was made for: a page left open while the round was closed,
        # and the next opened, must not close the new one (NotTheOpenRound).
        number = request.form.get("round", type=int)
        if not form.validate_on_submit() or number is None:
            abort(400)
        ticked = request.form.getlist("retire") if current.consensus_items == "ask" else []
        try:
            requested = request_close(
                db.session, current, actor=console_user(), retire=ticked, number=number
            )
        except NotTheOpenRound as stale:
            flash(
                gettext(
                    "Nothing was closed: round %(asked)s was closed meanwhile, and round "
                    "%(open)s is open now. This is round %(open)s's preview.",
                    asked=stale.asked,
                    open=stale.open_number,
                ),
                "warning",
            )
            return redirect(url_for("facilitate.close_current_round", slug=slug)), 303
        except Conflict as error:
            if open_round_of(db.session, current) is None:  # closed meanwhile, elsewhere
                return _no_open_round(current)
            flash(
                gettext("The round could not be closed: %(reason)s", reason=str(error)),
                "warning",
            )
            return redirect(url_for("facilitate.study", slug=slug)), 303
        if requested.submit:
            _submit(requested.closing.id)
        closing_id = requested.closing.id
        found = study_closing(db.session, current, closing_id)
        if found is not None and current_status(found) == ClosingStatus.DONE:
            return _closed(current, found.round.number)  # a small panel's job is quick
        # Post, redirect, get: the close's page is followed without posting again.
        return redirect(url_for("facilitate.closing", slug=slug, closing_id=closing_id)), 303
    pending = open_round_closing(db.session, current)
    if pending is not None and current_status(pending) in UNFINISHED:
        # Being closed: its page, not a second reading of every answer beside the close.
        return redirect(url_for("facilitate.closing", slug=slug, closing_id=pending.id)), 303
    round_ = open_round_of(db.session, current)
    if round_ is None:
        return _no_open_round(current)
    respondents = count_respondents(db.session, round_)
    page = {
        "study": current,
        "respondents": respondents,
        "checklist": close_checklist(db.session, current, round_),
        "form": form,
        "number": round_.number,
        "items": {item.key: item for item in current.items},
        "failed": failure(pending) if pending is not None else None,
    }
    kept = None
    limit = current_app.config["ELICIT_CLOSE_PREVIEW_INLINE_LIMIT"]
    if computed_in_request(answers_to_read(db.session, current, round_, respondents), limit):
        preview = close_preview(db.session, current, round_)
    else:
        kept = _kept_preview(round_)
        status = preview_status(kept)
        if status != ClosingStatus.DONE or kept.preview is None:
            return render_template(
                "facilitate/close.html",
                **page,
                preview=None,
                kept=kept,
                preview_state=status.value,
                preview_failed=preview_failure(kept),
                refresh_seconds=REFRESH_SECONDS,
            )
        preview = read_form(kept.preview)
    return render_template(
        "facilitate/close.html",
        **page,
        preview=preview,
        kept=kept,
        groups=preview_items(
            preview_rows(study_definition(current), preview, round_number=round_.number)
        ),
        at_consensus=items_at_consensus(current, preview),
    )


@blueprint.route("/studies/<slug>/rounds/close/preview", methods=["POST"])
@login_required
def compute_close_preview(slug: str) -> Any:
    """Compute a large round's close preview again (:mod:`surveys.close_previews`), with
    the answers as they stand now; back to the close's page, which follows it."""
    current = study_for(slug, change=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    round_ = open_round_of(db.session, current)
    if round_ is None:
        return _no_open_round(current)
    requested = request_preview(db.session, round_, again=True)
    if requested.submit:
        _submit_preview(requested.preview)
    return redirect(url_for("facilitate.close_current_round", slug=slug)), 303


@blueprint.route("/studies/<slug>/rounds/closing/<int:closing_id>")
@login_required
def closing(slug: str, closing_id: int) -> Any:
    """A close under way in the background: its state, followed by static/follow.js
    until the round is closed (then the study page says so) or the close failed (then
    why, and that the round is still open)."""
    current = study_for(slug, change=True)
    found = study_closing(db.session, current, closing_id)
    if found is None:
        abort(404)
    if hand_again(db.session, found):  # its job was lost: another
        _submit(found.id)
        found = study_closing(db.session, current, closing_id) or found
    status = current_status(found)
    if status == ClosingStatus.DONE:
        return _closed(current, found.round.number)
    return render_template(
        "facilitate/closing.html",
        study=current,
        closing=found,
        status=status.value,
        number=found.round.number,
        failure=failure(found),
        refresh_seconds=REFRESH_SECONDS if status in UNFINISHED else None,
    )


def _kept_preview(round_: Round) -> RoundPreview:
    """``round_``'s kept close preview, asked for (and handed to a job) if it was not,
    or handed to another job if its own was lost; as its job last wrote it."""
    requested = request_preview(db.session, round_)
    if requested.submit:
        _submit_preview(requested.preview)
    return round_preview(db.session, round_) or requested.preview


def _submit_preview(preview: RoundPreview) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    preview_later(app, preview.id, preview.requested_at)


def _submit(closing_id: int) -> None:
    close_later(current_app._get_current_object(), closing_id)  # type: ignore[attr-defined]


def _no_open_round(study: Study) -> Any:
    """The study page, saying that no round is open, and when the last one closed: a
    close page opened (or posted) after another facilitator, the API or the command
    line closed the round is not an error, and the study page says what comes next."""
    latest = latest_round(db.session, study)
    if latest is not None and latest.closed_at is not None:
        flash(
            gettext(
                "No round is open: round %(number)s was closed %(time)s UTC.",
                number=latest.number,
                time=format_datetime(latest.closed_at, "short"),
            )
        )
    else:
        flash(gettext("No round is open."))
    return redirect(url_for("facilitate.study", slug=study.slug)), 303


def _closed(study: Study, number: int) -> Any:
    """The study page, saying that round ``number`` is closed and what closing it
    retired."""
    flash(gettext("Round %(number)s is closed and its summary stored.", number=number))
    retired = retired_at_close(study, number)
    if retired:
        flash(
            gettext(
                "Reached consensus and left the next round (retired): %(items)s.",
                items=", ".join(retired),
            )
        )
    return redirect(url_for("facilitate.study", slug=study.slug)), 303
