"""Items between rounds in a real browser: after round 1 a facilitator tags two open-text
answers into a group, makes an item from it placed after a chosen item, rewords
another item with its wording now beside the fields, retires a third, each with a
reason; opens round 2; and finds the changes on the expert's page and in the study's
amendments.  Each page is axe-clean and fits a 375 px screen."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.protocol import amendments
from surveys.rounds import close_round, open_round
from tests.e2e.support import enter
from tests.e2e.test_rules_and_preview_browser import checked, logged_in

pytestmark = pytest.mark.e2e

SLUG = "us-mexico-intelligence"
ITEMS = f"/console/studies/{SLUG}/items"
ANSWERS = ["Cyberattacks on port systems.", "Drones over the border.", "Port security budgets."]
NEW_QUESTION = "A cartel cyberattack shuts down a major Mexican port?"
REWORDED = "How much trust do you expect between the security leaders in five years?"


def test_facilitator_curates_items_between_rounds_with_forms_only(
    live_server, new_page, make_study, make_panel, make_user, post_answers, artifacts
):
    study = make_study()
    links = make_panel(study, len(ANSWERS))
    open_round(db.session, study)
    for link, text in zip(links, ANSWERS, strict=True):
        post_answers(link.token, {"missing_factors": text, "trust_now": "4"})
    close_round(db.session, study)
    make_user("lead@example.org", studies=[study])

    page = logged_in(new_page, live_server)
    problems: list[str] = []

    def check(name: str) -> None:
        """No serious axe violation, nothing wider than 375 px; screenshots at 1280
        and 375 px."""
        checked(page, live_server, artifacts, f"items-{name}", problems)

    # The items page says which items reached consensus in round 1.
    page.goto(f"{live_server}{ITEMS}")
    expect(page.locator("#at-consensus")).to_contain_text("trust_now")
    check("list")

    # Two answers tagged into one group; the group starts the new item.
    page.get_by_role("link", name="Add an item").click()
    page.get_by_label("Group of answer 1").fill("Ports")
    page.get_by_label("Group of answer 3").fill("Ports")
    page.get_by_role("button", name="Save the groups").click()
    group = page.locator(".answer-group")
    expect(group).to_have_count(1)
    expect(group.get_by_role("listitem")).to_have_text([ANSWERS[0], ANSWERS[2]])
    check("add-groups")
    page.get_by_role("button", name="Make an item from “Ports”").click()
    expect(page.locator("#from-group")).to_be_visible()
    question_en = page.get_by_label("Question (English)")
    expect(question_en).to_have_value("Ports")
    expect(page.get_by_label("Reason for the change (required)")).to_have_value(
        re.compile("From the group “Ports”")
    )
    question_en.fill(NEW_QUESTION)
    page.get_by_label("Short name").fill("port_cyberattack")
    page.get_by_label("Section").select_option(label="Triggers")
    page.get_by_label("Where it goes").select_option("after:trigger_tariffs")
    # Forgetting the Spanish question: named on its field, everything typed kept.
    page.get_by_role("button", name="Add the item").click()
    expect(page.locator("#error-summary")).to_contain_text("Question (Spanish)")
    expect(question_en).to_have_value(NEW_QUESTION)
    expect(page.get_by_label("Where it goes")).to_have_value("after:trigger_tariffs")
    expect(page.get_by_label("Group of answer 1")).to_have_value("Ports")
    check("add-refused")
    page.get_by_label("Question (Spanish)").fill(
        "¿Un ciberataque de un cártel paraliza un gran puerto mexicano?"
    )
    page.get_by_role("button", name="Add the item").click()
    expect(page.locator("#item-port_cyberattack")).to_be_visible()

    # Another item reworded, the wording now shown beside its field.
    page.goto(f"{live_server}{ITEMS}/trust_horizon/reword")
    expect(page.locator("#text_en-now")).to_contain_text("How much trust do you expect")
    expect(page.get_by_label("Highest point")).to_be_disabled()
    check("reword")
    page.get_by_label("Question (English)").fill(REWORDED)
    page.get_by_label("Reason for the change (required)").fill("Say who is meant.")
    page.get_by_role("button", name="Save as version 2").click()
    expect(page.locator("#item-trust_horizon")).to_contain_text(REWORDED)

    # A third retired, with its reason.
    page.get_by_label("Reason for retiring agenda_now").fill("Asked twice in effect.")
    page.get_by_role("button", name="Retire agenda_now").click()
    expect(page.locator("#item-agenda_now .retired")).to_contain_text("Asked twice in effect.")
    check("list-after")

    # Round 2 opens; the study page lists the three amendments.
    page.goto(f"{live_server}/console/studies/{SLUG}")
    page.get_by_role("button", name="Open round 2").click()
    expect(page.locator('#plan-left li[data-item="agenda_now"]')).to_contain_text(
        "Asked twice in effect."
    )
    # trust_now, the one rated item answered, reached consensus: the rule says stop.
    page.get_by_label(re.compile("I open round 2 anyway")).check()
    page.get_by_role("button", name="Open round 2", exact=True).click()
    for what in ("items.port_cyberattack", "items.trust_horizon"):
        row = page.locator(f'#amendments tr[data-what="{what}"]')
        expect(row.locator(".first-round")).to_have_text("2")
    expect(page.locator("#amendments")).to_contain_text("Asked twice in effect.")
    assert sorted(a.what for a in amendments(db.session, study)) == [
        "items.agenda_now",
        "items.port_cyberattack",
        "items.trust_horizon",
    ]

    # The expert's page: the new item after trigger_tariffs, the new wording, no agenda_now.
    expert = new_page(viewport={"width": 1280, "height": 900})
    enter(expert, live_server, links[0].token)
    keys = expert.locator("section.item").evaluate_all("s => s.map(e => e.dataset.item)")
    assert keys[keys.index("trigger_tariffs") + 1] == "port_cyberattack"
    assert "agenda_now" not in keys
    expect(expert.locator("#item-trust_horizon")).to_contain_text(REWORDED)
    expect(expert.locator("#item-port_cyberattack")).to_contain_text(NEW_QUESTION)
    assert problems == [], "\n".join(problems)
