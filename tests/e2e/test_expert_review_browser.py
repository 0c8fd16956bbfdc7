"""In a real browser (issue 13, points 7, 8 and 12): the review step lists every answer
in words with a link back to its field, the unanswered ones first; a submission with
several problems gets them all at once, each named, with everything typed kept; a
probability nobody answered shows no slider position, with or without JavaScript.
Each page is axe-clean and fits a 375 px screen as well as a 1280 px one."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.rounds import open_round
from tests.conftest import PASSWORD
from tests.e2e.support import (
    ARTIFACTS,
    axe_violations,
    describe_violations,
    enter,
    horizontal_overflow,
    items_of,
    save_screenshot,
    serve_axe,
    stored_answers,
)

pytestmark = pytest.mark.e2e

BLOCKING = {"serious", "critical"}
WIDTHS = (1280, 375)
ESTIMATE = "transfers_next_year"


def field(page, name: str):
    """The input of field ``name`` (ids hold dots: ``field-scenarios.rift``)."""
    return page.locator(f'[id="field-{name}"]')


def item_screenshot(page, key: str, name: str) -> bytes:
    """A screenshot of one question, kept under ``test-artifacts/e2e`` to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return page.locator(f"#item-{key}").screenshot(path=ARTIFACTS / f"{name}.png")


def checked(page, live_server: str, artifacts, name: str, width: int) -> None:
    """Screenshot the page, and fail on serious axe violations or sideways scrolling."""
    save_screenshot(page, artifacts, f"{name}-{width}px")
    violations = [v for v in axe_violations(page, live_server) if v["impact"] in BLOCKING]
    assert not violations, describe_violations(name, violations)
    scroll_width, offenders = horizontal_overflow(page, width)
    assert scroll_width <= width and not offenders, (scroll_width, offenders)


@pytest.fixture
def expert(app, make_study, make_panel):
    """The demo study with round 1 open, and one panelist in each language."""
    study = make_study()
    links = make_panel(study, 2, languages=("en", "es"))
    open_round(db.session, study)
    return links


