"""axe-core finds no serious or critical violation on the console's pages, and the API
token page works in a real browser: the new token is shown once, usable, and fits a
320 px screen."""

from __future__ import annotations

import random
import re

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import PASSWORD
from tests.e2e.support import axe_violations, describe_violations, horizontal_overflow, serve_axe

pytestmark = pytest.mark.e2e

BLOCKING = {"serious", "critical"}
SLUG = "us-mexico-intelligence"


def test_console_pages_have_no_serious_accessibility_violations(
    live_server, new_page, make_study, make_panel, make_user, post_answers
):
    study = make_study()
    links = make_panel(study, 4)
    open_round(db.session, study)
    definition = study_definition(study)
    for index, link in enumerate(links):
        post_answers(link.token, simulated_answers(random.Random(index), definition))
    close_round(db.session, study)
    open_round(db.session, study)
    make_user("lead@example.org", studies=[study])

    page = new_page()
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")

    blocking: list[str] = []

    def scan(where: str) -> None:
        serious = [v for v in axe_violations(page, live_server) if v["impact"] in BLOCKING]
        if serious:
            blocking.append(describe_violations(where, serious))

    scan("studies")
    for path in ("", "/panel", "/results", "/items", "/settings", "/outbox", "/rounds/close"):
        page.goto(f"{live_server}/console/studies/{SLUG}{path}")
        scan(f"study{path or ' page'}")

    # The token page: an error, then a new token shown once, then the list.
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", exact=True)).to_be_visible()
    page.get_by_role("button", name="Create the token").click()
    expect(page.locator("#error-summary")).to_contain_text("What it is for")
    scan("tokens with an error")
    page.get_by_label("What it is for").fill("analysis notebook")
    page.get_by_label("Scope").select_option("write")
    page.get_by_role("button", name="Create the token").click()
    secret = page.locator("#new-token").inner_text()
    assert re.fullmatch(r"elicit_[A-Za-z0-9_-]{43}", secret), secret
    scan("tokens with a new token")
    page.set_viewport_size({"width": 320, "height": 800})
    width, offenders = horizontal_overflow(page, 320)
    assert width <= 320, "\n".join(offenders)

    answer = page.request.get(
        f"{live_server}/api/v1/studies", headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status == 200
    assert [study["slug"] for study in answer.json()["studies"]] == [SLUG]

    page.goto(f"{live_server}/console/tokens")
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.get_by_role("rowheader", name="analysis notebook")).to_be_visible()
    page.get_by_role("button", name="Revoke analysis notebook").click()
    expect(page.get_by_text(re.compile("revoked on"))).to_be_visible()
    refused = page.request.get(
        f"{live_server}/api/v1/studies", headers={"Authorization": f"Bearer {secret}"}
    )
    assert refused.status == 401

    assert blocking == [], "\n\n".join(blocking)
