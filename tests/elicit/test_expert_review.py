"""The expert's review step and refused submissions (issue 13, points 7 and 8): every
problem of a submission comes back at once, each named by question and field, with
everything typed still on the page; the review lists every answer in words, with a link
back to its field, the unanswered and unexplained ones first."""

from __future__ import annotations

import re
from html import unescape

import pytest

from elicit.extensions import db
from surveys.models import Draft, Response
from surveys.rounds import close_round, open_round
from tests.conftest import csrf_token, log_in

ESTIMATE = "transfers_next_year"  # question 15 of the demo


@pytest.fixture
def study(app, make_study):
    """The demo study (25 questions), not started."""
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
    assert "Question 15, confidence: Enter a percentage from 50 to 100." in summary
    assert (
        "Question 15: Your lowest plausible value (500) is above your highest plausible "
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
    assert "Question 6, scenario 1: Enter a percentage from 0 to 100." in summary
    assert "Question 6: The scenarios add up to 130 %" in summary
    assert "Question 15, your reason: Give an answer to go with this explanation" in summary


def test_a_ranking_option_is_named_by_its_text(client, post_answers, expert):
    typed = {"driver_ranking.trust": "1", "driver_ranking.agendas": "1"}
    response = post_answers(expert, typed)
    summary = text(section(response.text, "error-summary"))
    assert "Question 5, Trade relations and tariffs: Give this option a place from 1 to 5." in (
        summary
    )
    assert "Question 5: Give each option a different place from 1 to 5." in summary


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
    assert "Question 15, confidence: Enter a percentage from 50 to 100." in summary
    assert "Question 15: Your lowest plausible value (500)" in summary


# -- point 7: the review lists every answer -------------------------------------------

EVERY_KIND = {
    "trust_now": "4",
    "trust_horizon": "cannot_judge",
    "rationale.trust_now": "Recent visits.\nAnd a new treaty.",
    "driver_ranking.trust": "2",
    "driver_ranking.agendas": "1",
    "driver_ranking.trade": "4",
    "driver_ranking.us_politics": "5",
    "driver_ranking.violence": "3",
    "scenarios.status_quo": "62,5",
    "scenarios.rift": "30",
    "scenarios.renewal": "7.5",
    "trigger_officials_implicated": "12,5",
    "trigger_tariffs": "35",
    f"{ESTIMATE}.lowest": "10",
    f"{ESTIMATE}.highest": "1000",
    f"{ESTIMATE}.best": "25",
    f"{ESTIMATE}.confidence": "80",
    "missing_factors": "Water-sharing disputes <on> the Rio Grande.",
}


def entries(html: str, list_id: str) -> list[tuple[str, str, str]]:
    """``(item key, link target, readable text)`` of each entry of a review list."""
    listing = html[html.index(f'id="{list_id}"') :]
    listing = listing[: listing.index("</section>")]
    found = []
    for chunk in listing.split('<li class="review-entry ')[1:]:
        key = re.match(r'[a-z]+" id="review-([^"]+)">', chunk).group(1)
        (target,) = re.findall(r'<p class="review-link"><a href="([^"]+)">', chunk)
        found.append((key, target, text(chunk.split(">", 1)[1])))
    return found


def test_the_review_lists_every_answer_in_words_with_a_link_back_to_its_field(
    client, post_answers, expert
):
    response = post_answers(expert, EVERY_KIND, action="review")
    assert response.status_code == 200
    html = response.text
    # The unanswered questions come first, then the answers, each group in page order.
    assert html.index('id="unanswered"') < html.index('id="answers"')
    unanswered = entries(html, "unanswered")
    answered = entries(html, "answers")
    keys = [key for key, _, _ in unanswered]
    assert keys[:3] == ["agenda_now", "agenda_horizon", "trigger_unilateral_strike"]
    assert len(unanswered) == 30 - 8 and len(answered) == 8
    assert [key for key, _, _ in answered] == [
        "trust_now",
        "trust_horizon",
        "driver_ranking",
        "scenarios",
        "trigger_officials_implicated",
        "trigger_tariffs",
        ESTIMATE,
        "missing_factors",
    ]
    assert all(
        "Not answered" in words and "Answer this question" in words for *_, words in unanswered
    )
    # Every link leads to the answer page, at the field that changes the answer.
    links = {key: target for key, target, _ in unanswered + answered}
    assert links["trust_now"] == "/e/?lang=en#field-trust_now"
    assert links["scenarios"] == "/e/?lang=en#field-scenarios.status_quo"
    assert links[ESTIMATE] == f"/e/?lang=en#field-{ESTIMATE}.lowest"
    assert links["agenda_now"] == "/e/?lang=en#field-agenda_now"
    answer_page = client.get("/e/").text
    for target in links.values():
        assert f'id="{target.split("#", 1)[1]}"' in answer_page, target
    # ... where what was reviewed is still typed in (the review saved it as a draft).
    assert 'name="trigger_officials_implicated" value="12,5"' in answer_page
    # The answers in words a person reads.
    words = {key: readable for key, _, readable in answered}
    assert "Your answer: 4 – High" in words["trust_now"]
    assert "Your reason: Recent visits. And a new treaty." in words["trust_now"]
    assert "Your answer: I can't judge this" in words["trust_horizon"]
    assert (
        "Alignment of the security agendas Trust between the security leaderships Cartel "
        "violence in Mexico Trade relations and tariffs Domestic political pressure"
    ) in words["driver_ranking"]
    assert "62.5 % Continued transactional cooperation" in words["scenarios"]
    assert "30 % A total rift" in words["scenarios"]
    assert "7.5 % Renewed large-scale cooperation" in words["scenarios"]
    assert "Your answer: 12.5 %" in words["trigger_officials_implicated"]
    assert "Your answer: 35 %" in words["trigger_tariffs"]
    assert (
        "Lowest plausible value: 10 people Best guess: 25 people Highest plausible value: "
        "1,000 people Confidence: 80 %"
    ) in words[ESTIMATE]
    assert "Water-sharing disputes <on> the Rio Grande." in words["missing_factors"]
    assert "<on>" not in html  # escaped, as everything typed
    # The ranking is a list in order, the estimate's parts a description list.
    assert '<ol class="review-order">' in section(html, "review-driver_ranking")
    assert '<dl class="review-parts">' in section(html, f"review-{ESTIMATE}")


def test_the_review_reads_in_spanish(client, post_answers, expert):
    response = post_answers(expert, EVERY_KIND, action="review", lang="es")
    assert response.status_code == 200
    words = {key: readable for key, _, readable in entries(response.text, "answers")}
    assert "12,5" in words["trigger_officials_implicated"]
    assert "1.000 personas" in words[ESTIMATE]
    assert "Alto" in words["trust_now"] or "Alta" in words["trust_now"]


def test_answers_outside_the_middle_half_without_a_reason_come_next(
    client, make_study, make_panel, post_answers
):
    study = make_study()
    links = make_panel(study, 4, languages=("en",))
    open_round(db.session, study)
    for link, value in zip(links, ("10", "20", "30", "40"), strict=True):
        assert post_answers(link.token, {"trigger_tariffs": value}).status_code == 302
    close_round(db.session, study)
    open_round(db.session, study)
    typed = {
        "trigger_tariffs": "90",
        "trigger_black_swan": "5",
        "rationale.trigger_black_swan": "Rare.",
    }
    response = post_answers(links[0].token, typed, action="review")
    assert response.status_code == 200
    html = response.text
    assert (
        html.index('id="unanswered"') < html.index('id="unexplained"') < html.index('id="answers"')
    )
    ((key, target, words),) = entries(html, "unexplained")
    assert key == "trigger_tariffs"
    assert target == "/e/?lang=en#field-rationale.trigger_tariffs"  # straight to the reason box
    assert "Your answer: 90 %" in words and "No reason given" in words and "Add a reason" in words
    answered = {key: readable for key, _, readable in entries(html, "answers")}
    assert "Your reason: Rare." in answered["trigger_black_swan"]
    # With a reason it is an answer like the others.
    typed["rationale.trigger_tariffs"] = "Tariffs are back."
    again = post_answers(links[0].token, typed, action="review").text
    assert 'id="unexplained"' not in again
    assert "Your reason: Tariffs are back." in text(section(again, "review-trigger_tariffs"))


def test_the_preview_lists_the_answers_with_links_back_to_the_preview(client, facilitator):
    slug = facilitator.slug
    token = csrf_token(client.get(f"/console/studies/{slug}/preview/1").text)
    review = client.post(
        f"/console/studies/{slug}/preview/1",
        data={"csrf_token": token, "action": "review", "trust_now": "4", "trigger_tariffs": "35"},
    )
    assert review.status_code == 200
    answered = entries(review.text, "answers")
    assert [(key, target) for key, target, _ in answered] == [
        ("trust_now", f"/console/studies/{slug}/preview/1?lang=en&amp;from=review#field-trust_now"),
        (
            "trigger_tariffs",
            f"/console/studies/{slug}/preview/1?lang=en&amp;from=review#field-trigger_tariffs",
        ),
    ]
    assert 'href="/e/' not in review.text
    assert db.session.execute(db.select(Draft)).first() is None
