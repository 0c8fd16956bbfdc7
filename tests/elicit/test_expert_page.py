"""The expert page: links, drafts, validation messages, deadlines, feedback rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from elicit.extensions import db
from surveys.demo import demo_source
from surveys.models import Draft, Panelist, Response, utcnow
from surveys.panel import revoke_link
from surveys.rounds import close_round, open_round
from surveys.studies import get_study
from tests.conftest import csrf_token, enter
from tests.feedback_parser import parse_feedback, withheld_items

SLUG = "us-mexico-intelligence"


@pytest.fixture
def expert(app, make_study, make_panel):
    """A demo study with round 1 open and one panelist's token."""
    study = make_study()
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    return link.token


def saved_answers() -> dict[str, dict]:
    """Every submitted response's answer by item key."""
    db.session.expire_all()
    rows = db.session.execute(db.select(Response)).scalars()
    return {row.item.key: row.answer for row in rows}


def draft_fields() -> dict[str, str]:
    """The (only) draft's fields."""
    db.session.expire_all()
    return db.session.execute(db.select(Draft)).scalar_one().values["fields"]


# -- the link -------------------------------------------------------------------------


def test_link_is_exchanged_for_a_session_and_dropped_from_the_address(client, expert):
    response = client.get(f"/e/{expert}")
    assert response.status_code == 302
    assert response.location == "/e/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # served over plain HTTP in tests
    page = client.get("/e/")
    assert page.status_code == 200
    assert expert not in page.text


def test_session_cookie_is_secure_when_served_over_https(app):
    from elicit.config import load

    assert load(app.instance_path, {"SECRET_KEY": "k"})["SESSION_COOKIE_SECURE"] is False
    https = load(app.instance_path, {"SECRET_KEY": "k", "ELICIT_BASE_URL": "x"})
    assert https["ELICIT_BASE_URL"] == "x"  # overrides win; the flag follows the environment


def test_page_without_a_session_asks_for_the_link(client, expert):
    response = client.get("/e/")
    assert response.status_code == 401
    assert "Open your personal link again" in response.text


def test_unknown_token_is_a_404_with_a_message(client, expert):
    response = client.get("/e/not-a-real-token")
    assert response.status_code == 404
    assert "This personal link is not valid" in response.text


def test_failed_lookups_are_rate_limited_but_real_links_are_not_counted(client, expert):
    for _ in range(5):
        assert client.get(f"/e/{expert}").status_code == 302
    for _ in range(10):
        assert client.get("/e/guessing-a-token").status_code == 404
    assert client.get("/e/guessing-again").status_code == 429


def test_revoked_token_is_a_403_and_ends_open_sessions(app, client, expert):
    enter(client, expert)
    revoke_link(db.session, db.session.execute(db.select(Panelist)).scalar_one())
    assert client.get("/e/").status_code == 403
    response = client.get(f"/e/{expert}")
    assert response.status_code == 403
    assert "has been withdrawn" in response.text


def test_security_headers(client, expert):
    enter(client, expert)
    response = client.get("/e/")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "<script>" not in response.text  # scripts come only from files
    assert 'style="' not in response.text


# -- languages ------------------------------------------------------------------------


def test_page_shows_round_one_in_english_and_spanish(client, expert):
    english = client.get(f"/e/{expert}", follow_redirects=True)
    assert "Round 1 of at most 3" in english.text
    assert "How much trust is there today" in english.text
    assert '<html lang="en">' in english.text
    spanish = client.get("/e/?lang=es")
    assert "¿Cuánta confianza existe hoy" in spanish.text
    assert "Muy baja" in spanish.text
    assert '<html lang="es">' in spanish.text
    # The switch holds for the rest of the visit.
    assert '<html lang="es">' in client.get("/e/").text


