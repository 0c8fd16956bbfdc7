"""A panelist's messages and visits in a real browser (issue 14, point 5): reached from
their name on the panel page, each step of each message in order, axe-clean and no
wider than the window at 1280 and 375 px; the delivery summary on the messages page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.delivery import SmtpSettings, deliver, hand_over
from surveys.messaging import queue_invitations
from surveys.rounds import open_round
from tests.conftest import PASSWORD
from tests.e2e.support import (
    axe_violations,
    describe_violations,
    horizontal_overflow,
    save_screenshot,
    serve_axe,
)
from tests.smtp_sink import smtp_sink

pytestmark = pytest.mark.e2e

SLUG = "us-mexico-intelligence"


@pytest.mark.parametrize("width", [1280, 375])
def test_from_the_panel_to_a_panelist_s_history(
    live_server,
    new_page,
    make_study,
    make_panel,
    make_user,
    post_answers,
    link_keys,
    artifacts,
    width,
):
    study = make_study()
    links = make_panel(study, 2)
    make_user("lead@example.org", studies=[study])
    round_ = open_round(db.session, study)
    queued = queue_invitations(db.session, study, round_, "https://elicit.example", keys=link_keys)
    ids = hand_over(db.session, [message.id for message in queued])
    with smtp_sink() as (handler, port):
        handler.rcpt_replies["expert.number1@example.org"] = "550 5.1.1 no such user"
        deliver(
            db.session,
            ids,
            SmtpSettings(host="127.0.0.1", port=port, sender="d@x.org", timeout=10),
            keys=link_keys,
        )
    post_answers(links[0].token, {"trust_now": "3"})

    page = new_page(viewport={"width": width, "height": 900})
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")
    page.goto(f"{live_server}/console/studies/{SLUG}/panel")
    page.get_by_role("link", name="Expert Number1").click()
    expect(page.locator("h1")).to_contain_text("Messages and visits: Expert Number1")
    steps = page.locator("#round-1 li")
    expect(steps).to_have_count(2)
    expect(steps.nth(1)).to_contain_text("refused by the mail server (bounced)")
    expect(steps.nth(1)).to_contain_text("550 5.1.1 no such user")
    save_screenshot(page, artifacts, f"panelist-history-{width}")
    scroll_width, offenders = horizontal_overflow(page, width)
    assert scroll_width <= width, offenders
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations(f"a panelist's history ({width} px)", violations)

    page.goto(f"{live_server}/console/studies/{SLUG}/messages")
    row = page.locator("#delivery-summary tr[data-kind='invitation']")
    expect(row.locator("td[data-status='sent']")).to_have_text("1")
    expect(row.locator("td[data-status='failed']")).to_have_text("1")
    scroll_width, offenders = horizontal_overflow(page, width)
    assert scroll_width <= width, offenders
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations(f"the delivery summary ({width} px)", violations)
