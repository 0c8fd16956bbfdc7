"""Preview as an expert: the real expert page of a study, round 1 and a later round with
simulated feedback, in each language; nothing is stored, no form reaches a real one."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from elicit.extensions import db
from surveys.models import AuditEvent, Draft, Item, ItemVersion, Response, Round, RoundSummary
from tests.conftest import csrf_token, log_in

#: Every table a visit to an expert's page could write to.
STORED = (Round, Response, Draft, RoundSummary, AuditEvent, Item, ItemVersion)


def counts() -> dict[str, int]:
    """How many rows each table that a preview must not touch holds."""
    db.session.expire_all()
    count = select(func.count())
    return {
        model.__tablename__: db.session.execute(count.select_from(model)).scalar_one()
        for model in STORED
    }


@pytest.fixture
def facilitator(client, make_study, make_user):
    """A demo study before round 1, and its facilitator logged in."""
    study = make_study()
    make_user("lead@example.org", studies=[study])
    assert log_in(client, "lead@example.org").status_code == 302
    return study


def test_round_one_is_the_expert_page_marked_as_a_preview(client, facilitator):
    page = client.get(f"/console/studies/{facilitator.slug}/preview/1?lang=en")
    assert page.status_code == 200
    html = page.text
    assert "Preview — nothing you do here is saved" in html
    assert "Round 1 of at most 3" in html
    # Every item of the study is there, as an expert sees it, without feedback.
    assert html.count('class="item"') == len(facilitator.items)
    assert "data-feedback-item" not in html
    # No address leads to an expert's page: the form posts to the preview itself.
    assert 'action="/e/' not in html and 'href="/e/' not in html
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*id="answers"', html)
    assert form and form.group(1).startswith(f"/console/studies/{facilitator.slug}/preview/1")
    assert f'data-autosave="/console/studies/{facilitator.slug}/preview/1/autosave"' in html


def test_round_two_shows_simulated_feedback_beside_the_previous_answer_in_spanish(
    client, facilitator
):
    page = client.get(f"/console/studies/{facilitator.slug}/preview/2?lang=es")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="es">' in html
    assert "Vista previa — nada de lo que haga aquí se guarda" in html
    # The Spanish texts of the study, and feedback on every numeric item.
    assert "Confianza" in html or "confianza" in html
    # (Seed questions give no panel feedback: they measure each expert's calibration.)
    numeric = [item for item in facilitator.items if item.kind not in ("open_text", "seed")]
    assert html.count("data-feedback-item=") == len(numeric)
    # Charts of the panel's answers, each with the expert's previous answer marked.
    charts = re.findall(r'<svg[^>]*class="distribution-chart"', html)
    assert len(charts) >= len(numeric) - 1  # rankings are tables, not charts
    own = re.findall(r'data-own="([^"]*)"', html)
    assert own and all(value != "" for value in own)
    # The previous answer fills the inputs, to keep or revise.
    trust = re.search(r'name="trust_now" value="(\d)" checked', html)
    assert trust is not None


def test_a_preview_stores_nothing_whatever_is_pressed(client, facilitator):
    before = counts()
    slug = facilitator.slug
    for number in (1, 2):
        page = client.get(f"/console/studies/{slug}/preview/{number}?lang=en")
        token = csrf_token(page.text)
        for action in ("save", "review", "submit"):
            answered = client.post(
                f"/console/studies/{slug}/preview/{number}?lang=en",
                data={"csrf_token": token, "action": action, "trust_now": "4"},
            )
            assert answered.status_code == 200, answered.text
            assert "Preview — nothing you do here is saved" in answered.text
        saved = client.post(
            f"/console/studies/{slug}/preview/{number}/autosave",
            data={"csrf_token": token, "trust_now": "4"},
            headers={"X-CSRFToken": token},
        )
        assert saved.status_code == 200
        assert saved.json["message"] == "Preview: nothing is saved."
    assert counts() == before


def test_a_wrong_answer_gets_the_expert_page_message_and_nothing_is_kept(client, facilitator):
    slug = facilitator.slug
    token = csrf_token(client.get(f"/console/studies/{slug}/preview/1").text)
    answered = client.post(
        f"/console/studies/{slug}/preview/1",
        data={"csrf_token": token, "action": "submit", "trigger_tariffs": "140"},
    )
    assert answered.status_code == 200
    assert 'class="error-summary"' in answered.text
    assert 'value="140"' in answered.text  # what was typed stays on the page
    again = client.get(f"/console/studies/{slug}/preview/1")
    assert 'value="140"' not in again.text


def test_review_lists_what_is_unanswered_inside_the_preview(client, facilitator):
    slug = facilitator.slug
    token = csrf_token(client.get(f"/console/studies/{slug}/preview/1").text)
    review = client.post(
        f"/console/studies/{slug}/preview/1",
        data={"csrf_token": token, "action": "review", "trust_now": "4"},
    )
    assert review.status_code == 200
    assert "Preview — nothing you do here is saved" in review.text
    assert 'id="unanswered"' in review.text
    assert 'action="/e/' not in review.text and 'href="/e/' not in review.text


def test_a_round_beyond_the_study_is_not_found(client, facilitator):
    assert client.get(f"/console/studies/{facilitator.slug}/preview/4").status_code == 404
    assert client.get(f"/console/studies/{facilitator.slug}/preview/0").status_code == 404


def test_a_later_round_shows_the_previewing_expert_s_own_coherence(client, facilitator):
    from surveys.preview import PANEL_SIZE, simulated_coherence, simulated_panel
    from surveys.studies import study_definition

    definition = study_definition(facilitator)
    (item,) = [item for item in definition.items if item.kind == "cross_impact"]
    panel = simulated_panel(definition, max(PANEL_SIZE, definition.feedback_min_n))
    record = simulated_coherence(definition, 1, panel)[item.key]
    # The first simulated expert's own answers, checked by the analysis directly: the
    # record is theirs, not the panel's.
    triggers = [trigger.key for trigger in item.triggers]
    assert all(key in panel[0] for key in (item.key, item.scenario_item, *triggers))
    state = (
        "infeasible"
        if not record.get("feasible", True)
        else "coherent"
        if record["coherent"]
        else "incoherent"
    )
    html = client.get(f"/console/studies/{facilitator.slug}/preview/2?lang=en").text
    block = html.split(f'id="item-{item.key}"', 1)[1].split("data-coherence", 1)
    assert len(block) == 2, "no coherence block on the cross-impact item"
    assert f"coherence-{state}" in block[0][-200:]
    assert "Your own answers in round 1 (only you see this)" in block[1][:400]
    spanish = client.get(f"/console/studies/{facilitator.slug}/preview/2?lang=es").text
    assert "data-coherence" in spanish
    # Round 1 has no previous round: no block.
    assert "data-coherence" not in client.get(f"/console/studies/{facilitator.slug}/preview/1").text
