"""Pages that show a one-time secret or answers are never stored by a browser or a proxy
(issue 11, point 7): every dynamic response says ``Cache-Control: no-store`` unless it
is explicitly public; static files keep their own caching."""

from __future__ import annotations

import re

import pytest

from elicit.extensions import db
from surveys.api_tokens import create_token
from surveys.rounds import open_round
from tests.conftest import csrf_token, enter, log_in

SLUG = "us-mexico-intelligence"


@pytest.fixture
def study(make_study, make_user):
    """The demo study, round 1 open, with a facilitator member logged in later."""
    created = make_study()
    make_user("lead@example.org", studies=[created])
    open_round(db.session, created)
    return created


def assert_not_stored(response) -> None:
    assert response.headers.get("Cache-Control") == "no-store", (
        response.request.path,
        response.status_code,
        response.headers.get("Cache-Control"),
    )


def test_expert_pages_are_not_stored(client, study, make_panel):
    (link,) = make_panel(study, 1)
    assert_not_stored(enter(client, link.token))  # the link's redirect
    page = client.get("/e/")
    assert page.status_code == 200
    assert_not_stored(page)
    saved = client.post("/e/draft", data={"csrf_token": csrf_token(page.text), "trust_now": "3"})
    assert saved.status_code == 200
    assert_not_stored(saved)
    assert_not_stored(client.get("/e/an-unknown-link-of-some-length"))  # an error page


def test_the_page_with_new_links_is_not_stored(client, study):
    log_in(client, "lead@example.org")
    panel = client.get(f"/console/studies/{SLUG}/panel")
    assert_not_stored(panel)
    added = client.post(
        f"/console/studies/{SLUG}/panel/add",
        data={
            "csrf_token": csrf_token(panel.text),
            "name": "Ana Example",
            "email": "ana@example.org",
            "group": "a",
            "language": "en",
        },
    )
    assert added.status_code == 200 and re.search(r"/e/[A-Za-z0-9_-]{20,}", added.text)
    assert_not_stored(added)


def test_the_page_with_a_new_api_token_is_not_stored(client, study):
    log_in(client, "lead@example.org")
    page = client.get("/console/tokens")
    created = client.post(
        "/console/tokens",
        data={"csrf_token": csrf_token(page.text), "name": "notebook", "scope": "read"},
    )
    assert created.status_code == 200 and "elicit_" in created.text
    assert_not_stored(created)


def test_exports_and_api_answers_are_not_stored(client, study, make_user):
    log_in(client, "lead@example.org")
    export = client.get(f"/console/studies/{SLUG}/export/csv")
    assert export.status_code == 200
    assert_not_stored(export)
    user = make_user("researcher@example.org", "researcher", studies=[study])
    headers = {"Authorization": f"Bearer {create_token(db.session, user, 't').secret}"}
    for path in ("/me", f"/studies/{SLUG}", f"/studies/{SLUG}/export/json", "/nowhere"):
        answer = client.get("/api/v1" + path, headers=headers)
        assert answer.status_code in (200, 404)
        assert_not_stored(answer)


def test_only_public_documents_and_static_files_may_be_cached(client):
    document = client.get("/api/v1/openapi.json")
    assert document.headers["Cache-Control"] == "public, max-age=300"
    with client.get("/static/elicit.css") as stylesheet:
        assert stylesheet.status_code == 200
        assert "no-store" not in stylesheet.headers.get("Cache-Control", "")
    assert_not_stored(client.get("/console/login"))
