"""A panelist's messages and visits, round by round (issue 14, point 5), for the
facilitator of a standard study: every message with every step of its delivery (queued,
sent, deferred, failed with the reason, bounced, cancelled), when they last opened their
page and when they submitted.  A blind study has no such page (404: its console shows
nobody's name), and researchers, who see pseudonymous data only, are refused (403)."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template
from flask_babel import gettext
from flask_login import login_required

from elicit.extensions import db
from elicit.facilitate.access import console_user, study_for
from elicit.facilitate.views import blueprint
from surveys.message_history import panelist_history
from surveys.models import Panelist, Role


@blueprint.route("/studies/<slug>/panel/<int:panelist_id>/history")
@login_required
def panelist_messages(slug: str, panelist_id: int) -> Any:
    """Everything sent to one panelist and what they did, round by round."""
    study = study_for(slug)
    if study.anonymity == "blind":
        abort(404, gettext("A blind study shows nobody's messages by name."))
    if console_user().role != Role.FACILITATOR:
        abort(403, gettext("Researchers see pseudonymous data only."))
    panelist = db.session.get(Panelist, panelist_id)
    if panelist is None or panelist.study_id != study.id:
        abort(404)
    return render_template(
        "facilitate/messages/history.html",
        study=study,
        panelist=panelist,
        rounds=panelist_history(db.session, study, panelist),
    )
