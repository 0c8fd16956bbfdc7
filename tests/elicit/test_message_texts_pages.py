"""The console's message texts (issue 14, point 3): every kind in every language, each
edited with a preview of what a sample panelist receives; bad templates refused on their
field with what was typed kept; researchers read, facilitators change."""

from __future__ import annotations

from html import unescape

import pytest

from elicit.extensions import db
from surveys.message_texts import study_template
from tests.conftest import csrf_token, log_in

SLUG = "us-mexico-intelligence"
MESSAGES = f"/console/studies/{SLUG}/messages"


@pytest.fixture
def study(make_study, make_user):
    study = make_study()
    make_user("lead@example.org", studies=[study])
    make_user("reader@example.org", "researcher", studies=[study])
    make_user("stranger@example.org")
    return study


def test_the_overview_lists_every_kind_in_every_language_and_the_study_page_links_it(client, study):
    log_in(client, "lead@example.org")
    assert MESSAGES in unescape(client.get(f"/console/studies/{SLUG}").text)
    page = unescape(client.get(MESSAGES).text)
    for kind in ("invitation", "reminder", "thank_you"):
        for language in ("en", "es"):
            assert f'data-kind="{kind}" data-language="{language}"' in page
    assert page.count("the default text") == 6
    assert "Round {{ round }} of “{{ study_title }}” is open" in page


def test_preview_shows_the_sample_panelist_s_message_without_saving(client, study):
    log_in(client, "lead@example.org")
    url = f"{MESSAGES}/invitation/es"
    page = client.get(url)
    assert page.status_code == 200
    assert "Ana Ejemplo" in unescape(page.text)  # the default's preview, at once
    body = "Hola {{ name }}: la ronda {{ round }} le espera.\n{{ link }}\n$5 = 100%\n"
    preview = client.post(
        url,
        data={
            "csrf_token": csrf_token(page.text),
            "subject": "Ronda {{ round }}",
            "body": body,
            "action": "preview",
        },
    )
    assert preview.status_code == 200
    text = unescape(preview.text)
    assert "Preview only: this text is not saved yet." in text
    assert "Hola Ana Ejemplo: la ronda 1 le espera." in text
    assert "/e/sample-link-for-the-preview-only" in text
    assert "$5 = 100%" in text
    db.session.expire_all()
    assert study_template(db.session, study, "invitation", "es").edited is False


def test_a_bad_template_is_refused_on_its_field_and_what_was_typed_is_kept(client, study):
    log_in(client, "lead@example.org")
    url = f"{MESSAGES}/reminder/en"
    page = client.get(url)
    typed = "Dear {{ name.__class__ }}, {{ secret }}"
    refused = client.post(
        url,
        data={
            "csrf_token": csrf_token(page.text),
            "subject": "Two\nlines",
            "body": typed,
            "action": "save",
        },
    )
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert "The text is not saved yet" in text
    assert 'href="#subject">Subject:' in text
    assert 'href="#body">Text: “.__class__”' in text
    assert "{{ secret }} is no placeholder" in text
    assert "must contain {{ link }}" in text
    assert typed in text  # kept in the textarea
    assert 'id="preview"' not in text
    db.session.expire_all()
    assert study_template(db.session, study, "reminder", "en").edited is False


def test_save_then_reset_to_the_default(client, study):
    log_in(client, "lead@example.org")
    url = f"{MESSAGES}/thank_you/en"
    page = client.get(url)
    saved = client.post(
        url,
        data={
            "csrf_token": csrf_token(page.text),
            "subject": "Thanks for round {{ round }}",
            "body": "Thank you, {{ name }}.\r\n",
            "action": "save",
        },
    )
    assert saved.status_code == 303
    db.session.expire_all()
    stored = study_template(db.session, study, "thank_you", "en")
    assert stored.edited and stored.text.body == "Thank you, {{ name }}.\n"
    overview = unescape(client.get(MESSAGES).text)
    assert overview.count("the default text") == 5 and "your own text, saved" in overview
    page = client.get(url)
    assert "Use the default text again" in page.text
    reset = client.post(url, data={"csrf_token": csrf_token(page.text), "action": "reset"})
    assert reset.status_code == 303
    db.session.expire_all()
    assert study_template(db.session, study, "thank_you", "en").edited is False


def test_the_signature_signs_the_defaults_and_control_characters_are_refused(client, study):
    log_in(client, "lead@example.org")
    page = client.get(MESSAGES)
    refused = client.post(
        MESSAGES,
        data={"csrf_token": csrf_token(page.text), "lead_name": "Rosa\x07", "lead_contact": ""},
    )
    assert refused.status_code == 422
    assert 'href="#lead_name"' in refused.text
    saved = client.post(
        MESSAGES,
        data={
            "csrf_token": csrf_token(page.text),
            "lead_name": "Dr. Rosa Ortiz",
            "lead_contact": "rosa.ortiz@example.org",
        },
    )
    assert saved.status_code == 303
    preview = unescape(client.get(f"{MESSAGES}/invitation/en").text)
    assert "Dr. Rosa Ortiz\nrosa.ortiz@example.org" in preview


def test_researchers_read_strangers_see_nothing_and_addresses_are_checked(client, study):
    log_in(client, "reader@example.org")
    page = client.get(f"{MESSAGES}/invitation/en")
    assert page.status_code == 200
    assert "Save the text" not in page.text
    assert (
        client.post(
            f"{MESSAGES}/invitation/en",
            data={"csrf_token": csrf_token(page.text), "subject": "x", "body": "{{ link }}"},
        ).status_code
        == 403
    )
    assert client.get(f"{MESSAGES}/letter/en").status_code == 404
    assert client.get(f"{MESSAGES}/invitation/fr").status_code == 404
    client.post("/console/logout", data={"csrf_token": csrf_token(page.text)})
    log_in(client, "stranger@example.org")
    assert client.get(MESSAGES).status_code == 404
    assert client.get(f"{MESSAGES}/invitation/en").status_code == 404


def test_a_post_without_its_csrf_token_changes_nothing(client, study):
    log_in(client, "lead@example.org")
    response = client.post(
        f"{MESSAGES}/invitation/en",
        data={"subject": "x", "body": "{{ link }}", "action": "save"},
    )
    assert response.status_code in (400, 422)
    db.session.expire_all()
    assert study_template(db.session, study, "invitation", "en").edited is False


def test_every_anonymity_field_says_a_blind_study_needs_a_mail_server(client, study):
    """Issue 14, point 7: the start page, the import form and the settings page."""
    log_in(client, "lead@example.org")
    needs = "a blind study needs a mail server (ELICIT_SMTP_URL)"
    missing = "This service has no mail server configured yet."
    new = unescape(client.get("/console/studies/new").text)
    assert new.count(needs) == 2 and new.count(missing) == 2
    settings = unescape(client.get(f"/console/studies/{SLUG}/settings").text)
    assert needs in settings and missing in settings
    config = client.application.config
    config["ELICIT_SMTP_URL"] = "smtp://mail.example.org:25"
    try:
        configured = unescape(client.get(f"/console/studies/{SLUG}/settings").text)
    finally:
        config["ELICIT_SMTP_URL"] = None
    assert needs in configured and missing not in configured
