"""The outbox without a mail server in a real browser (issue 14, point 6): the
facilitator filters the messages by round and status (counts beside each choice),
downloads the mail-merge file, marks one message and then the rest as sent.  Every
state axe-clean and no wider than the window at 1280 and 375 px."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from elicit.extensions import current_link_keys, db
from surveys.messaging import queue_invitations
from surveys.panel import NewPanelist, add_panelists
from surveys.rounds import close_round, open_round
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
OUTBOX = f"/console/studies/{SLUG}/outbox"


def _clean(page, live_server: str, where: str, width: int) -> None:
    scroll_width, offenders = horizontal_overflow(page, width)
    assert scroll_width <= width, (where, offenders)
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations(f"{where} ({width} px)", violations)


@pytest.fixture
def two_rounds(make_study, make_user):
    """Five panelists (long names and addresses) invited to round 1, closed, and to
    round 2, open, with no mail server: ten messages waiting."""
    study = make_study()
    entries = [
        NewPanelist(
            f"Dr. Alejandra Fernández-Castillo {index}",
            f"alejandra.fernandez.castillo{index}@universidad-nacional.example.mx",
            "academic",
            "es" if index % 2 else "en",
        )
        for index in range(5)
    ]
    add_panelists(db.session, study, entries, keys=current_link_keys())
    for _ in range(2):
        round_ = open_round(db.session, study)
        queue_invitations(db.session, study, round_, "http://elicit.test", keys=current_link_keys())
        if round_.number == 1:
            close_round(db.session, study)
    make_user("lead@example.org", studies=[study])


@pytest.mark.parametrize("width", [1280, 375])
def test_the_facilitator_sends_by_hand_and_marks_as_sent(
    live_server, new_page, two_rounds, artifacts, width
):
    page = new_page(viewport={"width": width, "height": 900}, accept_downloads=True)
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")
    page.goto(f"{live_server}{OUTBOX}")
    expect(page.get_by_label("Round")).to_contain_text("Round 2 (5)")
    expect(page.get_by_label("Status")).to_contain_text("waiting (10)")
    _clean(page, live_server, "the outbox", width)

    page.get_by_label("Round").select_option("2")
    page.get_by_label("Status").select_option("waiting")
    with page.expect_navigation():  # page.url below is read at once
        page.get_by_role("button", name="Show").click()
    assert "round=2" in page.url and "status=waiting" in page.url
    expect(page.locator("#by-hand")).to_contain_text("5 messages here are not sent yet.")
    expect(page.locator("#messages tbody tr")).to_have_count(5)
    save_screenshot(page, artifacts, f"outbox-filtered-{width}")
    _clean(page, live_server, "the filtered outbox", width)
    if width == 1280:  # every column in sight, no sideways scroll inside the table's box
        region = page.locator("#messages").locator("xpath=..")
        assert region.evaluate("element => element.scrollWidth <= element.clientWidth")

    with page.expect_download() as download:
        page.locator("#mail-merge").click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 5
    assert all(row["personal_link"].startswith("http://elicit.test/e/") for row in rows)
    assert all(row["personal_link"] in row["body"] for row in rows)

    page.locator("#messages tbody tr").first.get_by_role("button", name="Mark as sent").click()
    expect(page.get_by_role("status").first).to_contain_text("1 message is marked as sent.")
    expect(page.locator("#by-hand")).to_contain_text("4 messages here are not sent yet.")
    assert "round=2" in page.url  # the filter is kept
    page.get_by_role("button", name="Mark these 4 messages as sent").click()
    expect(page.get_by_role("status").first).to_contain_text("4 messages are marked as sent.")
    expect(page.get_by_label("Status")).to_contain_text("sent (5)")
    expect(page.locator("#by-hand")).to_have_count(0)
    save_screenshot(page, artifacts, f"outbox-marked-{width}")
    _clean(page, live_server, "the outbox after marking", width)