@pytest.mark.parametrize("width", WIDTHS)
def test_the_review_lists_the_answers_and_links_back_to_each_field(
    live_server, new_page, artifacts, expert, width
):
    english, spanish = expert
    for link, lang in ((english, "en"), (spanish, "es")):
        page = new_page(viewport={"width": width, "height": 900})
        serve_axe(page, live_server)
        enter(page, live_server, link.token, lang=lang)
        page.locator('input[name="trust_now"][value="4"]').check()
        field(page, "trigger_tariffs").fill("35")
        for scenario, share in (("status_quo", "60"), ("rift", "30"), ("renewal", "10")):
            field(page, f"scenarios.{scenario}").fill(share)
        for part, value in (("lowest", "10"), ("highest", "60"), ("best", "25")):
            field(page, f"{ESTIMATE}.{part}").fill(value)
        field(page, f"{ESTIMATE}.confidence").fill("80")
        field(page, "rationale.trust_now").fill("Recent visits.")
        # The answer page's form is "#answers" too, and the review is posted to the same
        # address: wait for the review page to load before counting its entries.
        with page.expect_navigation():
            page.locator('button[name="action"][value="review"]:not([aria-hidden])').click()
        expect(page.locator("#answers")).to_be_visible()

        # The unanswered questions come first, clearly marked; the answers follow.
        unanswered_top = page.locator("#unanswered").bounding_box()["y"]
        assert unanswered_top < page.locator("#answers").bounding_box()["y"]
        assert page.locator("#unanswered .review-entry").count() == 30 - 4
        expect(page.locator("#unanswered .review-marker").first).to_be_visible()
        answers = page.locator("#answers .review-entry")
        assert answers.count() == 4
        words = page.locator("#answers").inner_text()
        assert "4 – " in words and "35 %" in words and "Recent visits." in words
        assert "60 %" in words and "80 %" in words
        assert ("60 people" if lang == "en" else "60 personas") in words
        checked(page, live_server, artifacts, f"review-{lang}", width)

        # "Change" on the estimate leads to its first field, with the value still there.
        page.locator(f"#review-{ESTIMATE} .review-link a").click()
        page.wait_for_url(f"**/e/?lang={lang}#field-{ESTIMATE}.lowest")
        lowest = field(page, f"{ESTIMATE}.lowest")
        expect(lowest).to_have_value("10")
        expect(lowest).to_be_in_viewport()
        # An unanswered question's link leads to it too.
        page.go_back()
        page.locator("#review-agenda_now .review-link a").click()
        page.wait_for_url(f"**/e/?lang={lang}#field-agenda_now")
        expect(field(page, "agenda_now")).to_be_in_viewport()
        expect(page.locator('input[name="trust_now"][value="4"]')).to_be_checked()
        checked(page, live_server, artifacts, f"answer-{lang}", width)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_problem_of_a_submission_is_reported_at_once(
    live_server, new_page, artifacts, expert, width
):
    english, _ = expert
    page = new_page(viewport={"width": width, "height": 900})
    serve_axe(page, live_server)
    enter(page, live_server, english.token)
    typed = {
        f"{ESTIMATE}.lowest": "500",
        f"{ESTIMATE}.highest": "100",
        f"{ESTIMATE}.best": "300",
        f"{ESTIMATE}.confidence": "120",
        "scenarios.status_quo": "120",
        "scenarios.rift": "10",
        "scenarios.renewal": "0",
    }
    for name, value in typed.items():
        field(page, name).fill(value)
    page.locator('button[name="action"][value="review"]:not([aria-hidden])').click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    lines = summary.locator("li").all_inner_texts()
    assert len(lines) == 4, lines
    assert "Question 15, confidence: Enter a percentage from 50 to 100." in lines
    assert any(line.startswith("Question 15: Your lowest plausible value (500)") for line in lines)
    assert any("Question 6: The scenarios add up to 130 %" in line for line in lines)
    # Each problem is beside its field too, and every link reaches its field.
    expect(page.locator(f'[id="error-{ESTIMATE}.confidence"]')).to_be_visible()
    expect(page.locator(f'[id="error-{ESTIMATE}"]')).to_contain_text("is above your highest")
    targets = summary.locator("a").evaluate_all(
        "links => links.map(a => !!document.getElementById(a.hash.slice(1)))"
    )
    assert targets == [True] * 4
    for name, value in typed.items():
        expect(field(page, name)).to_have_value(value)
    assert stored_answers(english, 1) == {}
    checked(page, live_server, artifacts, "errors-at-once", width)


SLIDER = "trigger_tariffs"


@pytest.mark.parametrize("width", WIDTHS)
def test_an_unanswered_probability_shows_no_slider_position(
    live_server, new_page, artifacts, expert, width
):
    english, _ = expert
    page = new_page(viewport={"width": width, "height": 900})
    serve_axe(page, live_server)
    enter(page, live_server, english.token)
    slider = page.locator(f'[data-slider-for="field-{SLIDER}"]')
    state = page.locator(f"#state-{SLIDER}")
    sliders = page.locator("input[data-slider-for]")
    assert sliders.count() == len(items_of("probability"))
    # Untouched: every slider is unset, says so, and tells a screen reader so.
    for index in range(sliders.count()):
        expect(sliders.nth(index)).to_have_class("slider unset")
        expect(sliders.nth(index)).to_have_attribute("aria-valuetext", "Not answered")
    expect(slider).to_be_visible()
    expect(state).to_be_visible()
    expect(state).to_have_text("Not answered")
    expect(slider).to_have_accessible_name("Probability slider for question 8")
    slider.scroll_into_view_if_needed()
    unset_look = slider.screenshot()
    item_screenshot(page, SLIDER, f"slider-item-unanswered-{width}px")
    checked(page, live_server, artifacts, "slider-unanswered", width)

    # Set with the keyboard to 50: now a thumb shows, where none showed before.
    slider.focus()
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft", delay=0)
    for _ in range(49):
        page.keyboard.press("ArrowLeft")
    expect(field(page, SLIDER)).to_have_value("50")
    expect(slider).to_have_class("slider")
    expect(slider).to_have_attribute("aria-valuetext", "50 %")
    expect(state).to_be_hidden()
    page.mouse.move(0, 0)
    page.locator("h1").click()  # the focus ring off the slider, to compare like with like
    assert slider.screenshot() != unset_look, "a slider at 50 % must look unlike no answer"
    item_screenshot(page, SLIDER, f"slider-item-at-50-{width}px")

    # Cleared, it is unanswered again; typed, it follows.
    field(page, SLIDER).fill("")
    expect(slider).to_have_class("slider unset")
    expect(state).to_be_visible()
    field(page, SLIDER).fill("12,5")
    expect(slider).to_have_attribute("aria-valuetext", "12,5 %")
    field(page, SLIDER).fill("")

    # Submitted untouched, no probability is recorded: not 50, not anything.
    page.locator('input[name="trust_now"][value="3"]').check()
    page.locator('button[name="action"][value="review"]:not([aria-hidden])').click()
    page.locator('button[name="action"][value="submit"]').click()
    expect(page.locator(".notice")).to_be_visible()
    assert stored_answers(english, 1) == {"trust_now": ({"value": 3}, None)}


