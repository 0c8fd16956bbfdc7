"""Which language a page is shown in."""

from __future__ import annotations

from flask import g, request

SUPPORTED_LANGUAGES = ("en", "es")


def select_locale() -> str:
    """An explicit ``?lang=``, then the panelist's stored language, then the browser's."""
    requested = request.args.get("lang")
    if requested in SUPPORTED_LANGUAGES:
        return requested
    panelist_language = getattr(g, "panelist_language", None)
    if panelist_language in SUPPORTED_LANGUAGES:
        return panelist_language
    return request.accept_languages.best_match(SUPPORTED_LANGUAGES) or SUPPORTED_LANGUAGES[0]
