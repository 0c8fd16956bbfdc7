"""The expert page: every bad input gets a clear message, a 4xx, and keeps what was typed."""

from __future__ import annotations

import pytest

from elicit.extensions import db
from surveys.models import Panelist, Response
from surveys.panel import revoke_link
from surveys.rounds import close_round, open_round
from surveys.studies import get_study
from tests.conftest import csrf_token


@pytest.fixture
def expert(app, make_study, make_panel):
    """A demo study with round 1 open and one panelist's token."""
    study = make_study()
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    return link.token


def saved_answers() -> dict[str, dict]:
    """Every stored response's answer by item key."""
    rows = db.session.execute(db.select(Response)).scalars()
    return {row.item.key: row.answer for row in rows}


def test_page_shows_round_one_in_english_and_spanish(client, expert):
    english = client.get(f"/e/{expert}")
    assert english.status_code == 200
    assert "Round 1 of at most 3" in english.text
    assert "How much trust is there today" in english.text
    assert '<html lang="en">' in english.text
    spanish = client.get(f"/e/{expert}?lang=es")
    assert "¿Cuánta confianza existe hoy" in spanish.text
    assert "Muy baja" in spanish.text
    assert '<html lang="es">' in spanish.text


def test_inputs_are_named_after_item_keys(client, expert):
    page = client.get(f"/e/{expert}").text
    assert 'name="trust_now" value="5"' in page
    assert 'name="trigger_tariffs"' in page
    assert 'name="scenarios.status_quo"' in page
    assert 'name="rationale.trust_now"' in page
    assert 'name="missing_factors"' in page


def test_panelist_language_is_the_default(client, app, make_study, make_panel):
    study = make_study()
    links = make_panel(study, 2, languages=("es",))
    open_round(db.session, study)
    assert "¿Cuánta confianza existe hoy" in client.get(f"/e/{links[0].token}").text


def test_valid_submission_is_stored_and_shown_again(client, post_answers, expert):
    response = post_answers(
        expert,
        {
            "trust_now": "4",
            "trigger_tariffs": "12,5",
            "scenarios.status_quo": "60",
            "scenarios.rift": "25",
            "scenarios.renewal": "15",
            "missing_factors": "Water treaty disputes.",
            "rationale.trust_now": "Recent visits.",
        },
    )
    assert response.status_code == 302
    assert saved_answers() == {
        "trust_now": {"value": 4},
        "trigger_tariffs": {"value": 12.5},
        "scenarios": {"components": {"status_quo": 60.0, "rift": 25.0, "renewal": 15.0}},
        "missing_factors": {"text": "Water treaty disputes."},
    }
    page = client.get(f"/e/{expert}").text
    assert "your answers to round 1 are saved" in page
    assert 'name="trust_now" value="4" checked' in page
    assert 'value="12.5"' in page
    assert "Recent visits." in page


