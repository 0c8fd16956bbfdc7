"""Console downloads of a study's export: CSV (a zip with reproduce.py), xlsx or JSON.

Members of the study may download it, researchers included: exporting is reading
(:func:`elicit.facilitate.access.may_export`).  A study with more rows than a
spreadsheet holds gets a page that says so and links to the CSV export, not a
workbook that would lose rows.
"""

from __future__ import annotations

from flask import abort, render_template
from flask_babel import format_decimal
from flask_login import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from elicit.downloads import export_download
from elicit.facilitate.access import console_user, may_export, study_for
from elicit.facilitate.views import blueprint
from surveys.exports import FORMATS, TooLargeForSpreadsheet


@blueprint.route("/studies/<slug>/export/<fmt>")
@login_required
def export(slug: str, fmt: str) -> WerkzeugResponse | tuple[str, int]:
    """Download the study's export in ``fmt`` (csv, xlsx or json)."""
    study = study_for(slug)
    if not may_export(console_user()):
        abort(403)
    if fmt not in FORMATS:
        abort(404)
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
