"""The front page at ``/`` (issue 13, point 4): what the service is, the console's login
for facilitators and researchers, and for experts the personal link; in the visitor's
language, naming no study and no person."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale, gettext

from tests.conftest import log_in

WHAT = (
    "This service runs Delphi studies: a panel of experts answers the same questions in "
    "anonymous rounds, sees where the panel stood after each round, and may revise their "
    "answers until the panel agrees or its answers settle."
)
EXPERTS = (
    "Use the personal link you were sent; it opens your questionnaire. You need no account "
    "and no password, and other panelists never see who you are."
)


def in_language(app, language: str, message: str) -> str:
    """``message`` as the page shows it in ``language`` (the catalogue's, else English)."""
    with app.test_request_context(), force_locale(language):
        return gettext(message)


def escaped(text: str) -> str:
    """``text`` as Jinja writes it into HTML."""
    return text.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&#34;")


@pytest.fixture
def running(make_study, make_panel, make_user):
    """A study with a panel and a facilitator, so that the page has something to leak."""
    study = make_study()
    make_panel(study, 2)
    make_user("lead@example.org", studies=[study])
    return study


def test_the_front_page_says_what_the_service_is_and_the_way_in(client, running):
    page = client.get("/", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "<h1>Delphi studies and expert elicitation</h1>" in page.text
    assert WHAT in page.text
    assert escaped(EXPERTS) in page.text
    assert '<a class="button primary" href="/console/login">Log in to the console</a>' in page.text
    # Nothing of any study or person.
    for private in (running.slug, "U.S.–Mexico", "lead@example.org", "example.org", "/e/"):
        assert private not in page.text
    assert "Set-Cookie" not in page.headers  # no language chosen: nothing to remember


def test_the_front_page_follows_the_browser_language(app, client, running):
    page = client.get("/", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    assert '<html lang="es">' in page.text
    for message in ("Delphi studies and expert elicitation", WHAT, EXPERTS):
        assert escaped(in_language(app, "es", message)) in page.text
    assert re.search(
        r'<a href="/\?lang=es" lang="es" hreflang="es" aria-current="true">', page.text
    )


def test_the_language_switch_wins_and_is_kept_for_the_visit(app, client, running):
    chosen = client.get("/?lang=es", headers={"Accept-Language": "en"})
    assert '<html lang="es">' in chosen.text
    again = client.get("/", headers={"Accept-Language": "en"})
    assert '<html lang="es">' in again.text
    assert escaped(in_language(app, "es", EXPERTS)) in again.text
    back = client.get("/?lang=en", headers={"Accept-Language": "es"})
    assert '<html lang="en">' in back.text
    assert re.search(
        r'<a href="/\?lang=en" lang="en" hreflang="en" aria-current="true">', back.text
    )
    assert client.get("/?lang=xx", headers={"Accept-Language": "en"}).status_code == 200


def test_a_logged_in_console_user_is_offered_their_studies(client, running):
    log_in(client, "lead@example.org")
    page = client.get("/").text
    assert '<a class="button primary" href="/console/">Your studies</a>' in page
    assert "lead@example.org" not in page


def test_health_checks_and_unknown_addresses_are_unchanged(client):
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.is_json and ready.json["status"] in {"ready", "degraded", "unavailable"}
    assert client.get("/no-such-page").status_code == 404
    assert client.post("/").status_code == 405
