"""The close preview in a real browser: a study of every item kind, half answered, one
draft and a deadline ahead; the page reads as a decision (item text, the rule with what
it measured, the checklist), is axe-clean at 1280 and 375 px, and at 375 px nothing is
wider than the window: the wide table scrolls in its own focusable region, by keyboard
too.  Closing from it still works."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.models import utcnow
from surveys.rounds import open_round
from tests.conftest import PASSWORD
from tests.e2e.support import (
    axe_violations,
    describe_violations,
    others_answer,
    save_screenshot,
    serve_axe,
)

pytestmark = pytest.mark.e2e

SLUG = "us-mexico-intelligence"
BLOCKING = {"serious", "critical"}

#: Elements, other than those inside a scrolling region, whose box ends right of the
#: window: what a reader would have to scroll the whole page sideways to see.
OUTSIDE_REGIONS = """(limit) => {
  const offenders = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest(".table-scroll") && !el.classList.contains("table-scroll")) { continue; }
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) { continue; }
    if (box.right + window.scrollX > limit + 0.5) {
      offenders.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
                     + " right=" + Math.round(box.right));
    }
  }
  return offenders;
}"""


def test_the_close_preview_is_a_readable_decision_at_1280_and_375_px(
    live_server, new_page, make_study, make_panel, make_user, post_answers, artifacts
):
    study = make_study()
    links = make_panel(study, 7)
    open_round(db.session, study, deadline=utcnow() + timedelta(days=2))
    others_answer(post_answers, links[:4])
    post_answers(links[4].token, {"trust_now": "3"}, action="save")
    make_user("lead@example.org", studies=[study])

    page = new_page(viewport={"width": 1280, "height": 900})
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")
    page.goto(f"{live_server}/console/studies/{SLUG}/rounds/close")

    checklist = page.locator("#checklist")
    expect(checklist).to_contain_text("1 panelist has saved a draft but not submitted it.")
    expect(checklist).to_contain_text("3 panelists have not submitted.")
    expect(checklist.get_by_role("link", name="Extend the deadline")).to_be_visible()
    expect(
        checklist.get_by_role("button", name="Remind those who have not submitted")
    ).to_be_visible()
    trust = page.locator("#row-trust_now")
    expect(trust.get_by_role("rowheader")).to_contain_text(
        "How much trust is there today between the two governments"
    )
    expect(trust.locator(".measured")).to_contain_text("IQR")
    expect(trust.locator(".measured")).to_contain_text("met")
    # A numeric estimate's best guess is decided by its own rule, the coefficient of
    # variation, with the figure it measured.
    best = page.locator("#row-transfers_next_year-best")
    expect(best.locator(".measured")).to_contain_text("CV ")
    expect(best.get_by_role("rowheader")).to_contain_text("Best guess")
    lowest = page.locator("#row-transfers_next_year-lowest")
    expect(lowest.locator("td.state")).to_have_text("no rule")
    expect(lowest.locator("td.rule")).to_have_text("No rule decides this part.")

    problems: list[str] = []
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        serious = [v for v in axe_violations(page, live_server) if v["impact"] in BLOCKING]
        if serious:
            problems.append(describe_violations(f"the close preview at {width} px", serious))
        offenders = page.evaluate(OUTSIDE_REGIONS, width)
        if offenders:
            problems.append(f"at {width} px wider than the window: " + "; ".join(offenders[:10]))
        width_of_page = page.evaluate("document.documentElement.scrollWidth")
        if width_of_page > width:
            problems.append(f"the page is {width_of_page} px wide in a {width} px window")
        save_screenshot(page, artifacts, f"close-preview-{width}")
    assert not problems, "\n".join(problems)

    # At 375 px the table scrolls in its own region, which the keyboard reaches.
    region = page.get_by_role("region", name="The summary closing will store")
    expect(region).to_be_visible()
    assert region.evaluate("el => el.scrollWidth > el.clientWidth")
    region.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('.table-scroll[role=region]').scrollLeft > 0"
    )

    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Close the round", exact=True).click()
    expect(page).to_have_url(f"{live_server}/console/studies/{SLUG}")
    expect(page.get_by_role("status")).to_contain_text("Round 1 is closed")