def test_submitting_again_replaces_the_earlier_answers(post_answers, expert):
    post_answers(expert, {"trust_now": "4", "trigger_tariffs": "30"})
    post_answers(expert, {"trust_now": "2"})
    assert saved_answers() == {"trust_now": {"value": 2}}
    assert db.session.execute(db.select(db.func.count(Response.id))).scalar_one() == 1


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"trust_now": "6"}, "trust_now", "Choose one of the options from 1 to 5."),
        ({"trust_now": "three"}, "trust_now", "Choose one of the options from 1 to 5."),
        ({"trigger_tariffs": "150"}, "trigger_tariffs", "Enter a percentage from 0 to 100."),
        ({"trigger_tariffs": "-1"}, "trigger_tariffs", "Enter a percentage from 0 to 100."),
        ({"trigger_tariffs": "lots"}, "trigger_tariffs", "Enter a number, for example 25"),
        (
            {"scenarios.status_quo": "50", "scenarios.rift": "30", "scenarios.renewal": "10"},
            "scenarios",
            "The scenarios add up to 90 %; they must add up to 100 %.",
        ),
        (
            {"scenarios.status_quo": "50", "scenarios.rift": "50"},
            "scenarios.renewal",
            "Enter a percentage for this scenario too",
        ),
        (
            {"missing_factors": "x" * 2001},
            "missing_factors",
            "Shorten this text to 2000 characters (it has 2001).",
        ),
        (
            {"rationale.trust_now": "Because."},
            "rationale.trust_now",
            "Give an answer to go with this explanation",
        ),
    ],
)
def test_bad_answers_are_refused_with_a_message_and_kept(
    post_answers, expert, answers, field, message
):
    post_answers(expert, {"trust_horizon": "3"})
    typed = {"agenda_now": "2", **answers}
    response = post_answers(expert, typed)
    assert response.status_code == 422
    assert "Your answers were not saved yet" in response.text
    assert f'href="#field-{field}"' in response.text
    assert f'id="error-{field}"' in response.text
    assert message in response.text
    # Nothing of this submission was saved, and the earlier one is intact.
    assert saved_answers() == {"trust_horizon": {"value": 3}}
    # What the expert typed is still on the page.
    assert 'name="agenda_now" value="2" checked' in response.text
    for name, value in answers.items():
        if name != "trust_now":
            assert value[:50] in response.text


def test_every_problem_is_reported_at_once(post_answers, expert):
    response = post_answers(expert, {"trust_now": "9", "trigger_tariffs": "101"})
    assert response.status_code == 422
    assert 'href="#field-trust_now"' in response.text
    assert 'href="#field-trigger_tariffs"' in response.text


def test_unknown_token_is_a_404_with_a_message(client, expert):
    response = client.get("/e/not-a-real-token")
    assert response.status_code == 404
    assert "This personal link is not valid" in response.text
    assert client.post("/e/not-a-real-token", data={"trust_now": "3"}).status_code == 404


def test_revoked_token_is_a_403_with_a_message(app, client, make_study, make_panel):
    study = make_study()
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    panelist = db.session.execute(db.select(Panelist)).scalar_one()
    revoke_link(db.session, panelist)
    response = client.get(f"/e/{link.token}")
    assert response.status_code == 403
    assert "has been withdrawn" in response.text


def test_posting_into_a_closed_round_keeps_the_typed_answers(client, expert):
    url = f"/e/{expert}"
    token = csrf_token(client.get(url).text)
    close_round(db.session, get_study(db.session, "us-mexico-intelligence"))
    response = client.post(
        url, data={"csrf_token": token, "trust_now": "4", "rationale.trust_now": "Still thinking."}
    )
    assert response.status_code == 409
    assert "This round is closed, so your answers could not be saved" in response.text
    assert 'name="trust_now" value="4" checked' in response.text
    assert "Still thinking." in response.text
    assert saved_answers() == {}


def test_page_between_rounds_says_the_round_is_closed(client, expert):
    close_round(db.session, get_study(db.session, "us-mexico-intelligence"))
    response = client.get(f"/e/{expert}")
    assert response.status_code == 200
    assert "Round 1 is closed" in response.text
    assert "<form" not in response.text


def test_page_before_the_first_round(client, make_study, make_panel):
    study = make_study()
    (link,) = make_panel(study, 1)
    response = client.get(f"/e/{link.token}")
    assert "The first round has not opened yet" in response.text


def test_post_without_csrf_token_is_refused_and_keeps_the_answers(client, expert):
    response = client.post(f"/e/{expert}", data={"trust_now": "5"})
    assert response.status_code == 400
    assert "please submit them again" in response.text
    assert 'name="trust_now" value="5" checked' in response.text
    assert saved_answers() == {}


def test_links_do_not_leak_through_referrers_and_scripts_are_restricted(client, expert):
    response = client.get(f"/e/{expert}")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script" not in response.text


def test_expert_page_shows_no_identity(client, expert):
    page = client.get(f"/e/{expert}").text
    assert "Expert Number0" not in page
    assert "expert.number0@example.org" not in page
