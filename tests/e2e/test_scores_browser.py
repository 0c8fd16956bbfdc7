"""Outcomes, scores and calibration in a real browser (issue 16, point 4): the console's
outcomes page with its calibration plot and tables once ten events have resolved, and
an expert's own score (the study opted in), axe-clean and no wider than the window at
1280 and 375 px."""

from __future__ import annotations

import random
from datetime import date

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.resolutions import resolve
from surveys.rounds import close_round, open_round
from surveys.settings import update_settings
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import PASSWORD
from tests.e2e.support import (
    ARTIFACTS,
    axe_violations,
    describe_violations,
    enter,
    horizontal_overflow,
    save_screenshot,
    serve_axe,
)

pytestmark = pytest.mark.e2e

TRIGGERS = (
    "trigger_officials_implicated",
    "trigger_tariffs",
    "trigger_unilateral_strike",
    "trigger_black_swan",
    "trigger_assassination",
    "trigger_violence_surge",
    "trigger_foreign_agents_law",
)


@pytest.fixture
def scored(make_study, make_panel, make_user, post_answers):
    """Six experts answer the demo's round 1 (simulated answers), which closes; the
    seven triggers and the scenario set resolve (ten events); experts see their score."""
    study = make_study()
    links = make_panel(study, 6)
    open_round(db.session, study)
    definition = study_definition(study)
    for index, link in enumerate(links):
        post_answers(link.token, simulated_answers(random.Random(index), definition))
    close_round(db.session, study)
    for number, key in enumerate(TRIGGERS):
        outcome = "yes" if number % 3 == 0 else "no"
        resolve(db.session, study, key, outcome, date(2026, 3, 1), "Reuters, 2026-03-01")
    resolve(db.session, study, "scenarios", "status_quo", date(2026, 6, 30), "Study team")
    update_settings(db.session, study, {"show_own_score": True})
    make_user("lead@example.org", studies=[study])
    return study, links


def _check(page, live_server, width, where):
    scroll_width, offenders = horizontal_overflow(page, width)
    assert scroll_width <= width, (where, offenders)
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations(where, violations)


@pytest.mark.parametrize("width", [1280, 375])
def test_outcomes_page_calibration_and_own_score(live_server, new_page, scored, artifacts, width):
    study, links = scored
    page = new_page(viewport={"width": width, "height": 900})
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/console/")
    page.goto(f"{live_server}/console/studies/{study.slug}/outcomes")
    expect(page.locator("#pool-scores tbody tr")).to_have_count(5)
    expect(page.locator("#panelist-scores tbody tr")).to_have_count(6)
    plot = page.locator("#calibration img[data-plot='calibration']")
    expect(plot).to_be_visible()
    assert page.locator("#calibration table.calibration").count() == 6
    expect(page.locator(".calibration-few")).to_be_visible()
    save_screenshot(page, artifacts, f"scores-outcomes-{width}")
    plot.scroll_into_view_if_needed()
    plot.screenshot(path=str(ARTIFACTS / f"scores-calibration-plot-{width}.png"))
    _check(page, live_server, width, f"the outcomes page ({width})")
    # Drawing every plot of the report takes a while on a busy machine.
    page.goto(f"{live_server}/console/studies/{study.slug}/report", timeout=180_000)
    expect(page.locator("#scores img[data-plot='calibration']")).to_be_visible()
    _check(page, live_server, width, f"the report ({width})")
    page.close()

    for language, link in (("en", links[0]), ("es", links[1])):
        page = new_page(viewport={"width": width, "height": 900})
        serve_axe(page, live_server)
        enter(page, live_server, link.token, lang=language)
        own = page.locator("#own-score")
        expect(own).to_be_visible()
        expect(own.locator("tr[data-score='log'] td")).to_have_count(2)
        save_screenshot(page, artifacts, f"scores-own-{language}-{width}")
        _check(page, live_server, width, f"the expert's page ({language}, {width})")
        page.close()
