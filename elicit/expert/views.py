"""Expert pages.

``/e/<token>`` is the personal link: the first visit exchanges the token for a session
cookie and redirects to ``/e/``, so the token leaves the address bar, the history and
any referrer.  ``/e/`` shows the open round; it posts back to itself to save a draft,
review, or submit; ``/e/draft`` takes the page's autosaves.
"""

from __future__ import annotations

import logging
import re
from contextlib import suppress
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_datetime, get_locale, gettext
from flask_wtf import FlaskForm
from flask_wtf.csrf import validate_csrf
from sqlalchemy.exc import InterfaceError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms.validators import ValidationError

from elicit.expert.messages import error_report
from elicit.expert.presenters import (
    form_values,
    item_views,
    outcome_views,
    progress,
    review_context,
    sections,
)
from elicit.extensions import csrf, current_link_keys, db
from elicit.i18n import LANGUAGE_NAMES, remember_requested_language
from elicit.jobs import send_messages
from elicit.metrics import count_submission
from elicit.paging import page_number
from elicit.ratelimits import limiter
from surveys.answers import (
    DeadlinePassed,
    RoundBeingClosed,
    RoundNotOpen,
    parse_answers,
    submit_responses,
)
from surveys.drafts import save_draft
from surveys.errors import AccessRevoked, AnswerError, Conflict, InvalidAnswers, NotFound
from surveys.expert import ExpertPage, expert_page
from surveys.messaging import queue_thank_you
from surveys.panel import hash_token, note_visit
from surveys.text import clean_typed_form
from surveys.visit import Visit, visit_for_token_hash, visit_of

log = logging.getLogger(__name__)
blueprint = Blueprint("expert", __name__, url_prefix="/e")
#: What a database that cannot be reached (or stays busy past its timeout) raises.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError, PendingRollbackError)
SESSION_KEY = "panelist"
#: Seconds after which a request refused because the database was unavailable may be
#: tried again (the ``Retry-After`` header).
RETRY_AFTER_SECONDS = 5
#: The field of the resume form that takes a pasted personal link.
RESUME_LINK_FIELD = "personal_link"
#: A personal link's token inside whatever was pasted: the whole link or the token.
PASTED_LINK = re.compile(r"(?:/e/|^)([A-Za-z0-9_-]{20,})/?(?:[?#].*)?$")


class AnswerForm(FlaskForm):
    """Carries the CSRF token.  The answers themselves are judged by ``surveys.answers``,
    the single place that knows what a valid answer is."""


@blueprint.before_request
def keep_language_choice() -> None:
    """Remember the language switch for the whole visit."""
    remember_requested_language()


@limiter.request_filter
def _session_page() -> bool:
    """An expert's own pages are never rate-limited (only link look-ups are): saying so
    spares their requests, submissions included, the resolution of limits."""
    return request.endpoint in ("expert.answer", "expert.autosave")


def _lookup_failed(response: WerkzeugResponse) -> bool:
    """Only unknown links count against the rate limit, not experts' own visits."""
    return response.status_code == 404


def _link_is_known() -> bool:
    """Whether the link being looked up belongs to a panelist (withdrawn ones included).

    The link look-up limit exempts such links, so that a valid link is never blocked
    by the failures of others behind the same address (a whole ministry behind one
    proxy); only failed look-ups are counted, and only they are refused past the limit.
    The visit found is kept for the view, which then does not look it up again.
    """
    if "link_known" not in g:  # asked once per limit; look up once per request
        g.link_known = False
        token = (
            _posted_token() if request.method == "POST" else (request.view_args or {}).get("token")
        )
        if token:
            try:
                g.visit_found = visit_for_token_hash(db.session, hash_token(token))
                g.link_known = True
            except AccessRevoked:
                g.link_known = True
            except NotFound:
                pass
            except DATABASE_UNAVAILABLE:
                # Flask-Limiter would swallow the error and leave the session needing a
                # rollback; exempt instead, and let the view meet the outage itself
                # (a 503 that keeps what was typed, below).
                db.session.rollback()
                g.link_known = True
    return bool(g.link_known)


