"""axe-core (from npm) finds no serious or critical accessibility violation on the
pages an expert sees: both languages, feedback, errors, review, an invalid link."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.rounds import close_round, open_round
from tests.e2e.support import (
    axe_violations,
    describe_violations,
    enter,
    others_answer,
    serve_axe,
)

pytestmark = pytest.mark.e2e

BLOCKING = {"serious", "critical"}


def test_expert_pages_have_no_serious_accessibility_violations(
    live_server, new_page, make_study, make_panel, post_answers
):
    study = make_study()
    english, spanish, *others = make_panel(study, 5, languages=("en", "es"))
    open_round(db.session, study)
    blocking: list[str] = []
    minor: list[str] = []

    def scan(page, where: str) -> None:
        violations = axe_violations(page, live_server)
        serious = [v for v in violations if v["impact"] in BLOCKING]
        if serious:
            blocking.append(describe_violations(where, serious))
        if len(serious) < len(violations):
            minor.append(describe_violations(where, [v for v in violations if v not in serious]))

    page = new_page()
    serve_axe(page, live_server)
    enter(page, live_server, english.token)
    scan(page, "round 1 (English)")

    # Validation errors: scenarios adding up to 95, a ranking with a repeated place.
    for key, value in (("status_quo", "70"), ("rift", "20"), ("renewal", "5")):
        page.locator(f'[id="field-scenarios.{key}"]').fill(value)
    page.locator('[id="field-driver_ranking.trust"]').select_option("1")
    page.locator('[id="field-driver_ranking.trade"]').select_option("1")
    page.locator('button[name="action"][value="review"]:not([aria-hidden])').click()
    # The summary takes the focus, names the problems and links to each field.
    # (expect(), not wait_for_function: a string predicate is evaluated with eval, which
    # the page's Content-Security-Policy rightly refuses once polling starts.)
    expect(page.locator("#error-summary")).to_be_focused()
    assert "add up to 95 %" in page.locator("#error-summary").inner_text()
    targets = page.locator("#error-summary a").evaluate_all(
        "links => links.map(a => [a.hash, !!document.getElementById(a.hash.slice(1))])"
    )
    assert len(targets) >= 2
    assert all(found for _, found in targets), targets
    scan(page, "round 1 with validation errors")

    page.locator('[id="field-scenarios.renewal"]').fill("10")
    page.locator('[id="field-driver_ranking.trust"]').select_option("")
    page.locator('[id="field-driver_ranking.trade"]').select_option("")
    page.locator('button[name="action"][value="review"]:not([aria-hidden])').click()
    expect(page.locator("#unanswered li").first).to_be_visible()
    scan(page, "review page (round 1)")

    page_es = new_page(locale="es-ES")
    serve_axe(page_es, live_server)
    enter(page_es, live_server, spanish.token, lang="es")
    assert page_es.locator("html").get_attribute("lang") == "es"
    scan(page_es, "round 1 (Spanish)")

    others_answer(post_answers, others)
    close_round(db.session, study)
    open_round(db.session, study)
    page.goto(f"{live_server}/e/")
    assert page.locator("svg.distribution-chart").count() > 10
    scan(page, "round 2 with feedback (English)")
    page_es.goto(f"{live_server}/e/")
    scan(page_es, "round 2 with feedback (Spanish)")

    response = page.goto(f"{live_server}/e/this-link-is-not-valid")
    assert response is not None and response.status == 404
    scan(page, "invalid personal link (404)")

    if minor:
        print("\n\n".join(["axe-core, moderate and minor findings:", *minor]))
    assert not blocking, "\n\n".join(blocking)
