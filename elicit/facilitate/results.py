"""Console pages for results: each item's distribution in each round and the
convergence of its median and IQR, with consensus and stability; the deadline; the
reasons given in each closed round, which a facilitator may pin for the next round's
feedback."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, get_locale, gettext
from flask_login import login_required
from markupsafe import Markup

from elicit.expert.charts import ChartLabels, distribution_svg
from elicit.extensions import db
from elicit.facilitate.access import console_user, may_export, study_for
from elicit.facilitate.calibration_words import model_words
from elicit.facilitate.charts import convergence_svg
from elicit.facilitate.forms import ConfirmForm, OpenRoundForm
from elicit.facilitate.overview import overview
from elicit.facilitate.views import blueprint
from elicit.paging import page_number
from surveys.calibration import latest_classical_model
from surveys.cross_impact import impact_tables
from surveys.definition import CONFIDENCE_RANGE
from surveys.errors import Conflict, NotFound
from surveys.feedback import (
    REASONS_PER_PAGE,
    ConsoleReasonPage,
    console_reasons,
    pin_reason,
    round_feedback,
)
from surveys.models import FeedbackReason, Role, Round, RoundStatus
from surveys.results import ItemResults, RoundResult, study_results
from surveys.rounds import NotTheOpenRound, extend_deadline
from surveys.signposts import signpost_matrix
from surveys.studies import study_definition


def _number(value: float) -> str:
    """A statistic in the page's language."""
    return str(format_decimal(round(value, 2)))


@blueprint.route("/studies/<slug>/results")
@login_required
def results(slug: str) -> str:
    """Every item, round by round: distribution, median, IQR, consensus, stability."""
    study = study_for(slug)
    language = str(get_locale())
    definition = study_definition(study)
    bounds = {item.key: item.bounds for item in definition.items}
    results = study_results(db.session, study, language)
    items = [(entry, _charts(entry, bounds.get(entry.key))) for entry in results]
    return render_template(
        "facilitate/results.html",
        study=study,
        items=items,
        overview=overview(
            (entry.key, entry.text, entry.retired, entry.components) for entry in results
        ),
        overview_anchor="result-",
        can_export=may_export(console_user()),
        classical=model_words(latest_classical_model(db.session, study, language)),
        signposts=signpost_matrix(db.session, study, language),
        impacts={table.key: table for table in impact_tables(db.session, study, language)},
        seed_answers={
            item.key: item.seed_answer for item in definition.items if item.kind == "seed"
        },
    )


def component_scales(
    entry: ItemResults, bounds: tuple[float, float] | None
) -> dict[str, tuple[float, float]]:
    """The axis of each component of ``entry``, each on its own scale.

    A numeric estimate's confidence is a percentage from 50 to 100, whatever the
    estimate's unit: drawn on the estimate's axis (0 to 200,000, say) every bar sat at 0.
    Its lowest, best and highest values share one axis, the span of all their answers,
    so that the three can be compared at a glance; an estimate's bounds, when given, are
    usually far wider than the answers.  Other kinds keep the item's own range (a
    likert's scale, 0–100 %, ranking places), or the answers' span without one.
    """
    if entry.kind == "numeric_estimate":
        parts = [c for c in entry.components if c != "confidence"]
        common = _observed_range([r for c in parts for r in entry.components[c]])
        return {
            component: (
                (float(CONFIDENCE_RANGE[0]), float(CONFIDENCE_RANGE[1]))
                if component == "confidence"
                else common
            )
            for component in entry.components
        }
    return {
        component: bounds or _observed_range(history)
        for component, history in entry.components.items()
    }


def _charts(entry: ItemResults, bounds: tuple[float, float] | None) -> dict[str, Any]:
    """Per component: one distribution chart per round and the convergence chart."""
    charts: dict[str, Any] = {}
    scales = component_scales(entry, bounds)
    for component, history in entry.components.items():
        low, high = scales[component]
        charts[component] = {
            "rounds": [_distribution(entry, component, result, low, high) for result in history],
            "convergence": convergence_svg(
                [
                    (
                        r.round,
                        r.statistics.get("median"),
                        r.statistics.get("q1"),
                        r.statistics.get("q3"),
                    )
                    for r in history
                ],
                minimum=low,
                maximum=high,
                title=gettext("Median and interquartile range by round"),
                description=" ".join(
                    gettext(
                        "Round %(number)s: median %(median)s, IQR %(q1)s to %(q3)s.",
                        number=r.round,
                        median=_number(r.statistics["median"]),
                        q1=_number(r.statistics["q1"]),
                        q3=_number(r.statistics["q3"]),
                    )
                    for r in history
                    if r.statistics.get("median") is not None
                ),
                round_label=lambda number: gettext("R%(number)s", number=number),
                element_id=f"convergence-{entry.key}-{component or 'value'}",
                format_number=_number,
            ),
        }
    return charts


def _observed_range(history: list[RoundResult]) -> tuple[float, float]:
    """The span of every answer over the rounds (for kinds without fixed bounds)."""
    values = [value for result in history for value in result.values] or [0.0, 1.0]
    low, high = min(values), max(values)
    padding = (high - low) * 0.05 or 1.0
    return low - padding, high + padding