#: One count per client address for both ways of looking a link up: opening it and
#: pasting it into the resume form.
_LINK_LOOKUP_LIMIT = limiter.shared_limit(
    lambda: current_app.config["ELICIT_LINK_LOOKUP_LIMIT"],
    scope="personal-link-lookup",
    deduct_when=_lookup_failed,
    exempt_when=_link_is_known,
)


@blueprint.route("/<token>")
@_LINK_LOOKUP_LIMIT
def enter(token: str) -> WerkzeugResponse:
    """Exchange a personal link's token for a session cookie, then drop the token."""
    _open_session(g.pop("visit_found", None) or _load(hash_token(token)))
    language = request.args.get("lang")
    return redirect(url_for("expert.answer", lang=language))


def _open_session(visit: Visit) -> None:
    """Start a fresh session for the visit's panelist."""
    session.clear()
    remember_requested_language()  # the switch outlives the exchange
    session.permanent = True
    session[SESSION_KEY] = visit.panelist.token_hash
    g.panelist_language = visit.panelist.language


class VisitEnded(HTTPException):
    """The request's session names no usable panelist: none at all (the session ended
    or was never opened), an unknown link (reissued since), or a withdrawn one."""

    def __init__(self, code: int, description: str, *, resumable: bool) -> None:
        super().__init__(description)
        self.code = code
        #: Whether opening a personal link again can continue the work (not withdrawn).
        self.resumable = resumable


def _load(token_hash: str | None) -> Visit:
    """The visit of a token hash's panelist, or a page that says why there is none."""
    if not token_hash:
        raise VisitEnded(401, gettext("Open your personal link again to continue."), resumable=True)
    try:
        visit = visit_for_token_hash(db.session, token_hash)
    except NotFound:
        raise VisitEnded(
            404,
            gettext(
                "This personal link is not valid. Check that you copied all of it, or ask "
                "the study team for a new one."
            ),
            resumable=True,
        ) from None
    except AccessRevoked:
        raise VisitEnded(
            403,
            gettext("This personal link has been withdrawn. Ask the study team for a new one."),
            resumable=False,
        ) from None
    g.panelist_language = visit.panelist.language
    return visit


def _current_visit() -> Visit:
    """The visit of the panelist whose link opened this session."""
    return _load(session.get(SESSION_KEY))


def _typed() -> dict[str, str]:
    """What the expert typed in the posted form: every field but the CSRF token and the
    button pressed, cleaned of control characters (:mod:`surveys.text`)."""
    return clean_typed_form(
        {
            name: value
            for name, value in request.form.items()
            if name not in ("csrf_token", "action", RESUME_LINK_FIELD)
        }
    )


@blueprint.errorhandler(VisitEnded)
def _visit_ended(error: VisitEnded) -> Any:
    """No usable session: a page that says why.  A page that was posted keeps what the
    expert typed, and offers to continue with their personal link pasted in."""
    if request.method == "POST" and request.endpoint == "expert.autosave":
        message = gettext(
            "Your session has ended, so this was not saved. Keep this page open, open your "
            "personal link again in another tab, then come back and choose Save draft."
        )
        return jsonify(error=message), error.code
    if request.method == "POST" and request.endpoint == "expert.resume":
        return _unsaved_page(
            error.code,
            heading=gettext("Your session has ended"),
            message=error.description or "",
            resume=error.resumable,
        )
    if request.method == "POST" and request.endpoint == "expert.answer":
        return _unsaved_page(
            error.code,
            heading=gettext("Your session has ended"),
            message=_SESSION_ENDED_MESSAGES[error.code](),
            resume=error.resumable,
        )
    return render_template("error.html", code=error.code, description=error.description), (
        error.code
    )


#: Why a posted page found no session, by the status :func:`_load` chose.
_SESSION_ENDED_MESSAGES = {
    401: lambda: gettext(
        "Your session has ended, so what you just sent was not saved. Everything you typed "
        "is below. To keep it, paste your personal link (from the study team's message) "
        "and choose Continue."
    ),
    404: lambda: gettext(
        "Your personal link has been replaced by a newer one, which ended this session, so "
        "what you just sent was not saved. Everything you typed is below. Paste the newest "
        "personal link the study team sent you and choose Continue."
    ),
    403: lambda: gettext(
        "Your personal link has been withdrawn, so what you just sent was not saved. "
        "Everything you typed is below for you to copy; ask the study team for a new link."
    ),
}


