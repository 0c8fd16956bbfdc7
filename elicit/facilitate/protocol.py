"""Console route for the pre-registered protocol: the stamped definition, as a file.

The study page shows the stamp's time and hash; this gives the exact TOML that was
hashed, so that a reader can check the hash (``sha256sum``) and diff it against the
study's definition today.
"""

from __future__ import annotations

import io

from flask import abort, send_file
from flask_babel import gettext
from flask_login import login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from elicit.extensions import db
from elicit.facilitate.access import study_for
from elicit.facilitate.views import blueprint
from surveys.protocol import protocol_stamp


@blueprint.route("/studies/<slug>/protocol.toml")
@login_required
def stamped_protocol(slug: str) -> WerkzeugResponse:
    """The study's stamped definition, byte for byte what its hash was computed over."""
    current = study_for(slug)
    stamp = protocol_stamp(db.session, current)
    if stamp is None:
        abort(404, gettext("The protocol is stamped when round 1 opens."))
    response = send_file(
        io.BytesIO(stamp.definition.encode("utf-8")),
        mimetype="application/toml",
        as_attachment=True,
        download_name=f"{current.slug}-protocol-{stamp.sha256[:12]}.toml",
    )
    response.headers["Cache-Control"] = "no-store"
    return response
