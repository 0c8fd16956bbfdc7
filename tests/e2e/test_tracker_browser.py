"""The scenario tracker in a browser (issue 16, point 3): a facilitator records two
observations through the form, sees the timeline, and the study page and report show
it; at 1280 and 375 px nothing is wider than the screen and axe finds nothing."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.tracking import record
from tests.conftest import PASSWORD
from tests.e2e.support import (
    ARTIFACTS,
    axe_violations,
    describe_violations,
    horizontal_overflow,
    save_screenshot,
    serve_axe,
)
from tests.surveys.test_tracking import add_items, close_with_contract

pytestmark = pytest.mark.e2e

SLUG = "us-mexico-intelligence"


@pytest.mark.parametrize("width", [1280, 375])
def test_record_observations_and_read_the_timeline(
    live_server, new_page, artifacts, make_study, make_panel, make_user, width
):
    study = make_study()
    close_with_contract(study, make_panel)
    add_items(study)
    make_user("lead@example.org", studies=[study])
    record(
        db.session,
        study,
        kind="trigger",
        item_key="trigger_tariffs",
        observed_on=date(2026, 4, 2),
        note="Diario Oficial de la Federación, 2 April",
    )

    page = new_page(viewport={"width": width, "height": 900})
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/console/")

    page.goto(f"{live_server}/console/studies/{SLUG}")
    page.get_by_role("link", name="Scenario tracker").first.click()
    page.get_by_label("Signpost or trigger").select_option("signpost_a")
    page.get_by_label("What was observed").select_option("seen")
    page.get_by_label("Date observed").fill("2026-03-01")
    page.get_by_label("Source or note").fill("El Universal, 1 March: $5 = 100 %")
    page.get_by_role("button", name="Record the observation").click()
    page.wait_for_selector("#timeline-table tr[data-step='2']")
    # Signpost a seen on 1 March, then the tariffs trigger on 2 April: by hand
    # .2/.6/.2 × .8/.2/.5 = .16/.12/.10 of .38.
    cells = page.locator("#timeline-table tr[data-step='2'] td[data-scenario]")
    assert cells.nth(0).inner_text().startswith("42.1\N{NO-BREAK SPACE}%")
    expect(page.locator("img[data-plot='tracker']")).to_be_visible()
    scroll_width, offenders = horizontal_overflow(page, width)
    save_screenshot(page, artifacts, f"tracker-{width}")
    assert scroll_width <= width, offenders
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations(f"tracker ({width} px)", violations)

    # A wrong combination is named on its field.
    page.get_by_label("Signpost or trigger").select_option("trigger_tariffs")
    page.get_by_label("What was observed").select_option("not_seen")
    page.get_by_label("Date observed").fill("2026-03-05")
    page.get_by_label("Source or note").fill("x")
    page.get_by_role("button", name="Record the observation").click()
    expect(page.locator(".error-summary")).to_contain_text("This is a trigger")
    save_screenshot(page, artifacts, f"tracker-error-{width}")
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations(f"tracker error ({width} px)", violations)

    page.goto(f"{live_server}/console/studies/{SLUG}")
    expect(page.locator("#tracker-now")).to_be_visible()
    section = page.locator("#tracker-state")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    section.screenshot(path=str(ARTIFACTS / f"study-tracker-{width}.png"))
    assert horizontal_overflow(page, width)[0] <= width

    page.goto(f"{live_server}/console/studies/{SLUG}/report#tracker")
    report = page.locator("section#tracker")
    expect(report.locator("img[data-plot='tracker']")).to_be_visible()
    report.screenshot(path=str(ARTIFACTS / f"report-tracker-{width}.png"))
    assert horizontal_overflow(page, width)[0] <= width


def test_the_tracker_in_spanish(
    live_server, new_page, artifacts, make_study, make_panel, make_user
):
    study = make_study()
    close_with_contract(study, make_panel)
    add_items(study)
    make_user("lead@example.org", studies=[study])
    for offset, kind, key, seen in (
        (0, "signpost", "signpost_a", True),
        (3, "signpost", "signpost_b", False),
    ):
        record(
            db.session,
            study,
            kind=kind,
            item_key=key,
            observed_on=date(2026, 3, 1 + offset),
            seen=seen,
            note="El Universal",
        )
    page = new_page(viewport={"width": 375, "height": 900})
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login?lang=es")
    page.locator("input[name=email]").fill("lead@example.org")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{live_server}/console/")
    page.goto(f"{live_server}/console/studies/{SLUG}/tracker?lang=es")
    text = page.locator("main").inner_text()
    for english in ("Scenario tracker", "Record an observation", "Assumption.", "Sensitivity."):
        assert english not in text, english
    save_screenshot(page, artifacts, "tracker-es-375")
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations("tracker in Spanish", violations)
    page.goto(f"{live_server}/console/studies/{SLUG}/report?lang=es#tracker")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("section#tracker").screenshot(path=str(ARTIFACTS / "report-tracker-es-375.png"))
