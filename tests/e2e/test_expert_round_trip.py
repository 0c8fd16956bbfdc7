"""In a real browser: an expert answers round 1, then sees the panel beside their answer."""

from __future__ import annotations

import pytest

from elicit.extensions import db
from surveys.rounds import close_round, open_round

pytestmark = pytest.mark.e2e


def test_expert_answers_round_one_and_sees_feedback_in_round_two(
    live_server, page, make_study, make_panel, post_answers
):
    study = make_study()
    me, *others = make_panel(study, 3, languages=("en",))
    open_round(db.session, study)
    for value, link in zip(("2", "4"), others, strict=True):
        assert post_answers(link.token, {"trust_now": value}).status_code == 302

    page.goto(f"{live_server}/e/{me.token}")
    assert page.locator("h1").inner_text().startswith("U.S.–Mexico intelligence cooperation")
    page.get_by_role("radio", name="5 Very high").first.check()
    page.get_by_label("Continued transactional cooperation", exact=False).fill("70")
    page.get_by_label("A total rift", exact=False).fill("20")
    page.get_by_label("Renewed large-scale cooperation", exact=False).fill("5")
    page.get_by_role("button", name="Submit my answers").click()

    # 70 + 20 + 5 = 95: refused, with a linked message, and nothing typed is lost.
    summary = page.locator("#error-summary")
    assert "add up to 95 %" in summary.inner_text()
    assert page.get_by_role("radio", name="5 Very high").first.is_checked()
    summary.get_by_role("link").first.click()
    page.get_by_label("Renewed large-scale cooperation", exact=False).fill("10")
    page.get_by_role("button", name="Submit my answers").click()
    assert "your answers to round 1 are saved" in page.locator(".notice").inner_text()

    page.goto(f"{live_server}/e/{me.token}?lang=es")
    assert "¿Cuánta confianza existe hoy" in page.content()

    close_round(db.session, study)
    open_round(db.session, study)
    page.goto(f"{live_server}/e/{me.token}")
    feedback = page.locator('[data-feedback-item="trust_now"]')
    text = feedback.inner_text()
    assert "Panel median: 4" in text  # ratings 2, 4, 5
    assert "Your answer: 5" in text
    assert feedback.locator('[data-stat="q1"]').inner_text() == "3"
    assert feedback.locator('[data-stat="q3"]').inner_text() == "4.5"
