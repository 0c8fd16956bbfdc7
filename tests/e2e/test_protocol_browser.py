"""Pre-registration in a real browser: a facilitator whose study asks at each close ticks
an item at consensus by keyboard, closes, is asked for a reason when changing a setting
of the stamped protocol, and finds the amendment on the study page; each page is
axe-clean and fits a 375 px screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.protocol import amendments, protocol_stamp
from surveys.rounds import open_round
from surveys.settings import update_settings
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


def test_facilitator_ticks_an_item_at_consensus_then_amends_with_a_reason(
    live_server, new_page, make_study, make_panel, make_user, post_answers, artifacts
):
    study = make_study()
    update_settings(db.session, study, {"consensus_items": "ask"})
    links = make_panel(study, 4)
    open_round(db.session, study)
    for link, now, horizon in zip(links, [4, 4, 4, 5], [1, 2, 4, 5], strict=True):
        post_answers(link.token, {"trust_now": str(now), "trust_horizon": str(horizon)})
    make_user("lead@example.org", studies=[study])
    stamp = protocol_stamp(db.session, study)
    assert stamp is not None

    page = new_page(viewport={"width": 1280, "height": 900})
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")
    problems: list[str] = []

    def check(name: str, *parts: str) -> None:
        """No serious axe violation; ``parts`` (the page if none) fit 375 px, a wide
        table scrolling in its own box; screenshots at 1280 and 375 px."""
        serious = [v for v in axe_violations(page, live_server) if v["impact"] in BLOCKING]
        if serious:
            problems.append(describe_violations(name, serious))
        save_screenshot(page, artifacts, f"protocol-{name}-1280")
        page.set_viewport_size({"width": 375, "height": 800})
        if not parts:
            width, offenders = horizontal_overflow(page, 375)
            if width > 375:
                problems.append(f"{name} at 375 px is {width} px wide: " + "; ".join(offenders))
        for part in parts:
            for box in page.locator(f"{part}, {part} .table-scroll").all():
                right = box.evaluate("element => element.getBoundingClientRect().right")
                if right > 375:
                    problems.append(f"{name}: {part} ends at {right} px on a 375 px screen")
        save_screenshot(page, artifacts, f"protocol-{name}-375")
        page.set_viewport_size({"width": 1280, "height": 900})

    # The close: the item at consensus is offered, ticked with the keyboard.
    page.goto(f"{live_server}/console/studies/{SLUG}/rounds/close")
    choice = page.get_by_role("checkbox", name="trust_now")
    expect(page.get_by_role("checkbox")).to_have_count(1)
    check("close")
    choice.focus()
    page.keyboard.press("Space")
    expect(choice).to_be_checked()
    page.get_by_role("button", name="Close the round").click()
    expect(page.get_by_text("left the next round (retired): trust_now.")).to_be_visible()

    # The settings of a stamped protocol: no reason, refused; a reason, saved.
    page.goto(f"{live_server}/console/studies/{SLUG}/settings")
    expect(page.locator("#amendment-notice")).to_be_visible()
    page.get_by_label("Minimum number of answers for feedback").fill("4")
    page.get_by_role("button", name="Save the settings").click()
    expect(page.locator("#error-summary")).to_contain_text("Reason for the change")
    expect(page.get_by_label("Minimum number of answers for feedback")).to_have_value("4")
    check("settings-refused")
    page.get_by_label("Reason for the change").fill("Only four experts answered round 1.")
    page.get_by_role("button", name="Save the settings").click()
    expect(page).to_have_url(f"{live_server}/console/studies/{SLUG}")

    # The study page: the stamp, and the amendment from round 2.
    expect(page.locator("#protocol-stamp")).to_contain_text(stamp.sha256[:12])
    row = page.locator('#amendments tr[data-what="settings.feedback_min_n"]')
    expect(row.locator(".reason")).to_have_text("Only four experts answered round 1.")
    expect(row.locator(".first-round")).to_have_text("2")
    page.locator("#protocol summary").first.click()
    expect(page.locator("#protocol-sha256")).to_have_text(stamp.sha256)
    check("study", "#protocol")
    assert [a.what for a in amendments(db.session, study)] == ["settings.feedback_min_n"]
    assert problems == [], "\n".join(problems)
