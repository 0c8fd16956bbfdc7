"""The service's front page at ``/``: what it is, and the way in for each visitor.

Facilitators and researchers log in to the console; experts have no account and come
in through the personal link they were sent, so the page tells them to use it (it
cannot look anyone up, and asks for nothing).  It names no study and no person, and
follows the visitor's language as expert pages do (``?lang=``, kept for the visit,
then ``Accept-Language``).
"""

from __future__ import annotations

from flask import Blueprint, render_template

from elicit.i18n import LANGUAGE_NAMES, SUPPORTED_LANGUAGES, remember_requested_language

blueprint = Blueprint("landing", __name__)


@blueprint.route("/")
def index() -> str:
    """The front page, in the visitor's language."""
    remember_requested_language()
    return render_template(
        "landing.html",
        languages=[(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LANGUAGES],
    )
