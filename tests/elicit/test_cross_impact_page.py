"""A cross-impact item on the expert's page: one scenario set per trigger, its errors,
the review, and each expert's own coherence shown to them alone in the next round."""

from __future__ import annotations

import re

from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.panel import panelist_for_token
from surveys.rounds import close_round, open_round
from tests.conftest import csrf_token, enter, log_in
from tests.surveys.test_cross_impact_items import ANSWERS, SOURCE, _form


def test_each_trigger_is_a_scenario_set_on_the_page(client, make_study, make_panel):
    """Every trigger has its own labelled set, its inputs named trigger:scenario."""
    study = make_study(SOURCE)
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    enter(client, link.token, lang="en")
    page = client.get("/e/").text
    assert "If “A war breaks out” happens:" in page
    assert "If “A boom” happens:" in page
    for name in ("impact.war:good", "impact.war:bad", "impact.boom:good", "impact.boom:bad"):
        assert f'id="field-{name}" name="{name}"' in page
        assert f'<label for="field-{name}">' in page
    assert page.count("data-scenario-set") == 3  # the scenario item and two triggers
    enter(client, link.token, lang="es")
    spanish = client.get("/e/").text
    assert "<legend>Si ocurre «Estalla una guerra»:</legend>" in spanish


def test_a_wrong_total_is_named_by_its_trigger(client, make_study, make_panel):
    """The error sits on the trigger's set and names the question and the trigger;
    what was typed stays on the page."""
    study = make_study(SOURCE)
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    enter(client, link.token, lang="en")
    token = csrf_token(client.get("/e/").text)
    response = client.post(
        "/e/",
        data={
            "csrf_token": token,
            "action": "submit",
            "impact.war:good": "30",
            "impact.war:bad": "30",
            "impact.boom:good": "=1+1",
            "impact.boom:bad": "$",
        },
    )
    page = response.text
    assert 'id="error-impact.war"' in page
    assert "The scenarios add up to 60 %; they must add up to 100 %." in page
    assert "Question 4, trigger 1: The scenarios add up to 60 %" in page
    assert 'id="error-impact.boom:good"' in page
    assert "Question 4, trigger 2, scenario 1" in page
    assert 'value="=1+1"' in page and 'value="$"' in page


def test_the_review_lists_each_trigger_row(client, make_study, make_panel):
    """The review page shows each answered share under its trigger."""
    study = make_study(SOURCE)
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    enter(client, link.token, lang="en")
    token = csrf_token(client.get("/e/").text)
    response = client.post(
        "/e/",
        data={
            "csrf_token": token,
            "action": "review",
            "impact.war:good": "25",
            "impact.war:bad": "75",
        },
    )
    assert response.status_code in (200, 302)
    page = client.get(response.location).text if response.status_code == 302 else response.text
    assert "If “A war breaks out” happens: Good" in page
    assert "75 %" in page


def _coherence_block(page: str) -> str:
    match = re.search(r'<div class="coherence[^"]*" data-coherence>(.*?)</div>', page, re.S)
    return match.group(1) if match else ""


def test_coherence_is_shown_to_its_expert_alone(client, make_study, make_panel):
    """In round 2 the incoherent expert reads their own gaps; the others read theirs
    (coherent) and never the incoherent expert's numbers."""
    study = make_study(SOURCE)
    links = make_panel(study, 3)
    open_round(db.session, study)
    for link, answers in zip(links, ANSWERS, strict=True):
        submit_responses(db.session, panelist_for_token(db.session, link.token), _form(*answers))
    close_round(db.session, study)
    open_round(db.session, study)

    enter(client, links[2].token, lang="en")
    own = _coherence_block(client.get("/e/").text)
    assert "only you see this" in own
    assert "Your answers imply 35 % to 73 % for “Good”; you gave 90 %." in own
    assert "Your answers imply 27 % to 65 % for “Bad”; you gave 10 %." in own
    assert "Good: 73 %; Bad: 27 %" in own

    for other in links[:2]:
        enter(client, other.token, lang="en")
        page = client.get("/e/").text
        block = _coherence_block(page)
        assert "fitted your probabilities" in block
        assert "you gave 90 %" not in page and "73 %" not in page


def test_results_report_and_download_show_each_triggers_impact(
    client, make_study, make_panel, make_user
):
    """The facilitator's results page, the report and its download hold the impact
    table (pooled conditional and unconditional, shift, spread), and no pseudonym."""
    study = make_study(SOURCE)
    links = make_panel(study, 3)
    open_round(db.session, study)
    for link, answers in zip(links, ANSWERS, strict=True):
        submit_responses(db.session, panelist_for_token(db.session, link.token), _form(*answers))
    close_round(db.session, study)
    make_user("facilitator@example.org", studies=[study])
    log_in(client, "facilitator@example.org")
    for address in (
        "/console/studies/cross-study/results",
        "/console/studies/cross-study/report",
        "/console/studies/cross-study/report/download",
    ):
        page = client.get(address).text
        assert '<div class="impact-tables" id="impact-impact">' in page, address
        tables = page.split('<div class="impact-tables" id="impact-impact">', 1)[1]
        assert "If “A war breaks out” happens:" in tables
        row = re.search(
            r'<tr data-trigger="war" data-scenario="good">(.*?)</tr>', tables, re.S
        ).group(1)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        # Pooled P(good | war) = (20 + 40 + 10) / 3 = 23.3; P(good) = (60 + 50 + 90) / 3
        # = 66.7; shift −43.3; the experts' shifts −40, −10, −80: sd 35.1.
        assert cells[:4] == ["23.3", "66.7", "-43.3", "35.1"], (address, cells)
        assert "2 of 3 experts" in page
        for link in links:
            assert link.pseudonym not in page