def _distribution(
    entry: ItemResults, component: str, result: RoundResult, low: float, high: float
) -> Markup:
    """One round's distribution of one component."""
    statistics = result.statistics
    return distribution_svg(
        result.values,
        minimum=low,
        maximum=high,
        discrete=entry.kind in ("likert", "ranking"),
        median=statistics.get("median"),
        q1=statistics.get("q1"),
        q3=statistics.get("q3"),
        own=None,
        labels=ChartLabels(
            title=gettext("Round %(number)s", number=result.round),
            description=gettext(
                "%(n)s answers in round %(number)s.",
                n=statistics.get("n") or 0,
                number=result.round,
            ),
            median=gettext("median"),
            iqr=gettext("middle half"),
            own="",
        ),
        format_number=_number,
        element_id=f"distribution-{entry.key}-{component or 'value'}-{result.round}",
        weights=result.counts,
    )


@blueprint.route("/studies/<slug>/rounds/deadline", methods=["POST"])
@login_required
def move_deadline(slug: str) -> Any:
    """Extend the open round's deadline."""
    study = study_for(slug, change=True)
    form = OpenRoundForm()
    if not form.validate_on_submit() or form.deadline.data is None:
        if form.deadline.errors:  # a date out of range or malformed: say which field
            abort(422, f"{form.deadline.label.text}: {' '.join(form.deadline.errors)}")
        abort(400, gettext("Give the new deadline as a date and time."))
    # The round the study page showed: a page kept while that round closed and the next
    # opened must not give the new round a deadline it cannot take back.
    number = request.form.get("round", type=int)
    if number is None:
        abort(400)
    try:
        round_ = extend_deadline(
            db.session,
            study,
            form.deadline.data.replace(tzinfo=UTC),
            actor=console_user(),
            number=number,
        )
    except NotTheOpenRound as stale:
        flash(
            gettext(
                "The deadline was not changed: round %(asked)s was closed meanwhile, and "
                "round %(open)s is open now.",
                asked=stale.asked,
                open=stale.open_number,
            ),
            "warning",
        )
        return redirect(url_for("facilitate.study", slug=slug)), 303
    except Conflict as error:
        flash(
            gettext("The deadline could not be changed: %(reason)s", reason=str(error)),
            "warning",
        )
        return redirect(url_for("facilitate.study", slug=slug)), 303
    flash(
        gettext(
            "Round %(number)s now closes on %(date)s UTC.",
            number=round_.number,
            date=round_.deadline.strftime("%Y-%m-%d %H:%M") if round_.deadline else "",
        )
    )
    return redirect(url_for("facilitate.study", slug=slug)), 303


#: Reasons listed per page of the console's reasons page.
CONSOLE_REASONS_PER_PAGE = 50


@blueprint.route("/studies/<slug>/rounds/<int:number>/reasons")
@login_required
def round_reasons(slug: str, number: int) -> str:
    """The reasons the panel gave in closed round ``number``, item by item, a page at a
    time, pinned ones first; a facilitator pins those every expert should read first."""
    study = study_for(slug)
    round_ = next(
        (r for r in study.rounds if r.number == number and r.status == RoundStatus.CLOSED), None
    )
    if round_ is None:
        abort(404, gettext("Round %(number)s has not closed.", number=number))
    records = round_feedback(db.session, round_)
    definition = study_definition(study)
    texts = {
        item.key: item.text.get(str(get_locale()), definition.default_language)
        for item in definition.items
    }
    items = [
        (key, texts.get(key, key), sum(record.get("reasons", [])))
        for key, record in records.items()
        if sum(record.get("reasons", []))
    ]
    key = request.args.get("item") or (items[0][0] if items else "")
    listed = (
        console_reasons(
            db.session, round_, key, page=page_number(), per_page=CONSOLE_REASONS_PER_PAGE
        )
        if key in records
        else ConsoleReasonPage([], 0, 1, 1)
    )
    return render_template(
        "facilitate/reasons.html",
        study=study,
        number=number,
        items=items,
        item_key=key,
        item_text=texts.get(key, key),
        reasons=listed.reasons,
        total=listed.total,
        page=listed.page,
        pages=listed.pages,
        page_size=CONSOLE_REASONS_PER_PAGE,
        per_page=REASONS_PER_PAGE,
        can_pin=console_user().role == Role.FACILITATOR,
        form=ConfirmForm(),
    )


@blueprint.route("/studies/<slug>/reasons/<int:reason_id>/pin", methods=["POST"])
@login_required
def pin(slug: str, reason_id: int) -> Any:
    """Pin a reason (``pin=1``) or unpin it (``pin=0``): pinned reasons come first in
    the feedback every expert reads.  Facilitators only; audited."""
    study = study_for(slug, change=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    pinned = request.form.get("pin") == "1"
    try:
        reason = pin_reason(db.session, study, reason_id, pinned=pinned, actor=console_user())
    except NotFound:
        abort(404)
    except Conflict as error:
        flash(gettext("The reason could not be pinned: %(reason)s", reason=str(error)))
        reason = db.session.get(FeedbackReason, reason_id)
        assert reason is not None
    else:
        flash(gettext("Pinned: every expert reads it first.") if pinned else gettext("Unpinned."))
    number = db.session.execute(
        db.select(Round.number).where(Round.id == reason.round_id)
    ).scalar_one()
    return redirect(
        url_for(
            "facilitate.round_reasons",
            slug=slug,
            number=number,
            item=reason.item_key,
            page=page_number(values=request.form),
            _anchor=f"reason-{reason.id}",
        ),
        303,
    )
