"""Carry-over as a protocol setting, in a real browser (issue 13, point 9): after round 1
closes, the facilitator sets later rounds to start blank on the settings page (an
amendment, with its reason); the expert's round-2 page then shows every field empty,
with their own round-1 answer still beside the panel's; the results page says what
round 2 started from.  Each page axe-clean and no wider than the window at 1280 and
375 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.models import Round
from surveys.rounds import close_round, open_round
from tests.conftest import PASSWORD
from tests.e2e.support import (
    axe_violations,
    describe_violations,
    enter,
    horizontal_overflow,
    others_answer,
    save_screenshot,
    serve_axe,
)

pytestmark = pytest.mark.e2e

SLUG = "us-mexico-intelligence"


def _clean(page, live_server, where: str, width: int) -> None:
    scroll_width, offenders = horizontal_overflow(page, width)
    assert scroll_width <= width, (where, offenders)
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations(f"{where} ({width} px)", violations)


@pytest.mark.parametrize("width", [1280, 375])
def test_the_facilitator_sets_a_blank_start_and_the_expert_sees_it(
    live_server, new_page, make_study, make_panel, make_user, post_answers, artifacts, width
):
    study = make_study()
    links = make_panel(study, 4)
    open_round(db.session, study)
    others_answer(post_answers, links)
    close_round(db.session, study)
    make_user("lead@example.org", studies=[study])

    console = new_page(viewport={"width": width, "height": 900})
    serve_axe(console, live_server)
    console.goto(f"{live_server}/console/login")
    console.get_by_label("Email").fill("lead@example.org")
    console.get_by_label("Password").fill(PASSWORD)
    console.get_by_role("button", name="Log in").click()
    expect(console).to_have_url(f"{live_server}/console/")
    console.goto(f"{live_server}/console/studies/{SLUG}/settings")
    setting = console.get_by_label("Later rounds start from")
    expect(setting).to_have_value("previous")
    expect(console.locator("#carry-over-help")).to_contain_text("counts as unchanged")
    setting.select_option("blank")
    console.get_by_label("Reason for the change").fill("Avoid anchoring on round 1")
    save_screenshot(console, artifacts, f"carry-over-settings-{width}")
    _clean(console, live_server, "the settings page", width)
    console.get_by_role("button", name="Save").click()
    expect(console).to_have_url(f"{live_server}/console/studies/{SLUG}")
    expect(console.locator("#amendments")).to_contain_text("Later rounds start from")
    expect(console.locator("#protocol")).to_contain_text(
        "Currently, later rounds start blank: experts give every answer anew."
    )

    db.session.expire_all()  # the live server changed the study
    open_round(db.session, study)
    assert db.session.query(Round).filter_by(number=2).one().started_from == "blank"

    expert = new_page(viewport={"width": width, "height": 900})
    serve_axe(expert, live_server)
    enter(expert, live_server, links[0].token, lang="en")
    expect(expert.locator("#carry-over")).to_contain_text("Please give each answer again")
    # Nothing carried: every answer field is empty, no likert option is chosen...
    expect(expert.locator("input[name='trust_now']:checked")).to_have_count(0)
    expect(expert.locator("#field-scenarios\\.status_quo")).to_have_value("")
    # ...while the panel's feedback still shows the expert's own answer of round 1.
    own = expert.locator("[data-feedback-item='trust_now'] [data-own]").first
    assert own.get_attribute("data-own")
    save_screenshot(expert, artifacts, f"carry-over-expert-blank-{width}")
    _clean(expert, live_server, "the expert's blank round 2", width)

    close_round(db.session, study)
    console.goto(f"{live_server}/console/studies/{SLUG}/results")
    started = console.locator("#started-from li[data-round='2']")
    expect(started).to_have_attribute("data-started-from", "blank")
    expect(started).to_contain_text("Round 2 started blank")
    save_screenshot(console, artifacts, f"carry-over-results-{width}")
    _clean(console, live_server, "the results page", width)
