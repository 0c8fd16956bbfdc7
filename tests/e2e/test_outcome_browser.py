"""The panel sees the outcome, in a real browser (issue 13, points 10 and 11): once the
study's last round has closed, a personal link shows a thank-you and the final results,
in the panelist's language, axe-clean and no wider than the window at 1280 and 375 px;
a reason written in another language is marked and carries its ``lang``."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.demo import demo_source
from surveys.rounds import close_round, open_round
from surveys.settings import update_settings
from tests.e2e.support import (
    axe_violations,
    describe_violations,
    enter,
    horizontal_overflow,
    panel_answers,
    save_screenshot,
    serve_axe,
)

pytestmark = pytest.mark.e2e

#: Reasons given with trust_now, by panelist; panelists alternate English and Spanish.
REASONS = [
    "Both cabinets still talk weekly.",
    "Las agencias siguen compartiendo datos a diario.",
    "Extraditions continued through the spring.",
    "La cooperación depende del próximo gabinete.",
]
HEADINGS = {
    "en": "The study is over. Thank you for taking part.",
    "es": None,  # read from the page's own language below
}


def _ended_study(make_study, make_panel, post_answers):
    """A one-round demo study that four panelists (en, es, en, es) answered in full,
    each on a page in their own language, closed: the study is over."""
    study = make_study(demo_source().replace("max_rounds = 3", "max_rounds = 1", 1))
    links = make_panel(study, 4)
    open_round(db.session, study)
    for seed, (link, reason) in enumerate(zip(links, REASONS, strict=True)):
        answers = {**panel_answers(seed), "rationale.trust_now": reason}
        language = "en" if seed % 2 == 0 else "es"
        response = post_answers(link.token, answers, lang=language)
        assert response.status_code == 302, response.text
    close_round(db.session, study)
    return study, links


@pytest.mark.parametrize("width", [1280, 375])
def test_the_outcome_page_in_english_and_spanish(
    live_server, new_page, make_study, make_panel, post_answers, artifacts, width
):
    _, links = _ended_study(make_study, make_panel, post_answers)
    for language, link in (("en", links[0]), ("es", links[1])):
        page = new_page(viewport={"width": width, "height": 900})
        serve_axe(page, live_server)
        enter(page, live_server, link.token, lang=language)
        assert page.locator("html").get_attribute("lang") == language
        expect(page.locator("#thanks")).to_be_visible()
        if language == "en":
            expect(page.locator("#thanks")).to_contain_text(HEADINGS["en"])
        # Every numeric item's final result, charts included, nothing to answer.
        assert page.locator(".outcome-item").count() >= 5
        assert page.locator(".outcome-item svg[role='img']").count() >= 3
        assert page.locator("main form").count() == 0
        # The reasons: open, each with its lang, the other language's marked.
        reasons = page.locator("#item-trust_now details.rationales")
        reasons.locator("summary").click()
        other = "es" if language == "en" else "en"
        for text in REASONS:
            written = page.locator(".rationale-text", has_text=text)
            expect(written).to_have_count(1)
            lang = written.get_attribute("lang")
            assert lang in ("en", "es")
            mark = written.locator("xpath=following-sibling::span[@class='language-mark']")
            expect(mark).to_have_count(1 if lang == other else 0)
        save_screenshot(page, artifacts, f"outcome-{language}-{width}")
        scroll_width, offenders = horizontal_overflow(page, width)
        assert scroll_width <= width, offenders
        violations = axe_violations(page, live_server)
        assert not violations, describe_violations(
            f"the outcome page ({language}, {width})", violations
        )
        page.close()


def test_turned_off_the_link_thanks_the_panel_only(
    live_server, new_page, make_study, make_panel, post_answers, artifacts
):
    study, links = _ended_study(make_study, make_panel, post_answers)
    update_settings(db.session, study, {"show_outcome": False})
    page = new_page(viewport={"width": 375, "height": 800})
    serve_axe(page, live_server)
    enter(page, live_server, links[0].token)
    expect(page.locator("#thanks")).to_contain_text(HEADINGS["en"])
    expect(page.locator(".outcome-item")).to_have_count(0)
    expect(page.locator("svg")).to_have_count(0)
    save_screenshot(page, artifacts, "outcome-off-375")
    scroll_width, offenders = horizontal_overflow(page, 375)
    assert scroll_width <= 375, offenders
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations("the thank-you page", violations)
