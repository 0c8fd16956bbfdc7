"""The panel page fits the screen and the study dashboard follows the round by itself
(issue 13, point 5).

At 1280 px the panel table (person, group, language, link with its menu, each round)
needs no sideways scroll; at 375 px the document is never wider than the window (the
table scrolls in its own focusable, named region); both are axe-clean.  The study
page's response rate changes after a submission without a reload (its poll set to one
second in the page as served, through its data attribute).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from elicit.extensions import current_link_keys, db
from surveys.demo import demo_source
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
PANEL = f"/console/studies/{SLUG}/panel"


@pytest.fixture
def third_round(make_study, make_user, post_answers):
    """The demo study in its third round, with eight panelists of long names, emails and
    groups; five submitted rounds 1 and 2.  Returns the links."""
    study = make_study()
    entries = [
        NewPanelist(
            f"Dr. Alejandra Fernández-Castillo {index}",
            f"alejandra.fernandez.castillo{index}@universidad-nacional.example.mx",
            "academic-mx" if index % 2 else "former-officials-us",
            "es" if index % 2 else "en",
        )
        for index in range(8)
    ]
    links = add_panelists(db.session, study, entries, keys=current_link_keys())
    for _ in range(2):
        open_round(db.session, study)
        for link in links[:5]:
            post_answers(link.token, {"trust_now": "3"})
        close_round(db.session, study)
    open_round(db.session, study)
    make_user("lead@example.org", studies=[study])
    return links


def log_in(page, live_server: str) -> None:
    page.goto(f"{live_server}/console/login")
    page.fill("#email", "lead@example.org")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server}/console/")


def test_the_panel_table_fits_1280_pixels_and_the_page_fits_375(
    live_server, new_page, artifacts, third_round
):
    page = new_page(viewport={"width": 1280, "height": 900})
    serve_axe(page, live_server)
    log_in(page, live_server)
    page.goto(f"{live_server}{PANEL}")
    width, offenders = horizontal_overflow(page, 1280)
    assert width <= 1280 and not offenders, offenders
    region = page.locator("#panel").locator("xpath=..")
    assert region.evaluate("element => element.scrollWidth <= element.clientWidth")
    assert page.locator("#panel tbody tr").count() == 8
    assert page.locator("#panel thead th").all_inner_texts()[-3:] == [
        "Round 1",
        "Round 2",
        "Round 3",
    ]
    # A row's link actions open without a script, from the keyboard.
    summary = page.locator("#panel tbody tr").first.locator("summary")
    summary.focus()
    page.keyboard.press("Enter")
    new_link = page.locator("#panel tbody tr").first.get_by_role("button", name="New link")
    expect(new_link).to_be_visible()
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations("the panel page at 1280 px", violations)
    save_screenshot(page, artifacts, "panel-1280")

    # The filter is a plain form: choose, press Show, read the rows and the reminder.
    page.get_by_label("Not submitted (8)").check()
    page.locator("#filter-group").select_option("academic-mx")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#filter-result")).to_have_text("4 panelists match this filter.")
    assert "status=not_submitted" in page.url and "group=academic-mx" in page.url
    expect(page.locator("#panel tbody tr")).to_have_count(4)  # the odd-numbered panelists
    expect(page.get_by_role("button", name="Remind these 4 panelists")).to_be_visible()
    width, offenders = horizontal_overflow(page, 1280)
    assert width <= 1280 and not offenders, offenders
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations("the filtered panel page", violations)
    save_screenshot(page, artifacts, "panel-filtered-1280")
    page.get_by_role("button", name="Remind these 4 panelists").click()
    expect(page.locator("main")).to_contain_text("4 new message(s) queued for round 3")
    assert page.url.endswith("/outbox")

    phone = new_page(viewport={"width": 375, "height": 740})
    serve_axe(phone, live_server)
    log_in(phone, live_server)
    phone.goto(f"{live_server}{PANEL}?status=not_submitted")
    width, offenders = horizontal_overflow(phone, 375)
    inside_regions = phone.evaluate(
        """() => [...document.querySelectorAll('.table-scroll[role=region][tabindex="0"]')]
                 .map(region => region.getAttribute('aria-label'))"""
    )
    assert width <= 375, offenders
    assert "Panelists" in inside_regions
    violations = axe_violations(phone, live_server)
    assert not violations, describe_violations("the panel page at 375 px", violations)
    save_screenshot(phone, artifacts, "panel-375")


def test_the_dashboard_counts_follow_a_submission_without_a_reload(
    live_server, new_page, artifacts, make_study, make_panel, make_user, post_answers
):
    study = make_study()
    links = make_panel(study, 4)
    open_round(db.session, study)
    make_user("lead@example.org", studies=[study])
    page = new_page(viewport={"width": 1280, "height": 900})
    serve_axe(page, live_server)
    log_in(page, live_server)

    def every_second(route):
        """The study page as served, polling every second instead of every 30."""
        response = route.fetch()
        body = response.text().replace('data-refresh-seconds="30"', 'data-refresh-seconds="1"')
        route.fulfill(response=response, body=body)

    page.route(f"{live_server}/console/studies/{SLUG}", every_second)
    page.goto(f"{live_server}/console/studies/{SLUG}")
    counts = page.locator("#response-rate")
    assert counts.get_attribute("aria-live") == "polite"
    assert counts.inner_text().startswith("0 of 4")
    page.evaluate("() => { window.notReloaded = true; }")
    post_answers(links[0].token, {"trust_now": "3"})
    page.locator("#response-rate", has_text="1 of 4").wait_for(timeout=20_000)
    assert page.evaluate("() => window.notReloaded === true")
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations("the study page at 1280 px", violations)
    save_screenshot(page, artifacts, "dashboard-1280")


def test_a_blind_panel_page_filters_by_counts_at_both_widths(
    live_server, new_page, artifacts, make_study, make_panel, make_user
):
    study = make_study()
    study.anonymity = "blind"
    db.session.commit()
    make_panel(study, 6, groups=("a", "b"))
    add_panelists(
        db.session,
        study,
        [NewPanelist("Solo Person", "solo@example.org", "solo", "en")],
        keys=current_link_keys(),
    )
    open_round(db.session, study)
    make_user("lead@example.org", studies=[study])
    for width in (1280, 375):
        page = new_page(viewport={"width": width, "height": 900})
        serve_axe(page, live_server)
        log_in(page, live_server)
        page.goto(f"{live_server}{PANEL}")
        options = page.locator("#filter-group option").all_inner_texts()
        assert options == ["All groups", "a (3)", "b (3)"]  # "solo" is not offered
        page.get_by_label("Never opened (7)").check()
        page.locator("#filter-group").select_option("a")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#filter-result")).to_have_text("3 panelists match this filter.")
        expect(page.locator("#panel")).to_have_count(0)
        expect(page.get_by_role("button", name="Remind these 3 panelists")).to_be_visible()
        scroll_width, offenders = horizontal_overflow(page, width)
        assert scroll_width <= width, offenders
        violations = axe_violations(page, live_server)
        assert not violations, describe_violations(f"the blind panel page at {width}", violations)
        save_screenshot(page, artifacts, f"panel-blind-{width}")


def test_a_study_of_eight_rounds_keeps_the_panel_table_within_1280_pixels(
    live_server, new_page, artifacts, make_study, make_user, post_answers
):
    """The last four rounds get a column each, the earlier ones one column that says how
    many of them each panelist submitted: the table fits however many rounds there are."""
    study = make_study(demo_source().replace("max_rounds = 3", "max_rounds = 8", 1))
    entries = [
        NewPanelist(
            f"Dr. Alejandra Fernández-Castillo {index}",
            f"alejandra.fernandez.castillo{index}@universidad-nacional.example.mx",
            "former-officials-us",
            "en",
        )
        for index in range(3)
    ]
    links = add_panelists(db.session, study, entries, keys=current_link_keys())
    for number in range(1, 9):
        open_round(db.session, study)
        if number == 8:
            break
        # The first panelist answers every round; the second, rounds 1 and 3 only.
        post_answers(links[0].token, {"trust_now": "3"})
        if number in (1, 3):
            post_answers(links[1].token, {"trust_now": "4"})
        close_round(db.session, study)
    make_user("lead@example.org", studies=[study])
    page = new_page(viewport={"width": 1280, "height": 900})
    serve_axe(page, live_server)
    log_in(page, live_server)
    page.goto(f"{live_server}{PANEL}")
    width, offenders = horizontal_overflow(page, 1280)
    assert width <= 1280 and not offenders, offenders
    region = page.locator("#panel").locator("xpath=..")
    assert region.evaluate("element => element.scrollWidth <= element.clientWidth")
    assert page.locator("#panel thead th").all_inner_texts()[-5:] == [
        "Rounds 1–4: submitted",
        "Round 5",
        "Round 6",
        "Round 7",
        "Round 8",
    ]
    rows = page.locator("#panel tbody tr")
    earlier = {
        rows.nth(index).locator("th").inner_text(): rows.nth(index).locator("td").nth(4)
        for index in range(3)
    }
    assert earlier["Dr. Alejandra Fernández-Castillo 0"].inner_text() == "4 of 4"
    assert earlier["Dr. Alejandra Fernández-Castillo 1"].inner_text() == "2 of 4"
    assert earlier["Dr. Alejandra Fernández-Castillo 2"].inner_text() == "0 of 4"
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations("the panel of eight rounds", violations)
    save_screenshot(page, artifacts, "panel-eight-rounds-1280")
