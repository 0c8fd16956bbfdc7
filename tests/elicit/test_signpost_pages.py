"""Signpost items on the expert's pages (issue 16, point 2): one percentage per
scenario on the form, each named on a refusal, in words on the review, and the panel's
distribution per scenario as the next round's feedback."""

from __future__ import annotations

import re
from html import unescape

import pytest

from elicit.extensions import db
from surveys.rounds import close_round, open_round
from tests.conftest import csrf_token, enter, log_in
from tests.surveys.signpost_support import ANSWERS, SIGNPOST_STUDY, form


def text(html: str) -> str:
    """The readable text of an HTML page, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_form_asks_one_percentage_per_scenario(client, make_study, make_panel):
    study = make_study(SIGNPOST_STUDY)
    (link,) = make_panel(study, 1, languages=("en",))
    open_round(db.session, study)
    enter(client, link.token)
    page = client.get("/e/").text
    for scenario in ("calm", "storm", "thaw"):
        assert f'name="signpost_troops.{scenario}"' in page
        assert f'<label for="field-signpost_troops.{scenario}">' in page
    words = text(page)
    assert "If “Storm” is unfolding" in words
    assert "how likely is this signpost to be observed within the horizon" in words
    assert "they need not add up to 100" in words


def test_the_form_reads_in_spanish(client, make_study, make_panel):
    study = make_study(SIGNPOST_STUDY)
    (link,) = make_panel(study, 1, languages=("es",))
    open_round(db.session, study)
    enter(client, link.token, lang="es")
    words = text(client.get("/e/").text)
    assert "Tropas se mueven a la frontera." in words
    assert "Tormenta" in words


def test_a_bad_likelihood_is_named_and_what_was_typed_stays(
    client, make_study, make_panel, post_answers
):
    study = make_study(SIGNPOST_STUDY)
    (link,) = make_panel(study, 1, languages=("en",))
    open_round(db.session, study)
    response = post_answers(
        link.token,
        {"signpost_troops.calm": "120", "signpost_troops.storm": "$5", "signpost_troops.thaw": ""},
    )
    assert response.status_code == 422
    words = text(response.text)
    assert "Question 2, scenario 1: Enter a percentage from 0 to 100." in words
    assert "Question 2, scenario 2: Enter a number" in words
    assert "Question 2, scenario 3: Enter a percentage for this scenario too" in words
    assert 'value="120"' in response.text and 'value="$5"' in response.text


def test_the_review_says_each_likelihood_in_words(client, make_study, make_panel):
    study = make_study(SIGNPOST_STUDY)
    (link,) = make_panel(study, 1, languages=("en",))
    open_round(db.session, study)
    enter(client, link.token)
    page = client.get("/e/")
    review = client.post(
        "/e/",
        data={"csrf_token": csrf_token(page.text), "action": "review", **form(ANSWERS[0])},
    )
    assert review.status_code == 200, review.text
    words = text(review.text)
    assert "If “Calm” is unfolding: 10 %" in words
    assert "If “Storm” is unfolding: 90 %" in words


def test_round_two_shows_the_panel_per_scenario(client, make_study, make_panel, post_answers):
    study = make_study(SIGNPOST_STUDY)
    links = make_panel(study, 3, languages=("en",))
    open_round(db.session, study)
    for link, answers in zip(links, ANSWERS, strict=True):
        assert post_answers(link.token, form(answers)).status_code == 302
    close_round(db.session, study)
    open_round(db.session, study)
    enter(client, links[0].token)
    page = client.get("/e/").text
    feedback = page[page.index('data-feedback-item="signpost_troops"') :]
    feedback = feedback[: feedback.index("</div>\n", feedback.index('data-component="thaw"'))]
    for scenario in ("calm", "storm", "thaw"):
        assert f'data-component="{scenario}"' in feedback
    # Storm: 70, 80, 90; the median 80 %.
    assert "Panel median 80 %" in text(feedback)


def closed_study(client, make_study, make_panel, post_answers, make_user):
    """The signpost study after one closed round of :data:`ANSWERS`, its facilitator
    logged in."""
    study = make_study(SIGNPOST_STUDY)
    links = make_panel(study, 3, languages=("en",))
    open_round(db.session, study)
    for link, answers in zip(links, ANSWERS, strict=True):
        assert post_answers(link.token, form(answers)).status_code == 302
    close_round(db.session, study)
    make_user("lead@example.org", studies=[study])
    assert log_in(client, "lead@example.org").status_code == 302
    return study


def matrix_rows(html: str) -> dict[str, str]:
    """Each signpost's row of the matrix, by key."""
    table = html[html.index('id="signpost-matrix"') :]
    table = table[: table.index("</table>")]
    return {
        match.group(1): match.group(2)
        for match in re.finditer(r'<tr data-signpost="(\w+)">(.*?)</tr>', table, re.S)
    }


@pytest.mark.parametrize("path", ["results", "report", "report/download"])
def test_the_matrix_shows_likelihoods_ratios_and_the_ranking(
    client, make_study, make_panel, post_answers, make_user, path
):
    study = closed_study(client, make_study, make_panel, post_answers, make_user)
    page = client.get(f"/console/studies/{study.slug}/{path}")
    assert page.status_code == 200, page.text
    html = page.text
    rows = matrix_rows(html)
    # Best first: the weather, equally likely under every scenario, comes last.
    assert list(rows)[-1] == "signpost_weather"
    assert next(iter(rows)) in ("signpost_troops", "signpost_talks")
    troops = rows["signpost_troops"]
    # Storm: (90 + 70 + 80) / 3 = 80 %; calm 10 %, thaw 10 %.
    assert 'data-scenario="storm" data-likelihood="0.8' in troops
    assert ">80%" in troops.replace("\xa0", "").replace(" ", "")
    words = text(html)
    # Each scenario heads its column by key, its text given above the table.
    assert '<th scope="col" class="scenario" data-scenario="storm">If storm</th>' in html
    assert "<dt>storm</dt><dd>Storm</dd>" in html
    assert "Information gain (bits)" in words
    assert "how many times likelier the signpost is under that scenario" in words
    assert "Scenario probabilities used (the panel's, round 1)" in words
    # No pseudonym of the panel anywhere on the page.
    for panelist in study.panelists:
        assert panelist.pseudonym not in html


def test_a_study_without_signposts_shows_no_matrix(client, make_study, make_user):
    study = make_study()
    make_user("lead@example.org", studies=[study])
    assert log_in(client, "lead@example.org").status_code == 302
    for path in ("results", "report"):
        page = client.get(f"/console/studies/{study.slug}/{path}")
        assert page.status_code == 200
        assert "signpost-matrix" not in page.text
