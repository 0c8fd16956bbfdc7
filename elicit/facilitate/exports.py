"""Console downloads of a study's export: CSV (a zip with reproduce.py), xlsx or JSON.

Members of the study may download it, researchers included: exporting is reading
(:func:`elicit.facilitate.access.may_export`).  A study with more rows than a
spreadsheet holds gets a page that says so and links to the CSV export, not a
workbook that would lose rows.

A study whose export would take too long to write while the browser waits
(:func:`surveys.prepared_exports.needs_preparing`) gets the page of prepared exports
instead of the file: one button prepares it in the background (a job,
:func:`elicit.jobs.prepare_export`), the page follows its progress and then offers the
file, which any member who may export can download for a week.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, gettext
from flask_login import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from elicit.downloads import export_download, prepared_download
from elicit.extensions import db
from elicit.facilitate.access import console_user, may_export, study_for
from elicit.facilitate.forms import ConfirmForm
from elicit.facilitate.views import blueprint
from elicit.jobs import prepare_export
from surveys.exports import FORMATS, TooLargeForSpreadsheet
from surveys.models import PreparedStatus, Study
from surveys.prepared_exports import (
    KEPT_FOR,
    closed_rounds,
    is_dated,
    lost_jobs,
    needs_preparing,
    request_export,
    requester_emails,
    response_count,
    study_export,
    study_exports,
)

#: How often the page asks after exports queued or being written (static/follow.js).
FOLLOW_SECONDS = 10
#: Each format's name on the page.
FORMAT_NAMES = {"csv": "CSV", "xlsx": "Excel", "json": "JSON"}


@blueprint.route("/studies/<slug>/export/<fmt>")
@login_required
def export(slug: str, fmt: str) -> WerkzeugResponse | tuple[str, int]:
    """Download the study's export in ``fmt`` (csv, xlsx or json), or, for a study too
    large to write it now, the page that prepares it."""
    study = _exporting(slug)
    if fmt not in FORMATS:
        abort(404)
    responses = response_count(db.session, study)
    if needs_preparing(responses, fmt, current_app.config["ELICIT_EXPORT_INLINE_LIMIT"]):
        return redirect(url_for("facilitate.exports", slug=slug, large=fmt), 303)
    try:
        return export_download(study, fmt)
    except TooLargeForSpreadsheet as refused:
        page = render_template(
            "facilitate/export_refused.html",
            study=study,
            sheet=refused.sheet,
            rows=format_decimal(refused.rows),
            limit=format_decimal(refused.limit),
        )
        return page, 409


@blueprint.route("/studies/<slug>/exports")
@login_required
def exports(slug: str) -> str:
    """The study's prepared exports: their progress, their files, and the buttons that
    prepare one (``?large=FMT``: the format whose download led here, explained)."""
    study = _exporting(slug)
    for lost in lost_jobs(db.session, study):  # a queued export's job was lost: another
        prepare_export(current_app._get_current_object(), lost)  # type: ignore[attr-defined]
    listed = study_exports(db.session, study)
    large = request.args.get("large")
    rounds = closed_rounds(db.session, study)
    return render_template(
        "facilitate/exports.html",
        study=study,
        exports=listed,
        requesters=requester_emails(db.session, listed),
        dated={export.id for export in listed if is_dated(export, rounds)},
        in_progress=any(
            export.status in (PreparedStatus.QUEUED, PreparedStatus.RUNNING) for export in listed
        ),
        # What static/follow.js compares: the page is loaded again once it changes.
        follow_seconds=FOLLOW_SECONDS,
        follow_state=" ".join(f"{export.id}:{export.status.value}" for export in listed),
        large=large if large in FORMATS else None,
        responses=format_decimal(response_count(db.session, study)) if large in FORMATS else None,
        formats=FORMAT_NAMES,
        kept_days=KEPT_FOR.days,
        form=ConfirmForm(),
    )


@blueprint.route("/studies/<slug>/exports", methods=["POST"])
@login_required
def prepare(slug: str) -> WerkzeugResponse:
    """Prepare the study's export in the posted ``format`` in the background."""
    study = _exporting(slug)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    fmt = request.form.get("format", "")
    if fmt not in FORMATS:
        abort(400)
    requested = request_export(db.session, study, fmt, console_user())
    if requested.submit:
        prepare_export(current_app._get_current_object(), requested.export.id)  # type: ignore[attr-defined]
        flash(
            gettext(
                "The %(format)s export is being prepared. This page shows when it is ready.",
                format=FORMAT_NAMES[fmt],
            )
        )
    else:
        flash(
            gettext("The %(format)s export was already being prepared.", format=FORMAT_NAMES[fmt])
        )
    return redirect(url_for("facilitate.exports", slug=slug), 303)


@blueprint.route("/studies/<slug>/exports/<int:export_id>/file")
@login_required
def prepared_file(slug: str, export_id: int) -> WerkzeugResponse:
    """The file of a ready prepared export of the study."""
    study = _exporting(slug)
    export = study_export(db.session, study, export_id)
    if export is None or export.status != PreparedStatus.READY:
        abort(404)
    return prepared_download(export)


def _exporting(slug: str) -> Study:
    """Study ``slug`` if the console user is a member who may export it (else 404/403)."""
    study = study_for(slug)
    if not may_export(console_user()):
        abort(403)
    return study
