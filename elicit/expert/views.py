"""Expert pages: ``/e/<token>`` shows the open round and takes the expert's answers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as WerkzeugResponse

from elicit.expert.messages import describe_error
from elicit.expert.presenters import form_values, item_views
from elicit.extensions import csrf, db
from surveys.answers import submit_responses
from surveys.errors import AccessRevoked, Conflict, InvalidAnswers, NotFound
from surveys.expert import expert_page
from surveys.models import Panelist
from surveys.panel import panelist_for_token

blueprint = Blueprint("expert", __name__, url_prefix="/e")


class AnswerForm(FlaskForm):
    """Carries the CSRF token.  The answers themselves are judged by ``surveys.answers``,
    the single place that knows what a valid answer is."""


def _panelist(token: str) -> Panelist:
    """Load the panelist owning ``token`` or stop with a page that says why."""
    try:
        panelist = panelist_for_token(db.session, token)
    except NotFound:
        abort(
            404,
            gettext(
                "This personal link is not valid. Check that you copied all of "
                "it, or ask the study team for a new one."
            ),
        )
    except AccessRevoked:
        abort(
            403, gettext("This personal link has been withdrawn. Ask the study team for a new one.")
        )
    g.panelist_language = panelist.language
    return panelist


@blueprint.route("/<token>", methods=["GET", "POST"])
@csrf.exempt  # checked by AnswerForm after the token, so a refusal can keep the answers
def answer(token: str) -> str | tuple[str, int] | WerkzeugResponse:
    """Show the open round's items; on POST, save the expert's answers."""
    panelist = _panelist(token)
    form = AnswerForm()
    if request.method == "POST":
        typed = request.form.to_dict()
        if not form.validate_on_submit():
            message = gettext(
                "Your page was open too long to be saved safely. Your answers "
                "are still below: please submit them again."
            )
            return _render(panelist, form, typed, problems=[message]), 400
        try:
            round_ = submit_responses(db.session, panelist, typed)
        except InvalidAnswers as error:
            field_errors = {problem.field: describe_error(problem) for problem in error.errors}
            return _render(panelist, form, typed, field_errors=field_errors), 422
        except Conflict:
            message = gettext(
                "This round is closed, so your answers could not be saved. "
                "They are still below; the study team can tell you what "
                "happens next."
            )
            return _render(panelist, form, typed, problems=[message]), 409
        flash(
            gettext(
                "Thank you: your answers to round %(number)s are saved. You can change "
                "them until the round closes.",
                number=round_.number,
            )
        )
        return redirect(url_for("expert.answer", token=token, lang=request.args.get("lang")))
    return _render(panelist, form)


def _render(
    panelist: Panelist,
    form: AnswerForm,
    typed: dict[str, str] | None = None,
    *,
    field_errors: dict[str, str] | None = None,
    problems: list[str] | None = None,
) -> str:
    """Render the page, showing what the expert typed when a submission was refused."""
    language = str(get_locale())
    page = expert_page(db.session, panelist)
    values: dict[str, Any] = typed if typed is not None else form_values(page)
    return render_template(
        "expert/answer.html",
        page=page,
        language=language,
        items=item_views(page, language),
        values=values,
        field_errors=field_errors or {},
        problems=problems or [],
        form=form,
        action=url_for(
            "expert.answer", token=request.view_args["token"], lang=request.args.get("lang")
        ),
    )