def test_language_order_switch_then_stored_preference_then_browser(
    app, client, make_study, make_panel
):
    study = make_study()
    spanish_speaker, english_speaker = make_panel(study, 2, languages=("es", "en"))
    open_round(db.session, study)
    enter(client, spanish_speaker.token)
    page = client.get("/e/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="es">' in page.text  # stored preference beats the browser
    enter(client, english_speaker.token)
    assert '<html lang="en">' in client.get("/e/", headers={"Accept-Language": "es"}).text
    # Without a panelist (an error page), the browser's language is used.
    error = client.get("/e/no-such-link", headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert '<html lang="es">' in error.text


def test_inputs_are_named_after_item_keys(client, expert):
    page = client.get(f"/e/{expert}", follow_redirects=True).text
    assert 'name="trust_now" value="5"' in page
    assert 'name="trust_now" value="cannot_judge"' in page
    assert 'name="trigger_tariffs"' in page
    assert 'name="scenarios.status_quo"' in page
    assert 'name="trigger_impact.trigger_tariffs:status_quo"' in page
    assert 'name="driver_ranking.trade"' in page
    for part in ("lowest", "highest", "best", "confidence"):
        assert f'name="transfers_next_year.{part}"' in page
    assert page.index("transfers_next_year.lowest") < page.index("transfers_next_year.highest")
    assert page.index("transfers_next_year.highest") < page.index("transfers_next_year.best")
    assert 'name="rationale.trust_now"' in page
    assert 'name="missing_factors"' in page
    assert "0 of 30 questions answered" in page


# -- submitting -----------------------------------------------------------------------


FULL_ESTIMATE = {
    "transfers_next_year.lowest": "10",
    "transfers_next_year.highest": "60",
    "transfers_next_year.best": "25",
    "transfers_next_year.confidence": "80",
}
FULL_RANKING = {
    "driver_ranking.trust": "2",
    "driver_ranking.agendas": "3",
    "driver_ranking.trade": "1",
    "driver_ranking.us_politics": "5",
    "driver_ranking.violence": "4",
}


def test_valid_submission_is_stored_and_shown_again(client, post_answers, expert):
    response = post_answers(
        expert,
        {
            "trust_now": "4",
            "trust_horizon": "cannot_judge",
            "trigger_tariffs": "12,5",
            "scenarios.status_quo": "60",
            "scenarios.rift": "25",
            "scenarios.renewal": "15",
            "missing_factors": "Water treaty disputes.",
            "rationale.trust_now": "Recent visits.",
            **FULL_ESTIMATE,
            **FULL_RANKING,
        },
    )
    assert response.status_code == 302
    assert saved_answers() == {
        "trust_now": {"value": 4},
        "trust_horizon": {"cannot_judge": True},
        "trigger_tariffs": {"value": 12.5},
        "scenarios": {"components": {"status_quo": 60.0, "rift": 25.0, "renewal": 15.0}},
        "missing_factors": {"text": "Water treaty disputes."},
        "transfers_next_year": {
            "components": {"lowest": 10.0, "highest": 60.0, "best": 25.0, "confidence": 80.0}
        },
        "driver_ranking": {
            "components": {"trust": 2, "agendas": 3, "trade": 1, "us_politics": 5, "violence": 4}
        },
    }
    page = client.get("/e/").text
    assert "your answers to round 1 are submitted" in page
    assert 'name="trust_now" value="4" checked' in page
    assert 'value="12,5"' in page  # the draft keeps what was typed
    assert "Recent visits." in page
    assert "7 of 30 questions answered" in page


def test_submitting_again_replaces_the_earlier_answers(post_answers, expert):
    post_answers(expert, {"trust_now": "4", "trigger_tariffs": "30"})
    post_answers(expert, {"trust_now": "2"})
    assert saved_answers() == {"trust_now": {"value": 2}}


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
            {**FULL_ESTIMATE, "transfers_next_year.best": "70"},
            "transfers_next_year",
            "Your best guess (70) is above your highest plausible value (60): it must lie "
            "between your lowest and highest values.",
        ),
        (
            {**FULL_ESTIMATE, "transfers_next_year.confidence": "40"},
            "transfers_next_year.confidence",
            "Enter a percentage from 50 to 100.",
        ),
        (
            {**FULL_ESTIMATE, "transfers_next_year.highest": "5000"},
            "transfers_next_year.highest",
            "Enter a number from 0 to 1,000.",
        ),
        (
            {key: value for key, value in FULL_ESTIMATE.items() if "best" not in key},
            "transfers_next_year.best",
            "Fill in this part of the estimate too.",
        ),
        (
            {**FULL_RANKING, "driver_ranking.trade": "2"},
            "driver_ranking",
            "Give each option a different place from 1 to 5.",
        ),
        (
            {**FULL_RANKING, "driver_ranking.trade": ""},
            "driver_ranking.trade",
            "Give this option a place from 1 to 5.",
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
    assert "Your answers were not submitted yet" in response.text
    assert f'href="#field-{field}"' in response.text
    assert f'id="error-{field}"' in response.text
    assert message in response.text
    # Nothing of this submission was submitted, and the earlier one is intact ...
    assert saved_answers() == {"trust_horizon": {"value": 3}}
    # ... but everything typed is on the page and in the draft.
    assert 'name="agenda_now" value="2" checked' in response.text
    assert draft_fields() == typed
    for value in answers.values():
        assert value[:50] in response.text


def test_every_problem_is_reported_at_once(post_answers, expert):
    response = post_answers(expert, {"trust_now": "9", "trigger_tariffs": "101"})
    assert response.status_code == 422
    assert 'href="#field-trust_now"' in response.text
    assert 'href="#field-trigger_tariffs"' in response.text


def test_messages_in_spanish(post_answers, expert):
    response = post_answers(expert, {"trigger_tariffs": "150"}, lang="es")
    assert response.status_code == 422
    assert "Sus respuestas aún no se han enviado" in response.text
    assert "Escriba un porcentaje de 0 a 100." in response.text


# -- drafts, review, deadlines ----------------------------------------------------------


def test_save_keeps_a_draft_without_submitting(client, post_answers, expert):
    response = post_answers(expert, {"trust_now": "9", "trigger_tariffs": "abc"}, action="save")
    assert response.status_code == 302
    assert saved_answers() == {}
    assert draft_fields() == {"trust_now": "9", "trigger_tariffs": "abc"}
    page = client.get("/e/").text
    assert "Your draft is saved" in page
    assert 'value="abc"' in page


def test_autosave_needs_the_csrf_token_and_keeps_what_was_typed(client, expert):
    enter(client, expert)
    assert client.post("/e/draft", data={"trust_now": "3"}).status_code == 400
    token = csrf_token(client.get("/e/").text)
    response = client.post(
        "/e/draft", data={"trust_now": "3", "unknown_field": "x"}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200
    assert response.json["message"].startswith("Draft saved at")
    assert draft_fields() == {"trust_now": "3"}  # fields the page does not have are dropped
    # Resume on another device: a new session from the same link finds the draft.
    client.delete_cookie("session")
    assert client.get("/e/").status_code == 401
    enter(client, expert)
    assert 'name="trust_now" value="3" checked' in client.get("/e/").text


def test_review_lists_unanswered_items_before_submitting(client, post_answers, expert):
    response = post_answers(expert, {"trust_now": "4"}, action="review")
    assert response.status_code == 200
    assert "Review your answers" in response.text
    assert "You answered 1 of 30 questions" in response.text
    unanswered = response.text[response.text.index('id="unanswered"') :]
    unanswered = unanswered[: unanswered.index("</ul>")]
    assert 'href="/e/?lang=en#field-trust_horizon"' in unanswered
    assert 'href="/e/?lang=en#field-trust_now"' not in unanswered  # listed with the answers
    assert saved_answers() == {}  # reviewing submits nothing
    # The review page carries the answers to the final submission.
    token = csrf_token(response.text)
    final = client.post("/e/", data={"csrf_token": token, "trust_now": "4", "action": "submit"})
    assert final.status_code == 302
    assert saved_answers() == {"trust_now": {"value": 4}}


def test_review_with_invalid_answers_shows_the_messages(post_answers, expert):
    response = post_answers(expert, {"trust_now": "8"}, action="review")
    assert response.status_code == 422
    assert "Choose one of the options from 1 to 5." in response.text


def test_submission_after_the_deadline_is_kept_as_a_draft(client, expert):
    enter(client, expert)
    token = csrf_token(client.get("/e/").text)
    study = get_study(db.session, SLUG)
    study.rounds[0].deadline = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = client.post("/e/", data={"csrf_token": token, "trust_now": "4"})
    assert response.status_code == 409
    assert "has passed, so your answers were not submitted" in response.text
    assert "They are kept as a draft" in response.text
    assert 'name="trust_now" value="4" checked' in response.text
    assert saved_answers() == {}
    assert draft_fields() == {"trust_now": "4"}


def test_posting_while_the_round_is_being_closed_keeps_the_typed_answers(
    client, expert, database_url, monkeypatch
):
    """A close holds the round longer than a submission waits (on PostgreSQL; the lock
    itself is tested in tests/surveys/test_close_wait.py): the expert is told the round
    is being closed, and what they typed stays on the page and in their draft."""
    from sqlalchemy import create_engine, text

    from elicit.expert import views
    from surveys import answers
    from surveys.drafts import save_draft

    enter(client, expert)
    token = csrf_token(client.get("/e/").text)
    engine = create_engine(database_url)
    holder = engine.connect()
    if db.engine.dialect.name == "postgresql":
        # What a close does first: hold the round (here from a connection of its own).
        holder.execute(text("SELECT id FROM round FOR NO KEY UPDATE"))
        monkeypatch.setattr(answers, "CLOSE_WAIT_MS", 200)
    else:  # SQLite's close holds the whole database: no wait to give up, so imitated

        def being_closed(session, who, form, **options):
            save_draft(session, who, form)
            raise answers.RoundBeingClosed("the round is being closed")

        monkeypatch.setattr(views, "submit_responses", being_closed)
    try:
        response = client.post(
            "/e/",
            data={"csrf_token": token, "trust_now": "4", "rationale.trust_now": "Still thinking."},
        )
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    assert response.status_code == 409
    assert "The study team is closing this round right now" in response.text
    assert 'name="trust_now" value="4" checked' in response.text
    assert "Still thinking." in response.text
    assert saved_answers() == {}
    assert draft_fields() == {"trust_now": "4", "rationale.trust_now": "Still thinking."}


def test_posting_into_a_closed_round_keeps_the_typed_answers(client, expert):
    enter(client, expert)
    token = csrf_token(client.get("/e/").text)
    close_round(db.session, get_study(db.session, SLUG))
    response = client.post(
        "/e/",
        data={"csrf_token": token, "trust_now": "4", "rationale.trust_now": "Still thinking."},
    )
    assert response.status_code == 409
    assert "This round is closed, so your answers could not be submitted" in response.text
    assert 'name="trust_now" value="4" checked' in response.text
    assert "Still thinking." in response.text
    assert saved_answers() == {}
    assert draft_fields() == {"trust_now": "4", "rationale.trust_now": "Still thinking."}


def test_post_without_csrf_token_is_refused_and_keeps_the_answers(client, expert):
    enter(client, expert)
    response = client.post("/e/", data={"trust_now": "5"})
    assert response.status_code == 400
    assert "please save or submit them again" in response.text
    assert 'name="trust_now" value="5" checked' in response.text
    assert saved_answers() == {}


def test_page_between_rounds_says_the_round_is_closed(client, expert):
    close_round(db.session, get_study(db.session, SLUG))
    response = client.get(f"/e/{expert}", follow_redirects=True)
    assert response.status_code == 200
    assert "Round 1 is closed" in response.text
    assert "<form" not in response.text


def test_page_before_the_first_round(client, make_study, make_panel):
    study = make_study()
    (link,) = make_panel(study, 1)
    response = client.get(f"/e/{link.token}", follow_redirects=True)
    assert "The first round has not opened yet" in response.text


# -- feedback -------------------------------------------------------------------------


def round_two(make_study, make_panel, post_answers, source, answers_per_expert):
    """Run round 1 with the given answers (one dict per expert), open round 2."""
    study = make_study(source)
    links = make_panel(study, len(answers_per_expert))
    open_round(db.session, study)
    for link, answers in zip(links, answers_per_expert, strict=True):
        assert post_answers(link.token, answers).status_code == 302
    close_round(db.session, study)
    open_round(db.session, study)
    return links


def test_feedback_is_withheld_below_the_minimum_number_of_answers(
    client, make_study, make_panel, post_answers
):
    answers = [
        {"trust_now": "2", "trigger_tariffs": "10", "rationale.trust_now": "Low A."},
        {"trust_now": "3", "trigger_tariffs": "20", "rationale.trust_now": "Low B."},
        {"trust_now": "4", "rationale.trust_now": "Rising C."},
    ]
    links = round_two(make_study, make_panel, post_answers, None, answers)
    page = client.get(f"/e/{links[0].token}", follow_redirects=True).text
    shown = parse_feedback(page)
    withheld = withheld_items(page)
    # trust_now: 3 answers = the minimum: shown, with every rationale, no pseudonym.
    assert float(shown[("trust_now", "")]["median"]) == 3.0
    assert "trust_now" not in withheld
    for reason in ("Low A.", "Low B.", "Rising C."):
        assert reason in page
    # trigger_tariffs: 2 answers: withheld, numbers and all.
    assert "trigger_tariffs" in withheld
    assert ("trigger_tariffs", "") not in shown
    assert "Too few panelists answered this question" in page
    assert "<svg" in page and 'role="img"' in page


def test_rationales_are_shuffled_per_expert_and_stable(
    client, make_study, make_panel, post_answers
):
    answers = [{"trust_now": "3", "rationale.trust_now": f"Reason {i}."} for i in range(8)]
    links = round_two(make_study, make_panel, post_answers, None, answers)

    def order(token: str) -> list[int]:
        page = client.get(f"/e/{token}", follow_redirects=True).text
        return sorted(range(8), key=lambda i: page.index(f"Reason {i}."))

    orders = [order(link.token) for link in links]
    assert order(links[0].token) == orders[0]  # stable on reload
    assert len({tuple(o) for o in orders}) > 1  # not one order for everybody


def test_rationale_required_outside_the_previous_iqr(client, make_study, make_panel, post_answers):
    source = demo_source().replace(
        'rationale_outside_iqr = "optional"', 'rationale_outside_iqr = "required"'
    )
    answers = [{"trust_now": value} for value in ("3", "3", "4", "4")]
    links = round_two(make_study, make_panel, post_answers, source, answers)
    # Round-1 IQR of trust_now is 3 to 4: 5 is outside and needs a reason, 4 does not.
    refused = post_answers(links[0].token, {"trust_now": "5"})
    assert refused.status_code == 422
    assert 'href="#field-rationale.trust_now"' in refused.text
    assert "please explain why" in refused.text
    assert post_answers(links[0].token, {"trust_now": "4"}).status_code == 302
    accepted = post_answers(links[1].token, {"trust_now": "5", "rationale.trust_now": "News."})
    assert accepted.status_code == 302


def test_expert_pages_show_no_identity(client, make_study, make_panel, post_answers):
    answers = [{"trust_now": "3", "rationale.trust_now": "Mine."} for _ in range(3)]
    links = round_two(make_study, make_panel, post_answers, None, answers)
    page = client.get(f"/e/{links[0].token}", follow_redirects=True).text
    for i in range(3):
        assert f"Expert Number{i}" not in page
        assert f"expert.number{i}@example.org" not in page
    for panelist in db.session.execute(db.select(Panelist)).scalars():
        assert panelist.pseudonym not in page