@pytest.mark.parametrize("width", WIDTHS)
def test_without_javascript_an_unanswered_probability_is_an_empty_box_marked_so(
    live_server, new_page, artifacts, expert, width
):
    english, _ = expert
    page = new_page(viewport={"width": width, "height": 900}, java_script_enabled=False)
    serve_axe(page, live_server)
    enter(page, live_server, english.token)
    expect(page.locator(f'[data-slider-for="field-{SLIDER}"]')).to_be_hidden()
    expect(field(page, SLIDER)).to_have_value("")
    expect(page.locator(f"#state-{SLIDER}")).to_be_visible()
    save_screenshot(page, artifacts, f"slider-no-javascript-{width}px")
    item_screenshot(page, SLIDER, f"slider-item-no-javascript-{width}px")
    scroll_width, offenders = horizontal_overflow(page, width)
    assert scroll_width <= width and not offenders, (scroll_width, offenders)
    page.locator('input[name="trust_now"][value="2"]').check()
    field(page, "trigger_black_swan").fill("5")
    page.locator('button[name="action"][value="review"]:not([aria-hidden])').click()
    page.locator('button[name="action"][value="submit"]').click()
    expect(page.locator(".notice")).to_be_visible()
    assert stored_answers(english, 1) == {
        "trust_now": ({"value": 2}, None),
        "trigger_black_swan": ({"value": 5}, None),
    }
    # Answered, its "Not answered" goes (the page is drawn from what was submitted).
    expect(page.locator("#state-trigger_black_swan")).to_be_hidden()
    expect(page.locator(f"#state-{SLIDER}")).to_be_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_preview_review_lists_the_answers_and_its_links_open_the_preview(
    live_server, new_page, artifacts, make_study, make_user, width
):
    study = make_study()
    make_user("lead@example.org", studies=[study])
    page = new_page(viewport={"width": width, "height": 900})
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")
    page.goto(f"{live_server}/console/studies/{study.slug}/preview/1?lang=en")
    field(page, "trigger_tariffs").fill("35")
    page.locator('button[name="action"][value="review"]:not([aria-hidden])').click()
    expect(page.locator(".preview-banner")).to_be_visible()
    expect(page.locator("#review-trigger_tariffs")).to_contain_text("35 %")
    checked(page, live_server, artifacts, "preview-review", width)
    page.locator("#review-trigger_tariffs .review-link a").click()
    page.wait_for_url("**/preview/1?lang=en&from=review#field-trigger_tariffs")
    expect(page.locator('button[name="action"][value="review"]:not([aria-hidden])')).to_be_visible()
    expect(field(page, "trigger_tariffs")).to_be_in_viewport()