@blueprint.errorhandler(OperationalError)
@blueprint.errorhandler(InterfaceError)
@blueprint.errorhandler(PoolTimeoutError)
@blueprint.errorhandler(PendingRollbackError)
def _database_unavailable(error: Exception) -> Any:
    """The database could not be reached or was busy past its timeout: 503 with
    ``Retry-After``.  A page that was posted comes back with everything typed in it
    and a button that sends it again; an autosave says it will be tried again."""
    log.warning("expert request failed: database unavailable (%s)", type(error).__name__)
    with suppress(Exception):  # the connection may be gone; nothing was committed
        db.session.rollback()
    if request.method == "POST" and request.endpoint == "expert.autosave":
        response = jsonify(
            error=gettext(
                "Could not save just now (the study's database is busy or unreachable). "
                "Your answers are still on this page; saving will be tried again."
            ),
            retry_after=RETRY_AFTER_SECONDS,
        )
        response.status_code = 503
    elif request.method == "POST" and request.endpoint in ("expert.answer", "expert.resume"):
        response = make_response(
            _unsaved_page(
                503,
                heading=gettext("Your answers could not be saved just now"),
                message=gettext(
                    "The study's database is busy or unreachable for a moment, so nothing "
                    "was saved or submitted. Everything you typed is below: wait a minute, "
                    "then choose Try again."
                ),
                repost=request.endpoint == "expert.answer",
            )
        )
    else:
        response = make_response(
            render_template(
                "error.html",
                code=503,
                description=gettext(
                    "The study's database is busy or unreachable for a moment. What you "
                    "saved is safe: please try again in a minute."
                ),
            ),
            503,
        )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _unsaved_page(
    code: int, *, heading: str, message: str, repost: bool = False, resume: bool = False
) -> tuple[str, int]:
    """A page holding what the expert posted: each text in a box they can copy from,
    and either a form that posts it all again (``repost``: the same session, the same
    CSRF token) or one that takes their personal link and keeps it all as their draft
    (``resume``).  It reads nothing from the database, which may be down."""
    typed = _typed()
    return render_template(
        "expert/unsaved.html",
        heading=heading,
        message=message,
        typed=typed,
        shown=[(_field_label(name), value) for name, value in typed.items() if value.strip()],
        action=request.form.get("action", "submit"),
        csrf_token=request.form.get("csrf_token", ""),
        repost=repost,
        resume=resume,
        form=AnswerForm() if resume else None,
    ), code


def _field_label(name: str) -> str:
    """A readable label for a form field when the study's texts cannot be read (the
    database may be down): ``rationale.trust_now`` → "Reason: trust now",
    ``scenarios.rift`` → "scenarios: rift"."""
    if name.startswith("rationale."):
        return gettext("Reason: %(item)s", item=name.removeprefix("rationale.").replace("_", " "))
    return ": ".join(part.replace("_", " ") for part in name.split(".", 1))


def _posted_token() -> str | None:
    """The token of the personal link pasted into the resume form, if it holds one."""
    pasted = (request.form.get(RESUME_LINK_FIELD) or "").strip()
    match = PASTED_LINK.search(pasted)
    return match.group(1) if match else None


@blueprint.route("/resume", methods=["POST"])
@csrf.exempt  # checked below, so that a refusal keeps what was typed
@_LINK_LOOKUP_LIMIT
def resume() -> Any:
    """Continue after a session ended: the pasted personal link opens a new session and
    what the expert had typed is kept as their draft, to check and submit."""
    if not _csrf_token_valid():
        return _unsaved_page(
            400,
            heading=gettext("Your session has ended"),
            message=gettext(
                "This page was open too long to be sent safely. Paste your personal link "
                "again below."
            ),
            resume=True,
        )
    token = _posted_token()
    visit = g.pop("visit_found", None) or _load(hash_token(token) if token else None)
    _open_session(visit)
    typed = _typed()
    if any(value.strip() for value in typed.values()):
        try:
            save_draft(db.session, visit, typed)
        except Conflict:
            abort(409, gettext("The study has no round open yet."))
        flash(
            gettext(
                "What you typed is kept as your draft. Check it below, then submit when "
                "you are ready."
            )
        )
    return redirect(url_for("expert.answer"), 303)


