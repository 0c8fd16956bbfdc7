"""Console downloads of a study's export: CSV (a zip with reproduce.py), xlsx or JSON.

Members of the study may download it, researchers included: exporting is reading
(:func:`elicit.facilitate.access.may_export`).
"""

from __future__ import annotations

import io

from flask import abort, send_file
from flask_login import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from elicit.extensions import db
from elicit.facilitate.access import console_user, may_export, study_for
from elicit.facilitate.views import blueprint
from surveys.exports import FORMATS, export_file, export_tables


@blueprint.route("/studies/<slug>/export/<fmt>")
@login_required
def export(slug: str, fmt: str) -> WerkzeugResponse:
    """Download the study's export in ``fmt`` (csv, xlsx or json)."""
    study = study_for(slug)
    if not may_export(console_user()):
        abort(403)
    if fmt not in FORMATS:
        abort(404)
    content, media_type, name = export_file(export_tables(db.session, study), fmt)
    response = send_file(
        io.BytesIO(content), mimetype=media_type, as_attachment=True, download_name=name
    )
    response.headers["Cache-Control"] = "no-store"
    return response
