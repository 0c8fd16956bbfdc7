"""Issue 13, points 1, 3 and 4 in a real browser: a facilitator opens round 2 through
the confirmation, which puts the stopping rule's "stop" first and opens only once it is
acknowledged; downloads the data from the study page and the results page; a visitor
reads the front page in English and Spanish.  Every page is axe-clean (every impact)
at 1280 and 375 px, and nothing on it is wider than a 375 px screen."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from elicit.extensions import db
from surveys import builder
from surveys.definition import ItemDefinition, LocalizedText
from surveys.demo import demo_source
from surveys.models import RoundStatus, utcnow
from surveys.rounds import close_round, latest_round, open_round
from tests.conftest import PASSWORD
from tests.e2e.support import (
    axe_violations,
    describe_violations,
    horizontal_overflow,
    save_screenshot,
    serve_axe,
    spanish,
)
from tests.e2e.test_rules_and_preview_browser import logged_in

pytestmark = pytest.mark.e2e

SLUG = "us-mexico-intelligence"
STUDY = f"/console/studies/{SLUG}"
NEXT_YEAR = utcnow().year + 1
LEAVING = demo_source().replace(
    'slug = "us-mexico-intelligence"', 'slug = "us-mexico-intelligence"\nconsensus_items = "leave"'
)


def checked(
    page: Any,
    live_server: str,
    artifacts: Path,
    name: str,
    problems: list[str],
    *,
    within: str | None = None,
) -> None:
    """No axe violation of any impact at 1280 and at 375 px, nothing wider than 375 px
    (only inside ``within``, a selector, when given); screenshots at both widths."""
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900 if width > 375 else 800})
        violations = axe_violations(page, live_server)
        if violations:
            problems.append(describe_violations(f"{name} at {width} px", violations))
        save_screenshot(page, artifacts, f"{name}-{width}")
    page.set_viewport_size({"width": 375, "height": 800})
    if within is None:
        width, offenders = horizontal_overflow(page, 375)
        if width > 375:
            problems.append(f"{name} at 375 px is {width} px wide: " + "; ".join(offenders[:10]))
    else:
        for box in page.locator(within).all():
            right = box.evaluate("e => e.getBoundingClientRect().right + window.scrollX")
            if right > 375.5:
                problems.append(f"{name}: {within} ends at {right} px in a 375 px window")
    page.set_viewport_size({"width": 1280, "height": 900})


def stopped_after_round_one(study: Any, make_panel: Any, post_answers: Any) -> None:
    """Round 1 closed with its only answered item at consensus (and so retired: the
    study lets such items leave): the stopping rule says stop."""
    links = make_panel(study, 4, groups=("academic", "official"))
    open_round(db.session, study)
    for link, value in zip(links, (4, 4, 4, 5), strict=True):
        post_answers(link.token, {"trust_now": str(value)})
    close_round(db.session, study)


def test_round_two_opens_against_stop_only_when_acknowledged(
    live_server, new_page, make_study, make_user, make_panel, post_answers, artifacts
):
    study = make_study(LEAVING)
    stopped_after_round_one(study, make_panel, post_answers)
    make_user("lead@example.org", studies=[study])
    page = logged_in(new_page, live_server)
    problems: list[str] = []

    page.goto(f"{live_server}{STUDY}")
    checked(page, live_server, artifacts, "open-study", problems, within="#open-round, #downloads")
    page.get_by_label("Deadline (UTC, optional)").fill(f"{NEXT_YEAR}-03-15T12:00")
    page.get_by_role("button", name="Open round 2…").click()

    # The confirmation: the warning first, then what will happen.
    expect(page.get_by_role("heading", name="Open round 2?", level=1)).to_be_visible()
    warning = page.locator("#stop-recommended")
    expect(warning).to_contain_text("The stopping rule recommends stopping the study")
    expect(warning).to_contain_text("At the close of round 1:")
    warning_top = warning.evaluate("e => e.getBoundingClientRect().top")
    plan_top = page.locator("#opening-plan").evaluate("e => e.getBoundingClientRect().top")
    assert warning_top < plan_top, "the recommendation to stop comes first"
    expect(page.locator("#plan-panel")).to_contain_text("4 panelists with a working link")
    # Two groups of two, both smaller than the minimum group size (3): counted, not named.
    expect(page.locator("#plan-panel li")).to_have_text(["Groups of fewer than 3, together: 4"])
    expect(page.locator("#plan-deadline")).to_contain_text(f"Mar 15, {NEXT_YEAR}")
    expect(page.locator("#plan-deadline")).to_contain_text("UTC")
    expect(page.locator('#plan-left li[data-item="trust_now"]')).to_contain_text(
        "Reached consensus in round 1 and left."
    )
    expect(page.locator('#plan-items li[data-item="trust_now"]')).to_have_count(0)
    expect(page.locator('#plan-items li[data-item="trust_horizon"]')).to_be_visible()
    checked(page, live_server, artifacts, "open-confirmation-stop", problems)

    # Without the acknowledgement: refused, said at the top and on the box.
    page.get_by_role("button", name="Open round 2", exact=True).click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("tick this box to open round 2 anyway")
    acknowledgement = page.get_by_label(re.compile("I open round 2 anyway"))
    expect(acknowledgement).not_to_be_checked()
    assert latest_round(db.session, study).number == 1
    checked(page, live_server, artifacts, "open-confirmation-refused", problems)
    summary.get_by_role("link").click()
    expect(acknowledgement).to_be_focused()
    page.keyboard.press("Space")  # the keyboard alone ticks it
    expect(acknowledgement).to_be_checked()
    page.get_by_role("button", name="Open round 2", exact=True).click()
    expect(page).to_have_url(f"{live_server}{STUDY}")
    expect(page.get_by_role("status")).to_contain_text("Round 2 is open.")
    db.session.expire_all()
    opened = latest_round(db.session, study)
    assert (opened.number, opened.status) == (2, RoundStatus.OPEN)
    assert opened.deadline.isoformat() == f"{NEXT_YEAR}-03-15T12:00:00+00:00"
    assert problems == [], "\n\n".join(problems)


def test_a_draft_with_missing_translations_is_told_what_to_write(
    live_server, new_page, app, make_user, artifacts
):
    draft = builder.create_study(
        db.session, slug="water", languages=["en", "es"], anonymity="standard", title="Water"
    )
    builder.update_texts(db.session, draft, title={"en": "Water", "es": "Agua"}, introduction={})
    text = LocalizedText((("en", "Will it rain in May?"),))
    builder.add_item(db.session, draft, ItemDefinition(key="rain", kind="probability", text=text))
    make_user("lead@example.org", studies=[draft])
    page = logged_in(new_page, live_server)
    problems: list[str] = []
    page.goto(f"{live_server}/console/studies/water")
    page.get_by_role("button", name="Open round 1…").click()
    expect(page.get_by_role("heading", name="Round 1 cannot open", level=1)).to_be_visible()
    expect(page.locator("#missing-translations")).to_contain_text(
        "Item rain (question): Spanish missing"
    )
    expect(page.get_by_role("button", name="Open round 1", exact=True)).to_have_count(0)
    checked(page, live_server, artifacts, "open-refused-translations", problems)
    page.locator("#missing-translations").get_by_role("link", name="Item rain").click()
    expect(page).to_have_url(f"{live_server}/console/studies/water/build/items/rain")
    assert latest_round(db.session, draft) is None
    assert problems == [], "\n\n".join(problems)


def test_the_data_downloads_from_the_study_and_results_pages(
    live_server, new_page, make_study, make_user, make_panel, post_answers, artifacts
):
    study = make_study()
    stopped_after_round_one(study, make_panel, post_answers)
    make_user("analyst@example.org", role="researcher", studies=[study])
    page = new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("analyst@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")
    problems: list[str] = []
    for address, name in ((STUDY, "study"), (f"{STUDY}/results", "results")):
        page.goto(f"{live_server}{address}")
        downloads = page.locator("#downloads")
        expect(downloads).to_contain_text("Download data: CSV · Excel · JSON")
        expect(page.get_by_role("link", name=re.compile("^Study report"))).to_be_visible()
        checked(page, live_server, artifacts, f"downloads-{name}", problems, within="#downloads")
        files = {}
        for label in ("CSV", "Excel", "JSON"):
            with page.expect_download() as started:
                downloads.get_by_role("link", name=label, exact=True).click()
            download = started.value
            files[label] = (download.suggested_filename, Path(download.path()).read_bytes())
        assert files["CSV"][0].endswith(".zip")
        assert f"{SLUG}/reproduce.py" in zipfile.ZipFile(io.BytesIO(files["CSV"][1])).namelist()
        assert files["Excel"][0].endswith(".xlsx")
        assert load_workbook(io.BytesIO(files["Excel"][1])).sheetnames
        assert files["JSON"][0].endswith(".json")
        assert json.loads(files["JSON"][1])
    assert problems == [], "\n\n".join(problems)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_front_page_in_each_language(live_server, new_page, artifacts, language):
    page = new_page(
        viewport={"width": 1280, "height": 900},
        extra_http_headers={"Accept-Language": language},
    )
    serve_axe(page, live_server)
    page.goto(f"{live_server}/")
    problems: list[str] = []
    expect(page.locator("html")).to_have_attribute("lang", language)

    def words(message: str) -> str:
        return (spanish(message) or message) if language == "es" else message

    expect(page.get_by_role("heading", level=1)).to_have_text(
        words("Delphi studies and expert elicitation")
    )
    expect(page.locator("#for-experts")).to_contain_text(
        words(
            "Use the personal link you were sent; it opens your questionnaire. You need no "
            "account and no password, and other panelists never see who you are."
        )
    )
    checked(page, live_server, artifacts, f"landing-{language}", problems)
    # The switch to the other language, then the way into the console.
    other = "es" if language == "en" else "en"
    page.get_by_role("navigation").get_by_role(
        "link", name={"en": "English", "es": "Español"}[other]
    ).click()
    expect(page.locator("html")).to_have_attribute("lang", other)
    page.get_by_role("link", name=re.compile("console|consola")).click()
    expect(page).to_have_url(f"{live_server}/console/login")
    expect(page.locator("html")).to_have_attribute("lang", other)  # kept for the visit
    assert problems == [], "\n\n".join(problems)
