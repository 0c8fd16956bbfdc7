"""An expert's work is never lost: autosaved drafts survive a reload and follow the
personal link to another device; answers submitted after the deadline are kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.models import utcnow
from surveys.rounds import open_round
from tests.e2e.support import enter, pretty, stored_answers, stored_draft

pytestmark = pytest.mark.e2e

TYPED = {
    "trigger_black_swan": "15",
    "scenarios.status_quo": "55",
    "scenarios.rift": "25",
    "scenarios.renewal": "20",
    "transfers_next_year.lowest": "3",
    "transfers_next_year.highest": "30",
    "transfers_next_year.best": "10",
    "transfers_next_year.confidence": "70",
    "missing_factors": "The 2026 review of the USMCA trade agreement.",
}


def field(page, name: str):
    return page.locator(f'[id="field-{name}"]')


def type_answers(page) -> None:
    page.locator('input[name="agenda_now"][value="2"]').check()
    for name, value in TYPED.items():
        field(page, name).press_sequentially(value)


def assert_answers_shown(page) -> None:
    assert page.locator('input[name="agenda_now"][value="2"]').is_checked()
    shown = {name: field(page, name).input_value() for name in TYPED}
    assert shown == TYPED


def test_autosaved_draft_survives_a_reload_and_another_device(
    live_server, page, new_page, make_study, make_panel
):
    study = make_study()
    (me,) = make_panel(study, 1, languages=("en",))
    open_round(db.session, study)
    enter(page, live_server, me.token)
    status = page.locator("#save-status")
    assert "Draft saved" not in status.inner_text()

    type_answers(page)
    # The script saves 2.5 s after the last change, and says so.
    expect(status).to_contain_text("Draft saved at", timeout=20_000)
    draft = stored_draft(me) or {}
    assert {name: value for name, value in draft.items() if value} == {"agenda_now": "2", **TYPED}

    page.reload()
    assert_answers_shown(page)
    assert "Draft saved on" in status.inner_text()

    other_device = new_page()
    enter(other_device, live_server, me.token)
    assert_answers_shown(other_device)
    assert stored_answers(me, 1) == {}, "a draft is not a submission"


def test_deadline_passing_mid_answer_keeps_everything(live_server, page, make_study, make_panel):
    study = make_study()
    (me,) = make_panel(study, 1, languages=("en",))
    round_ = open_round(db.session, study, deadline=utcnow() + timedelta(hours=1))
    enter(page, live_server, me.token)
    assert "please answer by" in page.locator(".round-status").inner_text()

    # The deadline passes while the expert is typing.
    round_.deadline = utcnow() - timedelta(seconds=1)
    db.session.commit()
    type_answers(page)
    page.locator('button[name="action"][value="review"]:not([aria-hidden])').click()
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.locator('button[name="action"][value="submit"]').click()
    assert posted.value.status == 409

    summary = page.locator("#error-summary")
    text = summary.inner_text()
    assert "has passed, so your answers were not submitted" in text, text
    assert "kept as a draft" in text, text
    assert_answers_shown(page)

    draft = stored_draft(me)
    assert draft is not None
    assert {name: draft.get(name) for name in ("agenda_now", *TYPED)} == {
        "agenda_now": "2",
        **TYPED,
    }, pretty(draft)
    assert stored_answers(me, 1) == {}, "nothing may be submitted after the deadline"
