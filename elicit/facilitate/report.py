"""The study report: a console page that prints cleanly to PDF, and the same report as
one self-contained HTML file to download (its stylesheet inlined, its plots ``data:``
images), which opens anywhere without the server or the internet.

Members of the study may read it, researchers included: reporting is reading.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Response, current_app, render_template
from flask_babel import format_decimal, get_locale
from flask_login import login_required
from markupsafe import Markup

from elicit.extensions import db
from elicit.facilitate.access import study_for
from elicit.facilitate.amendment_words import amendments_in_words
from elicit.facilitate.calibration_words import model_words
from elicit.facilitate.outcomes import POOL_NAMES, calibration_shown, plot_titles
from elicit.facilitate.overview import overview
from elicit.facilitate.rule_words import number
from elicit.facilitate.tracker import tracker_context
from elicit.facilitate.views import blueprint
from surveys.calibration import latest_classical_model
from surveys.models import Study
from surveys.report import StudyReport, study_report
from surveys.scores import FEW_CALIBRATION_EVENTS, MIN_CALIBRATION_EVENTS, PANEL
from surveys.tracking import scenario_tracker

#: The stylesheets the downloaded report carries inline, in order.
STYLESHEETS = ("elicit.css",)


def _number(value: float) -> str:
    """A number in the page's language, up to two decimals."""
    return str(format_decimal(round(value, 2)))


#: A number as the analysis writes it in a rule or its evidence: ``20``, ``18.23``,
#: ``1e+04`` (four significant digits), never part of a word or key.
_RULE_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.])")
_RULE_OPERATORS = {"<=": "≤", ">=": "≥"}


def written(text: str) -> str:
    """A consensus rule or its evidence as people write it: ``iqr ≤ 10,000``.

    The analysis states rules and evidence plainly, with four significant digits
    (``iqr <= 1e+04``, stored so with each round's summary); the report prints every
    number grouped, in the page's language, and the operators as signs.
    """
    text = _RULE_NUMBER.sub(lambda match: number(float(match.group(0))), text)
    for plain, sign in _RULE_OPERATORS.items():
        text = text.replace(plain, sign)
    return text


def _in_words(report: StudyReport) -> StudyReport:
    """``report`` with its rules and evidence :func:`written` as people write them."""
    methods = report.methods
    consensus = report.consensus.copy()
    if "evidence" in consensus:
        consensus["evidence"] = [
            written(text) if isinstance(text, str) else text for text in consensus["evidence"]
        ]
    return replace(
        report,
        methods=replace(
            methods,
            consensus_default=written(methods.consensus_default),
            consensus_by_kind=tuple(
                (kind, written(rule)) for kind, rule in methods.consensus_by_kind
            ),
            consensus_by_item=tuple(
                (key, written(rule)) for key, rule in methods.consensus_by_item
            ),
        ),
        rounds=[
            replace(facts, consensus_rules=tuple(written(rule) for rule in facts.consensus_rules))
            for facts in report.rounds
        ],
        consensus=consensus,
    )


def _context(study: Study) -> dict[str, Any]:
    """The report of ``study`` in the page's language and its plots."""
    # Imported here: matplotlib is needed for this page only, not to start the service.
    from elicit.facilitate.report_plots import report_plots
    from elicit.facilitate.score_plots import calibration_plot
    from elicit.facilitate.tracker_plots import tracker_plot

    language = str(get_locale())
    report = _in_words(study_report(db.session, study, language))
    tracked = scenario_tracker(db.session, study)
    protocol = report.methods.protocol
    changes = protocol.amendments if protocol else ()
    calibration = calibration_shown(report.scores.stored if report.scores else None)
    return {
        "study": study,
        "report": report,
        "plots": report_plots(report, _number),
        "overview": overview(
            (item.key, item.text, item.retired_at is not None, item.components)
            for item in report.items
        ),
        "overview_anchor": "item-",
        "pool_names": POOL_NAMES,
        "calibration": calibration,
        "calibration_plot": (
            calibration_plot(plot_titles(calibration), _number, language) if calibration else None
        ),
        "calibration_waiting": _calibration_waiting(report, calibration),
        "min_calibration_events": MIN_CALIBRATION_EVENTS,
        "few_calibration_events": FEW_CALIBRATION_EVENTS,
        "amendment_words": amendments_in_words(
            study, [(change.what, change.old, change.new) for change in changes], language
        ),
        "classical": model_words(latest_classical_model(db.session, study, language)),
        # The tracker's section, once something has been observed after the study.
        "tracker_section": (
            {
                **tracker_context(study, tracked, language),
                "plot": tracker_plot(tracked, language, _number),
            }
            if tracked.observations and tracked.timeline is not None
            else None
        ),
    }


def _calibration_waiting(report: StudyReport, shown: list[Any]) -> int | None:
    """The resolved events so far, while too few for a calibration table."""
    stored = report.scores.stored if report.scores else None
    if shown or stored is None or PANEL not in stored.calibration:
        return None
    return stored.calibration[PANEL].events


@blueprint.route("/studies/<slug>/report")
@login_required
def report(slug: str) -> str:
    """The study's report: methods, consensus, stability, pooled probabilities and
    every item's plots and tables."""
    return render_template("facilitate/report.html", standalone=False, **_context(study_for(slug)))


@blueprint.route("/studies/<slug>/report/download")
@login_required
def download_report(slug: str) -> Response:
    """The report as one HTML file that needs nothing else to open or print."""
    study = study_for(slug)
    page = render_template(
        "facilitate/report_download.html",
        standalone=True,
        stylesheet=_inline_stylesheet(),
        **_context(study),
    )
    response = Response(page, mimetype="text/html")
    response.headers["Content-Disposition"] = f'attachment; filename="{study.slug}-report.html"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _inline_stylesheet() -> Markup:
    """The app's own stylesheets as the text of a ``<style>`` element."""
    folder = Path(current_app.static_folder or "")
    css = "\n".join((folder / name).read_text(encoding="utf-8") for name in STYLESHEETS)
    # Our own files, read from the package: no "</style>" can end the element early.
    return Markup(css.replace("</", "<\\/"))  # noqa: S704
