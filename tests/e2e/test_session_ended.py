"""An expert whose session ended while they typed keeps every word: the page that
answers their submission holds it, and pasting their personal link continues."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.rounds import open_round
from tests.e2e.support import (
    axe_violations,
    describe_violations,
    enter,
    horizontal_overflow,
    save_screenshot,
    serve_axe,
    stored_draft,
)

pytestmark = pytest.mark.e2e

RATIONALE = "Both cabinets still talk weekly; $5 million of aid is at stake."


@pytest.mark.parametrize("width", [1280, 375])
def test_a_session_that_ended_keeps_the_answers_and_continues_with_the_link(
    live_server, new_page, make_study, make_panel, artifacts, width
):
    study = make_study()
    (me,) = make_panel(study, 1, languages=("en",))
    open_round(db.session, study)
    page = new_page(viewport={"width": width, "height": 900})
    serve_axe(page, live_server)
    enter(page, live_server, me.token)
    page.locator('input[name="trust_now"][value="4"]').check()
    page.locator('[id="field-rationale.trust_now"]').fill(RATIONALE)
    page.context.clear_cookies()  # the session ends (expired, cleared, another browser)

    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your session has ended")
    expect(page.get_by_label("Reason: trust now")).to_have_value(RATIONALE)
    save_screenshot(page, artifacts, f"session-ended-{width}")
    scroll_width, offenders = horizontal_overflow(page, width)
    assert scroll_width <= width, offenders
    serious = [
        v for v in axe_violations(page, live_server) if v["impact"] in {"serious", "critical"}
    ]
    assert not serious, describe_violations("the session-ended page", serious)

    page.get_by_label("Your personal link").fill(f"{live_server}/e/{me.token}")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".notice")).to_contain_text("kept as your draft")
    assert page.locator('input[name="trust_now"][value="4"]').is_checked()
    expect(page.locator('[id="field-rationale.trust_now"]')).to_have_value(RATIONALE)
    assert (stored_draft(me) or {}).get("rationale.trust_now") == RATIONALE