@blueprint.route("/", methods=["GET", "POST"])
@csrf.exempt  # checked below after the session, so that a refusal keeps the answers
def answer() -> str | tuple[str, int] | WerkzeugResponse:
    """Show the open round; on POST save a draft, review, or submit."""
    visit = _current_visit()
    if request.method == "GET":
        return _render(visit)
    typed = _typed()
    action = request.form.get("action", "submit")
    if not _csrf_token_valid():
        message = gettext(
            "Your page was open too long to be saved safely. Your answers are still below: "
            "please save or submit them again."
        )
        return _render(visit, typed, problems=[message]), 400
    if action == "save":
        try:
            save_draft(db.session, visit, typed)
        except Conflict:
            abort(409, gettext("The study has no round open yet."))
        flash(gettext("Your draft is saved. Nothing is submitted until you choose Submit."))
        return redirect(url_for("expert.answer"))
    if action.startswith("reasons:"):
        # "Show more reasons" is a button of the answers' form, so that what was typed
        # is saved as the draft (with or without JavaScript) before the page moves on.
        try:
            save_draft(db.session, visit, typed)
        except Conflict:
            abort(409, gettext("The study has no round open yet."))
        key, _, page = action.removeprefix("reasons:").rpartition(":")
        return redirect(
            url_for("expert.answer", reasons=key, page=page, _anchor=f"reasons-{key}"), 303
        )
    if action == "review":
        return _review(visit, typed)
    return _submit(visit, typed)


