"""The rule editor and the expert-page preview in a real browser: a scenario set that
falls back to the study's "IQR ≤ 1" is flagged, fixed with a form to "IQR ≤ 20 points"
and the warning goes; round 1 and round 2 are previewed in Spanish, marked as a
preview, and nothing is stored.  Each page is axe-clean and fits a 375 px screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from elicit.extensions import db
from surveys.models import Draft, Response, Round, RoundSummary
from surveys.rule_editing import RuleTarget, set_rule
from tests.conftest import PASSWORD
from tests.e2e.support import (
    axe_violations,
    describe_violations,
    horizontal_overflow,
    save_screenshot,
    serve_axe,
)

pytestmark = pytest.mark.e2e

SLUG = "us-mexico-intelligence"
BLOCKING = {"serious", "critical"}


def logged_in(new_page: Any, live_server: str) -> Any:
    """A 1280 px page of the facilitator, logged in, able to run axe-core."""
    page = new_page(viewport={"width": 1280, "height": 900})
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")
    return page


def checked(page: Any, live_server: str, artifacts: Path, name: str, problems: list[str]) -> None:
    """No serious axe violation, nothing beyond 375 px, screenshots at 1280 and 375 px."""
    serious = [v for v in axe_violations(page, live_server) if v["impact"] in BLOCKING]
    if serious:
        problems.append(describe_violations(name, serious))
    save_screenshot(page, artifacts, f"{name}-1280")
    page.set_viewport_size({"width": 375, "height": 800})
    width, offenders = horizontal_overflow(page, 375)
    if width > 375:
        problems.append(f"{name} at 375 px is {width} px wide: " + "; ".join(offenders[:10]))
    save_screenshot(page, artifacts, f"{name}-375")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_scenario_set_falling_back_to_iqr_one_is_flagged_and_fixed_with_the_form(
    live_server, new_page, make_study, make_user, artifacts
):
    study = make_study()
    # Without its kind's rule the scenario set falls back to the default "IQR ≤ 1".
    set_rule(db.session, study, RuleTarget.of_kind("scenario_set"), None)
    make_user("lead@example.org", studies=[study])
    page = logged_in(new_page, live_server)
    problems: list[str] = []

    page.goto(f"{live_server}/console/studies/{SLUG}/rules")
    entry = page.locator("#item-scenarios")
    expect(entry).to_contain_text("IQR at most 1 percentage point on this 0–100 % scale")
    expect(entry).to_contain_text("From the study's default rule.")
    warning = entry.locator(".rule-warning")
    expect(warning).to_have_count(1)
    checked(page, live_server, artifacts, "rules-overview", problems)

    warning.get_by_role("link", name="Fix the rule of scenarios").click()
    expect(page.get_by_role("heading", name="Consensus rule of item scenarios")).to_be_visible()
    largest = page.get_by_label("Largest IQR")
    expect(largest).to_have_value("1")
    expect(page.locator(".rule-item .rule-warning")).to_have_count(1)
    checked(page, live_server, artifacts, "rule-editor", problems)

    largest.fill("20")
    page.get_by_role("button", name="Save the rule").click()
    expect(page).to_have_url(f"{live_server}/console/studies/{SLUG}/rules#item-scenarios")
    expect(page.get_by_role("status")).to_contain_text("The rule is saved.")
    entry = page.locator("#item-scenarios")
    expect(entry).to_contain_text("IQR at most 20 percentage points on this 0–100 % scale")
    expect(entry).to_contain_text("From the item's own rule.")
    expect(entry.locator(".rule-warning")).to_have_count(0)
    assert problems == [], "\n\n".join(problems)


def count_rows() -> dict[str, int]:
    """Rows of every table an expert's page writes to."""
    db.session.expire_all()
    return {
        model.__tablename__: db.session.execute(
            select(func.count()).select_from(model)
        ).scalar_one()
        for model in (Round, Response, Draft, RoundSummary)
    }


def test_rounds_one_and_two_are_previewed_in_spanish_and_nothing_is_stored(
    live_server, new_page, make_study, make_user, artifacts
):
    study = make_study()
    make_user("lead@example.org", studies=[study])
    before = count_rows()
    page = logged_in(new_page, live_server)
    problems: list[str] = []

    page.goto(f"{live_server}/console/studies/{SLUG}")
    page.locator("#preview-links").get_by_role("link", name="Español").first.click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator(".preview-banner")).to_contain_text("nada de lo que haga aquí se guarda")
    expect(page.locator("#item-trust_now legend")).to_contain_text("confianza")
    expect(page.locator("[data-feedback-item]")).to_have_count(0)
    page.locator("#item-trust_now").get_by_text("4", exact=True).click()
    page.locator("button[name=action][value=save]").click()
    expect(page.locator(".preview-banner .notice")).to_be_visible()
    checked(page, live_server, artifacts, "preview-round-1-es", problems)

    page.locator(".preview-switch a").nth(1).click()
    expect(page).to_have_url(f"{live_server}/console/studies/{SLUG}/preview/2?lang=es")
    feedback = page.locator("#item-trust_now [data-feedback-item]")
    expect(feedback.locator("svg.distribution-chart")).to_have_count(1)
    expect(feedback.locator("[data-own]")).not_to_have_attribute("data-own", "")
    expect(page.locator("#item-trust_now input[type=radio]:checked")).to_have_count(1)
    checked(page, live_server, artifacts, "preview-round-2-es", problems)
    assert count_rows() == before
    assert problems == [], "\n\n".join(problems)
