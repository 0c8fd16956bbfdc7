"""Control characters (NUL first: PostgreSQL cannot store or even compare it) in any
console field, path or query get a 4xx with a message, the same on both databases,
and nothing typed elsewhere in the form is lost.  (Experts' answers are cleaned instead
of refused: tests/elicit/test_expert_keeps_what_was_typed.py.)"""

from __future__ import annotations

import io

import pytest

from elicit.extensions import db
from surveys.api_tokens import create_token
from surveys.models import Panelist
from surveys.rounds import close_round, open_round
from tests.conftest import csrf_token, log_in

SLUG = "us-mexico-intelligence"
ONE_LINE = "This field must be one line, without control characters."


@pytest.fixture
def lead(client, make_study, make_user):
    study = make_study()
    user = make_user("lead@example.org", studies=[study])
    return {"study": study, "user": user}


def _post(client, page: str, url: str, data: dict) -> object:
    return client.post(url, data={"csrf_token": csrf_token(client.get(page).text), **data})


@pytest.mark.parametrize("text", ["a\x00b@x.org", "a\x07b@x.org", "a@x.org\r\nBcc: c@x.org"])
def test_the_login_refuses_control_characters_with_a_message(client, lead, text):
    refused = _post(
        client, "/console/login", "/console/login", {"email": text, "password": "whatever\x00"}
    )
    assert refused.status_code == 422
    assert ONE_LINE in refused.text


@pytest.mark.parametrize(
    ("url", "data", "kept"),
    [
        (
            f"/console/studies/{SLUG}/panel/add",
            {"name": "Ana Ruiz", "email": "ana\x00@x.org", "group": "a", "language": "en"},
            'value="Ana Ruiz"',
        ),
        (
            f"/console/studies/{SLUG}/panel/add",
            {"name": "Ana\x00Ruiz", "email": "ana@x.org", "group": "a", "language": "en"},
            'value="ana@x.org"',
        ),
        ("/console/tokens", {"name": "note\x00book", "scope": "read"}, "note"),
    ],
)
def test_console_forms_refuse_control_characters_and_keep_the_rest(client, lead, url, data, kept):
    log_in(client, "lead@example.org")
    refused = _post(client, url.rsplit("/", 1)[0] if "panel" in url else url, url, data)
    assert refused.status_code == 422, refused.text[:500]
    assert ONE_LINE in refused.text
    assert kept in refused.text
    assert db.session.query(Panelist).count() == 0


def test_a_retire_reason_and_a_reword_note_refuse_control_characters(client, lead):
    study = lead["study"]
    open_round(db.session, study)
    close_round(db.session, study)
    log_in(client, "lead@example.org")
    items = f"/console/studies/{SLUG}/items"
    retired = _post(client, items, f"{items}/trust_now/retire", {"reason": "done\x00"})
    assert retired.status_code == 422
    assert ONE_LINE in retired.text
    reword = f"{items}/trust_now/reword"
    refused = _post(client, reword, reword, {"item": "[[items]]", "note": "clearer\r\nwording"})
    assert refused.status_code == 422
    assert ONE_LINE in refused.text


def test_a_panel_file_with_a_control_character_in_an_email_names_the_line(client, lead):
    log_in(client, "lead@example.org")
    panel = f"/console/studies/{SLUG}/panel"
    csv = "name,email,group,language\nAna,ana\x00@x.org,a,en\n"
    refused = client.post(
        f"{panel}/import",
        data={
            "csrf_token": csrf_token(client.get(panel).text),
            "file": (io.BytesIO(csv.encode()), "panel.csv"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "line 2: email: must not contain control characters" in refused.text


def test_control_characters_in_paths_and_queries_are_refused(client, lead):
    log_in(client, "lead@example.org")
    token = create_token(db.session, lead["user"], "t", "read").secret
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/console/studies/a%00b").status_code == 404
    assert client.get("/console/studies/a%07b/panel").status_code == 404
    assert client.get("/api/v1/studies/a%00b", headers=bearer).status_code == 404
    refused = client.get(f"/api/v1/studies/{SLUG}/responses?round=1%00", headers=bearer)
    assert refused.status_code == 400
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert client.get(f"/console/studies/{SLUG}?lang=%00").status_code == 400
