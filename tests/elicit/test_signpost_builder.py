"""Signposts in the study builder (issue 16, point 2): the facilitator adds a signpost
by choosing the scenario set it is rated against; it follows that set's scenarios."""

from __future__ import annotations

from dataclasses import replace

import pytest

from elicit.extensions import db
from surveys import builder
from surveys.definition import Choice, LocalizedText
from surveys.errors import Conflict
from surveys.studies import find_study, study_definition
from tests.conftest import csrf_token, log_in

SLUG = "water-2040"


def build_url(path: str = "") -> str:
    return f"/console/studies/{SLUG}/build{path}"


@pytest.fixture
def console(client, make_user):
    """A blank study in English, its facilitator logged in."""
    make_user("lead@example.org")
    log_in(client, "lead@example.org")
    page = client.get("/console/studies/new")
    client.post(
        "/console/studies/new/start",
        data={
            "csrf_token": csrf_token(page.text),
            "new-start": "blank",
            "new-slug": SLUG,
            "new-languages": "en",
            "new-title": "Water in 2040",
            "new-anonymity": "standard",
        },
    )
    return client


def add(console, kind: str, **fields: str):
    """Post the new-item form of ``kind`` with ``fields``."""
    page = console.get(build_url(f"/items/new?kind={kind}"))
    return console.post(
        build_url("/items/new"),
        data={"csrf_token": csrf_token(page.text), "kind": kind, "action": "save", **fields},
    )


def add_scenarios(console):
    saved = add(
        console,
        "scenario_set",
        key="futures",
        text_en="Which future?",
        choice_count="2",
        choice_0_text_en="Drought",
        choice_1_text_en="Flood",
    )
    assert saved.status_code == 303


def test_a_signpost_is_added_by_choosing_its_scenario_set(console):
    offered = console.get(build_url("/items/new"))
    assert "Signpost (how likely under each scenario)" in offered.text
    empty = console.get(build_url("/items/new?kind=signpost"))
    assert "This study has no scenario set yet" in empty.text
    add_scenarios(console)
    form = console.get(build_url("/items/new?kind=signpost")).text
    assert '<option value="futures">Which future? (futures)</option>' in form
    refused = add(console, "signpost", text_en="Reservoirs fall below 20 %.")
    assert refused.status_code == 422
    assert '<p class="field-error" id="scenario_item-error">required field is missing</p>' in (
        refused.text
    )
    saved = add(console, "signpost", text_en="Reservoirs fall below 20 %.", scenario_item="futures")
    assert saved.status_code == 303, saved.text
    (signpost,) = [
        item
        for item in study_definition(find_study(db.session, SLUG)).items
        if item.kind == "signpost"
    ]
    assert signpost.scenario_item == "futures"
    assert signpost.components == ("drought", "flood")


def test_a_signpost_follows_its_scenario_set_and_keeps_it(console):
    add_scenarios(console)
    add(console, "signpost", key="reservoirs", text_en="Reservoirs fall.", scenario_item="futures")
    study = find_study(db.session, SLUG)
    scenario_set = next(item for item in study_definition(study).items if item.key == "futures")
    steady = Choice("steady", LocalizedText((("en", "Steady"),)))
    grown = replace(scenario_set, key="future", scenarios=(*scenario_set.scenarios, steady))
    builder.update_item(db.session, study, "futures", grown)
    signpost = next(item for item in study_definition(study).items if item.key == "reservoirs")
    assert signpost.scenario_item == "future"
    assert signpost.components == ("drought", "flood", "steady")
    with pytest.raises(Conflict, match="reservoirs"):
        builder.delete_item(db.session, study, "future")
