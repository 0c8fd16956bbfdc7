"""Preview as an expert: the real expert page of a study, in either language, for
round 1 and for a later round with simulated feedback; nothing is ever saved.

The page is drawn by the expert's own templates (``expert/answer.html`` and its
includes, ``expert/review.html``) from the same presenters, so the preview cannot drift
from what experts see.  Those templates link and post to the expert's endpoints; here
``url_for`` is given to them as :func:`_preview_url_for`, which sends every ``expert.*``
address to this preview instead (the form re-renders, the autosave answers that
nothing was saved), so no form of a preview reaches a real one.  Every preview page
says, above everything else, that nothing done on it is saved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, jsonify, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as WerkzeugResponse

from elicit.expert.messages import error_report
from elicit.expert.presenters import form_values, item_views, progress, review_context, sections
from elicit.facilitate.access import study_for
from elicit.facilitate.views import blueprint
from elicit.i18n import LANGUAGE_NAMES, SUPPORTED_LANGUAGES
from surveys.answers import parse_answers
from surveys.errors import AnswerError, InvalidAnswers
from surveys.expert import ExpertPage
from surveys.models import Study
from surveys.preview import PANEL_SIZE, preview_page
from surveys.studies import study_definition
from surveys.text import clean_typed_form


class PreviewForm(FlaskForm):
    """Carries the CSRF token of the preview's form (which posts only to the preview)."""


def _preview_url_for(slug: str, number: int) -> Callable[..., str]:
    """``url_for`` for the expert templates inside a preview: every expert address
    becomes this preview's (the autosave its own endpoint), keeping the language and
    the anchor; every other address is left as it is.

    An address with an anchor (the review's links back to a field) also says
    ``from=review``: the review was posted to the preview's own address, and a link
    that differed from it only by its anchor would scroll the review instead of
    opening the page."""

    def preview_url_for(endpoint: str, **values: Any) -> str:
        if not endpoint.startswith("expert."):
            return url_for(endpoint, **values)
        anchor = values.pop("_anchor", None)
        if endpoint == "expert.autosave":
            return url_for("facilitate.preview_autosave", slug=slug, number=number)
        language = values.pop("lang", None) or str(get_locale())
        extra = {"from": "review"} if anchor else {}
        return url_for(
            "facilitate.preview", slug=slug, number=number, lang=language, _anchor=anchor, **extra
        )

    return preview_url_for


def _page(study: Study, number: int) -> ExpertPage:
    """The previewed page of round ``number``; 404 beyond the study's last round."""
    if not 1 <= number <= study.max_rounds:
        abort(404)
    return preview_page(study_definition(study), number, language=str(get_locale()))


def _context(study: Study, number: int, page: ExpertPage) -> dict[str, Any]:
    """What every preview template needs besides the expert page's own variables."""
    return {
        "study": study,
        "preview_number": number,
        "preview_rounds": sorted({1, min(study.max_rounds, 2), number}),
        "panel_size": max(PANEL_SIZE, page.definition.feedback_min_n),
        "url_for": _preview_url_for(study.slug, number),
    }


def _render(
    study: Study,
    number: int,
    page: ExpertPage,
    values: dict[str, str],
    *,
    answer_errors: list[AnswerError] | None = None,
    notice: str | None = None,
) -> str:
    """The expert's answer page in a preview, with ``values`` in its inputs and every
    problem of ``answer_errors`` worded as the expert's page words it."""
    language = str(get_locale())
    views = item_views(page, language, values)
    errors = error_report(answer_errors or [], views)
    return render_template(
        "facilitate/preview/page.html",
        expert_template="expert/answer.html",
        page=page,
        language=language,
        languages=LANGUAGE_NAMES,
        items=views,
        progress=progress(views, values),
        sections=sections(views),
        values=values,
        field_errors=errors.fields,
        error_summary=errors.summary,
        problems=[],
        form=PreviewForm(),
        notice=notice,
        **_context(study, number, page),
    )


@blueprint.route("/studies/<slug>/preview/<int:number>", methods=["GET", "POST"])
@login_required
def preview(slug: str, number: int) -> Any:
    """Show round ``number`` of the study as an expert sees it; a post (save, review,
    submit) checks what was typed as the real page would, and saves nothing."""
    study = study_for(slug)
    page = _page(study, number)
    if request.method == "GET":
        return _render(study, number, page, form_values(page))
    typed = clean_typed_form(
        {
            name: value
            for name, value in request.form.items()
            if name not in ("csrf_token", "action")
        }
    )
    action = request.form.get("action", "submit")
    if action == "save":
        notice = gettext("On the real page this saves a draft. In this preview nothing was saved.")
        return _render(study, number, page, typed, notice=notice)
    items = [item.stored.definition for item in page.items]
    try:
        parsed = parse_answers(items, typed, page.rules)
    except InvalidAnswers as error:
        return _render(study, number, page, typed, answer_errors=error.errors)
    if action == "review":
        return render_template(
            "facilitate/preview/page.html",
            expert_template="expert/review.html",
            form=PreviewForm(),
            typed=typed,
            **review_context(page, parsed, str(get_locale())),
            **_context(study, number, page),
        )
    notice = gettext(
        "On the real page these answers would now be submitted. In this preview nothing was "
        "saved or submitted."
    )
    return _render(study, number, page, typed, notice=notice)


@blueprint.route("/studies/<slug>/preview/<int:number>/autosave", methods=["POST"])
@login_required
def preview_autosave(slug: str, number: int) -> WerkzeugResponse:
    """The preview page's autosave: it answers as the real one does, and saves nothing."""
    study = study_for(slug)
    if not 1 <= number <= study.max_rounds:
        abort(404)
    return jsonify(message=gettext("Preview: nothing is saved."))


@blueprint.context_processor
def preview_languages() -> dict[str, Any]:
    """The languages a preview can be shown in, for the links to it on console pages
    (the study page, the builder)."""
    return {"preview_languages": SUPPORTED_LANGUAGES, "preview_language_names": LANGUAGE_NAMES}
