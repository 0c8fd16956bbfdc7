"""The studio builder adds a cross-impact item by choosing its scenario set and its
triggers, keeps its copies of them current, and refuses to delete what it refers to."""

from __future__ import annotations

import re
from html import unescape

import pytest

from elicit.extensions import db
from surveys.studies import find_study, study_definition
from tests.conftest import csrf_token, log_in
from tests.elicit.test_builder_pages import SLUG, build_url, start
from tests.surveys.test_cross_impact_items import SOURCE


@pytest.fixture
def lead(make_user):
    return make_user("lead@example.org")


@pytest.fixture
def console(client, lead):
    log_in(client, "lead@example.org")
    return client


def _import(console) -> None:
    """The draft becomes the cross-impact test study, without its cross-impact item."""
    source = SOURCE.split('[[items]]\nkey = "impact"')[0]
    page = console.get(build_url("/import"))
    replaced = console.post(
        build_url("/import"), data={"csrf_token": csrf_token(page.text), "source": source}
    )
    assert replaced.status_code == 303, replaced.text


def _new_item(console, **fields: str | list[str]):
    page = console.get(build_url("/items/new?kind=cross_impact"))
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_token(page.text),
        "kind": "cross_impact",
        "text_en": "If each happens, which future?",
        "text_es": "Si ocurre, ¿qué futuro?",
        "help_en": "",
        "help_es": "",
        "section": "",
        "rationale": "y",
        "key": "impact",
        "action": "save",
        **fields,
    }
    return page, console.post(build_url("/items/new"), data=data)


def test_the_builder_offers_the_studys_scenario_sets_and_probability_items(console, lead):
    """The form lists the scenario set and both probability items, labelled."""
    start(console, languages="en, es")
    _import(console)
    page, _ = _new_item(console, scenario_item="futures", triggers=["war", "boom"])
    text = unescape(page.text)
    assert re.search(r'<option value="futures">Which future\? \(futures\)</option>', text)
    assert 'type="checkbox" value="war"' in text or 'value="war" type="checkbox"' in text
    assert "A boom. (boom)" in text
    assert "Scenarios and triggers" in text


def test_a_cross_impact_item_is_added_and_follows_its_scenario_set(console, lead):
    """Saved with its copies of the scenarios and the triggers' texts; renaming a
    scenario in the scenario set updates the copy; deleting a trigger is refused."""
    start(console, languages="en, es")
    _import(console)
    _, saved = _new_item(console, scenario_item="futures", triggers=["war", "boom"])
    assert saved.status_code == 303, unescape(saved.text)
    db.session.expire_all()
    item = study_definition(find_study(db.session, SLUG)).items[-1]
    assert item.kind == "cross_impact"
    assert item.components == ("war:good", "war:bad", "boom:good", "boom:bad")
    assert item.triggers[1].text.get("en") == "A boom."
    shown = unescape(console.get(build_url("/items/impact")).text)
    assert re.search(r'<option selected value="futures">|<option value="futures" selected>', shown)
    assert re.search(r'checked[^>]*value="war"|value="war"[^>]*checked', shown)
    written = console.get(build_url("/definition.toml")).text
    assert 'triggers = ["war", "boom"]' in written

    page = console.get(build_url("/items/boom"))
    data = {
        "csrf_token": csrf_token(page.text),
        "text_en": "An economic boom.",
        "text_es": "Un auge económico.",
        "help_en": "",
        "help_es": "",
        "section": "",
        "rationale": "y",
        "key": "boom",
        "action": "save",
    }
    assert console.post(build_url("/items/boom"), data=data).status_code == 303
    db.session.expire_all()
    item = study_definition(find_study(db.session, SLUG)).items[-1]
    assert item.triggers[1].text.get("en") == "An economic boom."

    page = console.get(build_url())
    refused = console.post(
        build_url("/items/war/delete"), data={"csrf_token": csrf_token(page.text)}
    )
    assert refused.status_code in (303, 409)
    db.session.expire_all()
    assert "war" in {i.key for i in study_definition(find_study(db.session, SLUG)).items}


def test_a_missing_scenario_set_is_named_on_its_field(console, lead):
    """No scenario set chosen, no trigger ticked: both problems on their fields, what
    was typed kept."""
    start(console, languages="en, es")
    _import(console)
    _, refused = _new_item(console, scenario_item="", triggers=[])
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert "If each happens, which future?" in text
    assert "name a scenario_set item" in text or "required field is missing" in text