def _csrf_token_valid() -> bool:
    """Whether the post carries this session's CSRF token (as ``AnswerForm`` would
    check it, without building the form: that also signs a fresh token, which a
    submission answered by a redirect never shows)."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return True
    try:
        validate_csrf(request.form.get("csrf_token") or request.headers.get("X-CSRFToken"))
    except ValidationError:
        return False
    return True


def _review(visit: Visit, typed: dict[str, str]) -> Any:
    """Save the draft, then list unanswered items before the final submission."""
    try:
        save_draft(db.session, visit, typed)
    except Conflict:
        abort(409, gettext("The study has no round open yet."))
    page = expert_page(db.session, visit)
    if page.round is None:
        return _closed(visit, typed)
    items = [item.stored.definition for item in page.items]
    try:
        parsed = parse_answers(items, typed, page.rules)
    except InvalidAnswers as error:
        return _render(visit, typed, answer_errors=error.errors), 422
    return render_template(
        "expert/review.html",
        form=AnswerForm(),
        typed=typed,
        **review_context(page, parsed, str(get_locale())),
    )


def _thank(visit: Visit, round_: Any) -> None:
    """Queue the study's thank-you, if it sends one.  The answers are committed already:
    a failure here is logged and costs nothing but the thanks."""
    try:
        message = queue_thank_you(
            db.session,
            visit.study.id,
            round_,
            visit.panelist.id,
            str(current_app.config["ELICIT_BASE_URL"] or request.host_url),
            keys=current_link_keys(),
        )
        if message is not None:
            send_messages([message.id])  # sent after the response (elicit.jobs)
    except Exception:  # the submission stands whatever happens here
        db.session.rollback()
        log.exception("could not queue the thank-you of round %s", getattr(round_, "number", "?"))


def _submit(visit: Visit, typed: dict[str, str]) -> Any:
    """Submit; on refusal show the page again with everything typed still there."""
    try:
        round_ = submit_responses(db.session, visit, typed, language=str(get_locale()))
    except InvalidAnswers as error:
        return _render(visit, typed, answer_errors=error.errors), 422
    except DeadlinePassed as passed:
        message = gettext(
            "The deadline for this round (%(deadline)s UTC) has passed, so your answers were "
            "not submitted. They are kept as a draft; please contact the study team.",
            deadline=format_datetime(passed.deadline, "medium"),
        )
        return _render(visit, typed, problems=[message]), 409
    except RoundBeingClosed:
        message = gettext(
            "The study team is closing this round right now, so your answers could not be "
            "submitted. They are kept as a draft and are still below; the study team can "
            "tell you what happens next."
        )
        return _render(visit, typed, problems=[message]), 409
    except RoundNotOpen:
        return _closed(visit, typed)
    except Conflict:
        message = gettext(
            "Your answers were being saved twice at the same moment, so this copy was not "
            "submitted. They are still below: please submit them again."
        )
        return _render(visit, typed, problems=[message]), 409
    count_submission()
    _thank(visit, round_)
    flash(
        gettext(
            "Thank you: your answers to round %(number)s are submitted. You can change them "
            "until the round closes.",
            number=round_.number,
        )
    )
    return redirect(url_for("expert.answer"))


def _closed(visit: Visit, typed: dict[str, str]) -> tuple[str, int]:
    """The round closed while the expert was answering: say so and keep their answers."""
    message = gettext(
        "This round is closed, so your answers could not be submitted. They are kept as a "
        "draft and are still below; the study team can tell you what happens next."
    )
    # The visit began while the round was open: the page shows the study as it is now.
    return _render(visit_of(db.session, visit.panelist), typed, problems=[message]), 409


@blueprint.route("/draft", methods=["POST"])
@csrf.exempt  # checked below after the session, so that the script hears why it failed
def autosave() -> WerkzeugResponse | tuple[WerkzeugResponse, int]:
    """Keep a draft sent by the page's script a few seconds after each change."""
    visit = _current_visit()
    if not _csrf_token_valid():
        message = gettext(
            "This page was open too long to be saved safely. Your answers are still on "
            "it: choose Save draft."
        )
        return jsonify(error=message), 400
    typed = _typed()
    try:
        saved_at = save_draft(db.session, visit, typed)
    except Conflict:
        return jsonify(error=gettext("The study has no round open yet.")), 409
    return jsonify(
        saved_at=saved_at.isoformat(),
        message=gettext("Draft saved at %(time)s", time=format_datetime(saved_at, "short")),
    )


def _outcome(page: ExpertPage, language: str) -> str:
    """The page of an ended study: a thank-you and, unless the facilitator turned it
    off, the final results, items at consensus first named."""
    views = outcome_views(page, language)
    return render_template(
        "expert/outcome.html",
        page=page,
        language=language,
        languages=LANGUAGE_NAMES,
        items=views,
        sections=sections(views),
        at_consensus=[view for view in views if view.consensus_state == "consensus"],
    )


def _reason_pages() -> dict[str, int]:
    """The page of an item's reasons asked for by "Show more reasons"
    (``?reasons=<item key>&page=<n>``); page 1 of every other item."""
    key = request.args.get("reasons", "")
    return {key: page_number()} if key else {}


def _render(
    visit: Visit,
    typed: dict[str, str] | None = None,
    *,
    answer_errors: list[AnswerError] | None = None,
    problems: list[str] | None = None,
) -> str:
    """Render the page: what was just typed, else the draft, else the submitted answers;
    every problem of ``answer_errors`` beside its field and in the summary."""
    language = str(get_locale())
    note_visit(db.session, visit.panelist)
    page: ExpertPage = expert_page(db.session, visit, reason_pages_shown=_reason_pages())
    if page.ended and typed is None and not problems and not answer_errors:
        return _outcome(page, language)
    values: dict[str, Any] = typed if typed is not None else (page.draft or form_values(page))
    views = item_views(page, language, values)
    errors = error_report(answer_errors or [], views)
    return render_template(
        "expert/answer.html",
        page=page,
        language=language,
        languages=LANGUAGE_NAMES,
        items=views,
        progress=progress(views, values),
        sections=sections(views),
        values=values,
        field_errors=errors.fields,
        error_summary=errors.summary,
        problems=problems or [],
        form=AnswerForm(),
    )
