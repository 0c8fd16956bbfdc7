"""The expert's review step and refused submissions (issue 13, points 7 and 8): every
problem of a submission comes back at once, each named by question and field, with
everything typed still on the page; the review lists every answer in words, with a link
back to its field, the unanswered and unexplained ones first."""

from __future__ import annotations

import re
from html import unescape

import pytest

from elicit.extensions import db
from surveys.models import Response
from surveys.rounds import open_round
from tests.conftest import csrf_token, log_in

ESTIMATE = "transfers_next_year"  # question 14 of the demo


@pytest.fixture
def study(app, make_study):
    """The demo study (21 questions), not started."""
    return make_study()


@pytest.fixture
def expert(study, make_panel):
    """One panelist's token, with round 1 open."""
    (link,) = make_panel(study, 1, languages=("en",))
    open_round(db.session, study)
    return link.token


def section(html: str, element_id: str) -> str:
    """The HTML of the element with ``element_id`` up to its closing tag's depth (enough
    for lists and divs that hold no element of their own kind)."""
    start = html.index(f'id="{element_id}"')
    tag = html.rfind("<", 0, start)
    name = re.match(r"<(\w+)", html[tag:]).group(1)
    end = html.index(f"</{name}>", start)
    return html[tag : end + len(name) + 3]


@pytest.fixture
def facilitator(client, study, make_user):
    """The demo study before round 1, and its facilitator logged in."""
    make_user("lead@example.org", studies=[study])
    assert log_in(client, "lead@example.org").status_code == 302
    return study


def text(html: str) -> str:
    """The readable text of an HTML fragment, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


# -- point 8: every problem at once ---------------------------------------------------


def test_a_confidence_of_120_and_a_reversed_range_are_both_reported_naming_their_fields(
    client, post_answers, expert
):
    typed = {
        f"{ESTIMATE}.lowest": "500",
        f"{ESTIMATE}.highest": "100",
        f"{ESTIMATE}.best": "300",
        f"{ESTIMATE}.confidence": "120",
        "trigger_tariffs": "35",
    }
    response = post_answers(expert, typed)
    assert response.status_code == 422
    summary = text(section(response.text, "error-summary"))
    assert "2 problems to correct" in summary
    assert "Question 14, confidence: Enter a percentage from 50 to 100." in summary
    assert (
        "Question 14: Your lowest plausible value (500) is above your highest plausible "
        "value (100)" in summary
    )
    # Each problem links to its field, and is printed beside it too.
    assert f'href="#field-{ESTIMATE}.confidence"' in response.text
    assert f'href="#field-{ESTIMATE}"' in response.text
    assert "Enter a percentage from 50 to 100." in text(
        section(response.text, f"error-{ESTIMATE}.confidence")
    )
    assert "is above your highest" in text(section(response.text, f"error-{ESTIMATE}"))
    # Everything typed is still on the page; nothing was submitted.
    for field, value in typed.items():
        assert f'name="{field}" value="{value}"' in response.text
    assert db.session.execute(db.select(Response)).first() is None


def test_two_problems_of_one_field_are_both_shown_beside_it(client, post_answers, expert):
    typed = {
        "scenarios.status_quo": "120",
        "scenarios.rift": "10",
        "scenarios.renewal": "0",
        f"rationale.{ESTIMATE}": "Because.",
        "trust_now": "9",
    }
    response = post_answers(expert, typed)
    assert response.status_code == 422
    summary = text(section(response.text, "error-summary"))
    assert "4 problems to correct" in summary
    assert "Question 1: Choose one of the options from 1 to 5." in summary
    assert "Question 6, " in summary and "Enter a percentage from 0 to 100." in summary
    assert "Question 6: The scenarios add up to 130 %" in summary
    assert "Question 14, your reason: Give an answer to go with this explanation" in summary


def test_a_started_estimate_lists_each_missing_part_and_the_order_at_once(
    client, post_answers, expert
):
    typed = {f"{ESTIMATE}.lowest": "9", f"{ESTIMATE}.highest": "1"}
    response = post_answers(expert, typed, lang="es")
    assert response.status_code == 422
    links = re.findall(r'<li><a href="#field-([^"]+)">', section(response.text, "error-summary"))
    assert links == [f"{ESTIMATE}.best", f"{ESTIMATE}.confidence", ESTIMATE]
    assert 'name="transfers_next_year.lowest" value="9"' in response.text


def test_the_preview_reports_every_problem_as_the_expert_page_does(client, facilitator):
    slug = facilitator.slug
    token = csrf_token(client.get(f"/console/studies/{slug}/preview/1").text)
    refused = client.post(
        f"/console/studies/{slug}/preview/1",
        data={
            "csrf_token": token,
            "action": "review",
            f"{ESTIMATE}.lowest": "500",
            f"{ESTIMATE}.highest": "100",
            f"{ESTIMATE}.best": "300",
            f"{ESTIMATE}.confidence": "120",
        },
    )
    summary = text(section(refused.text, "error-summary"))
    assert "Question 14, confidence: Enter a percentage from 50 to 100." in summary
    assert "Question 14: Your lowest plausible value (500)" in summary
