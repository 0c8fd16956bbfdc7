"""Expert pages.

``/e/<token>`` is the personal link: the first visit exchanges the token for a session
cookie and redirects to ``/e/``, so the token leaves the address bar, the history and
any referrer.  ``/e/`` shows the open round; it posts back to itself to save a draft,
review, or submit; ``/e/draft`` takes the page's autosaves.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_datetime, get_locale, gettext
from flask_wtf import FlaskForm
from flask_wtf.csrf import validate_csrf
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms.validators import ValidationError

from elicit.expert.messages import describe_error
from elicit.expert.presenters import (
    form_values,
    item_views,
    progress,
    review_lists,
    sections,
)
from elicit.extensions import csrf, db, limiter
from elicit.i18n import LANGUAGE_NAMES, remember_requested_language
from surveys.answers import DeadlinePassed, RoundNotOpen, parse_answers, submit_responses
from surveys.drafts import save_draft
from surveys.errors import AccessRevoked, Conflict, InvalidAnswers, NotFound
from surveys.expert import ExpertPage, expert_page
from surveys.panel import hash_token, note_visit
from surveys.visit import Visit, visit_for_token_hash, visit_of

blueprint = Blueprint("expert", __name__, url_prefix="/e")
SESSION_KEY = "panelist"


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


@blueprint.route("/<token>")
@limiter.limit(lambda: current_app.config["ELICIT_LINK_LOOKUP_LIMIT"], deduct_when=_lookup_failed)
def enter(token: str) -> WerkzeugResponse:
    """Exchange a personal link's token for a session cookie, then drop the token."""
    panelist = _load(hash_token(token)).panelist
    session.clear()
    remember_requested_language()  # the switch outlives the exchange
    session.permanent = True
    session[SESSION_KEY] = panelist.token_hash
    language = request.args.get("lang")
    return redirect(url_for("expert.answer", lang=language))


def _load(token_hash: str | None) -> Visit:
    """The visit of a token hash's panelist, or a page that says why there is none."""
    if not token_hash:
        abort(401, gettext("Open your personal link again to continue."))
    try:
        visit = visit_for_token_hash(db.session, token_hash)
    except NotFound:
        abort(
            404,
            gettext(
                "This personal link is not valid. Check that you copied all of it, or ask "
                "the study team for a new one."
            ),
        )
    except AccessRevoked:
        abort(
            403, gettext("This personal link has been withdrawn. Ask the study team for a new one.")
        )
    g.panelist_language = visit.panelist.language
    return visit


def _current_visit() -> Visit:
    """The visit of the panelist whose link opened this session."""
    return _load(session.get(SESSION_KEY))


@blueprint.route("/", methods=["GET", "POST"])
@csrf.exempt  # checked below after the session, so that a refusal keeps the answers
def answer() -> str | tuple[str, int] | WerkzeugResponse:
    """Show the open round; on POST save a draft, review, or submit."""
    visit = _current_visit()
    if request.method == "GET":
        return _render(visit)
    typed = {name: value for name, value in request.form.items() if name != "csrf_token"}
    action = typed.pop("action", "submit")
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
        validate_csrf(request.form.get("csrf_token"))
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
        return _render(visit, typed, field_errors=_messages(error)), 422
    language = str(get_locale())
    unanswered, unexplained = review_lists(page, parsed, language)
    return render_template(
        "expert/review.html",
        page=page,
        language=language,
        languages=LANGUAGE_NAMES,
        form=AnswerForm(),
        typed=typed,
        unanswered=unanswered,
        unexplained=unexplained,
        answered=len(page.items) - len(unanswered),
    )


def _submit(visit: Visit, typed: dict[str, str]) -> Any:
    """Submit; on refusal show the page again with everything typed still there."""
    try:
        round_ = submit_responses(db.session, visit, typed)
    except InvalidAnswers as error:
        return _render(visit, typed, field_errors=_messages(error)), 422
    except DeadlinePassed as passed:
        message = gettext(
            "The deadline for this round (%(deadline)s UTC) has passed, so your answers were "
            "not submitted. They are kept as a draft; please contact the study team.",
            deadline=format_datetime(passed.deadline, "medium"),
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
def autosave() -> WerkzeugResponse | tuple[WerkzeugResponse, int]:
    """Keep a draft sent by the page's script a few seconds after each change."""
    visit = _current_visit()
    typed = {name: value for name, value in request.form.items() if name != "csrf_token"}
    typed.pop("action", None)
    try:
        saved_at = save_draft(db.session, visit, typed)
    except Conflict:
        return jsonify(error=gettext("The study has no round open yet.")), 409
    return jsonify(
        saved_at=saved_at.isoformat(),
        message=gettext("Draft saved at %(time)s", time=format_datetime(saved_at, "short")),
    )


def _messages(error: InvalidAnswers) -> dict[str, str]:
    """Each problem worded for the expert, by field."""
    return {problem.field: describe_error(problem) for problem in error.errors}


def _render(
    visit: Visit,
    typed: dict[str, str] | None = None,
    *,
    field_errors: dict[str, str] | None = None,
    problems: list[str] | None = None,
) -> str:
    """Render the page: what was just typed, else the draft, else the submitted answers."""
    language = str(get_locale())
    note_visit(db.session, visit.panelist)
    page: ExpertPage = expert_page(db.session, visit)
    values: dict[str, Any] = typed if typed is not None else (page.draft or form_values(page))
    views = item_views(page, language, values)
    return render_template(
        "expert/answer.html",
        page=page,
        language=language,
        languages=LANGUAGE_NAMES,
        items=views,
        progress=progress(views, values),
        sections=sections(views),
        values=values,
        field_errors=field_errors or {},
        problems=problems or [],
        form=AnswerForm(),
    )
