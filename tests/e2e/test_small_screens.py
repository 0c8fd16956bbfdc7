"""Readable at 320 px wide: no page of the expert's journey scrolls sideways, splits
words across lines, or shrinks chart labels below a legible size."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.support import (
    broken_words,
    enter,
    horizontal_overflow,
    round_two_with_feedback,
    save_screenshot,
    small_chart_text,
)

pytestmark = pytest.mark.e2e

WIDTH = 320
#: Rendered height of a chart label's box: 11 px is a font of about 9 px.
MIN_LABEL_HEIGHT = 11


def test_expert_pages_fit_320_pixels(
    live_server, new_page, artifacts, make_study, make_panel, post_answers
):
    _, (me, *_) = round_two_with_feedback(make_study, make_panel, post_answers)
    page = new_page(viewport={"width": WIDTH, "height": 640})
    enter(page, live_server, me.token)
    assert page.locator("svg.distribution-chart").count() > 10, "round 2 shows feedback charts"

    overflow, unreadable = [], []

    def check(name: str) -> None:
        save_screenshot(page, artifacts, f"{name}-{WIDTH}px")
        scroll_width, offenders = horizontal_overflow(page, WIDTH)
        if scroll_width > WIDTH or offenders:
            overflow.append(
                f"{name}: document scrollWidth {scroll_width}px; elements beyond {WIDTH}px:\n  "
                + "\n  ".join(offenders or ["(none)"])
            )
        problems = broken_words(page) + small_chart_text(page, MIN_LABEL_HEIGHT)
        if problems:
            unreadable.append(f"{name}:\n  " + "\n  ".join(dict.fromkeys(problems)))

    check("round-2-feedback")
    # An answer outside the panel's middle half, so the review lists it too.
    page.locator("#field-trigger_tariffs").fill("99")
    page.locator('button[name="action"][value="review"]:not([aria-hidden])').click()
    expect(page.locator("h1")).to_have_text("Review your answers")
    check("review")

    assert not overflow, "horizontal overflow at 320 px:\n" + "\n".join(overflow)
    assert not unreadable, (
        f"hard to read at {WIDTH} px (words split across lines, chart labels under "
        f"{MIN_LABEL_HEIGHT} px):\n" + "\n".join(unreadable)
    )
