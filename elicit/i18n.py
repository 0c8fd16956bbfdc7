"""Which language a page is shown in."""

from __future__ import annotations

from flask import g, request, session

SUPPORTED_LANGUAGES = ("en", "es")


LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def remember_requested_language() -> None:
    """Keep an explicit ``?lang=`` choice for the rest of the visit."""
    requested = request.args.get("lang")
    if requested in SUPPORTED_LANGUAGES:
        session["language"] = requested


def select_locale() -> str:
    """The language chosen with the switch (``?lang=``, kept in the session), then the
    panelist's stored language, then the browser's ``Accept-Language``."""
    requested = request.args.get("lang") or session.get("language")
    if requested in SUPPORTED_LANGUAGES:
        return requested
    panelist_language = getattr(g, "panelist_language", None)
    if panelist_language in SUPPORTED_LANGUAGES:
        return panelist_language
    return request.accept_languages.best_match(SUPPORTED_LANGUAGES) or SUPPORTED_LANGUAGES[0]
