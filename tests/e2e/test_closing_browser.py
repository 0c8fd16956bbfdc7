"""A close computed by a job, followed in a real browser: the close's page updates its
state line in place while the job runs (no reload on a timer, which would move a screen
reader back to the top), leads to the study page once the round is closed, and shows
why once a close failed; a large round's close preview, computed by a job, appears by
itself once computed; axe-clean at 1280 and 375 px, nothing wider than the window.

The browser's server runs jobs inside the request (a test app), so the closes and
previews here are asked for and run by the test itself, as a worker would."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from elicit.extensions import db
from elicit.facilitate import closing as closing_pages
from surveys.close_previews import request_preview, run_preview
from surveys.closing import request_close, run_closing
from surveys.models import ClosingStatus, RoundClosing, utcnow
from surveys.rounds import open_round
from tests.e2e.support import (
    axe_violations,
    console_login,
    describe_violations,
    horizontal_overflow,
    others_answer,
    save_screenshot,
    serve_axe,
)

pytestmark = pytest.mark.e2e

SLUG = "us-mexico-intelligence"
BLOCKING = {"serious", "critical"}


def _set(closing_id: int, **values) -> None:
    db.session.execute(update(RoundClosing).where(RoundClosing.id == closing_id).values(**values))
    db.session.commit()


@pytest.mark.parametrize("width", [1280, 375])
def test_the_close_s_page_follows_the_job_to_the_closed_round(
    live_server,
    new_page,
    make_study,
    make_panel,
    make_user,
    post_answers,
    artifacts,
    monkeypatch,
    width,
):
    monkeypatch.setattr(closing_pages, "REFRESH_SECONDS", 1)
    study = make_study()
    links = make_panel(study, 4)
    open_round(db.session, study)
    others_answer(post_answers, links[:3])
    make_user("lead@example.org", studies=[study])
    closing_id = request_close(db.session, study, actor=None).closing.id

    page = new_page(viewport={"width": width, "height": 900})
    serve_axe(page, live_server)
    console_login(page, live_server, "lead@example.org")

    closing_page = f"{live_server}/console/studies/{SLUG}/rounds/closing/{closing_id}"
    page.goto(closing_page)
    state = page.locator("#closing-state")
    expect(state).to_have_text("Waiting for a worker to compute the summary.")
    serious = [v for v in axe_violations(page, live_server) if v["impact"] in BLOCKING]
    assert not serious, describe_violations("the close's page, waiting", serious)
    assert horizontal_overflow(page, width)[0] <= width
    save_screenshot(page, artifacts, f"closing-waiting-{width}")

    # The job starts: the state line changes in place, the page is not reloaded.
    page.evaluate("window.notReloaded = true")
    _set(closing_id, status=ClosingStatus.RUNNING, started_at=utcnow(), alive_at=utcnow())
    expect(state).to_contain_text("The summary is being computed, since")
    assert page.evaluate("window.notReloaded") is True
    # The job ends: the page leads to the study, which says the round is closed.
    _set(closing_id, status=ClosingStatus.QUEUED)
    assert run_closing(db.session, closing_id) == ClosingStatus.DONE
    expect(page).to_have_url(f"{live_server}/console/studies/{SLUG}", timeout=30_000)
    # Said once: the poll that found it done left the message, the browser shows it.
    expect(page.locator(".notice", has_text="Round 1 is closed")).to_have_count(1)

    # A close of round 2 that fails: the waiting page turns into the reason.
    open_round(db.session, study)
    failing = request_close(db.session, study, actor=None).closing.id
    page.goto(f"{live_server}/console/studies/{SLUG}/rounds/closing/{failing}")
    expect(page.locator("#closing-state")).to_be_visible()
    _set(failing, status=ClosingStatus.FAILED, error="The round could not be closed (OSError).")
    expect(page.get_by_role("heading", name="The round was not closed")).to_be_visible(
        timeout=30_000
    )
    expect(page.locator("#closing-reason")).to_have_text("The round could not be closed (OSError).")
    serious = [v for v in axe_violations(page, live_server) if v["impact"] in BLOCKING]
    assert not serious, describe_violations("the close's page, failed", serious)
    assert horizontal_overflow(page, width)[0] <= width
    save_screenshot(page, artifacts, f"closing-failed-{width}")
    page.get_by_role("link", name="Close the round again").click()
    expect(page.get_by_role("heading", name="Close the round: preview")).to_be_visible()
    expect(page.locator("#last-close-failed")).to_be_visible()


@pytest.mark.parametrize("width", [1280, 375])
def test_a_large_round_s_preview_is_followed_until_its_job_has_computed_it(
    live_server,
    new_page,
    make_study,
    make_panel,
    make_user,
    post_answers,
    artifacts,
    monkeypatch,
    width,
):
    # Three answers stand for 100,000: past the limit, the preview is a job's.
    monkeypatch.setattr(closing_pages, "computed_in_request", lambda answers, limit: False)
    monkeypatch.setattr(closing_pages, "REFRESH_SECONDS", 1)
    study = make_study()
    links = make_panel(study, 4)
    round_ = open_round(db.session, study)
    others_answer(post_answers, links[:3])
    make_user("lead@example.org", studies=[study])
    # Asked for already, its job not yet started (the test runs it, as a worker would).
    preview_id = request_preview(db.session, round_).preview.id

    page = new_page(viewport={"width": width, "height": 900})
    serve_axe(page, live_server)
    console_login(page, live_server, "lead@example.org")

    page.goto(f"{live_server}/console/studies/{SLUG}/rounds/close")
    expect(page.locator("#preview-state")).to_have_text(
        "Waiting for a worker to compute the preview."
    )
    expect(page.locator("#checklist")).to_be_visible()
    expect(page.get_by_role("button", name="Close the round", exact=True)).to_be_visible()
    serious = [v for v in axe_violations(page, live_server) if v["impact"] in BLOCKING]
    assert not serious, describe_violations("the close's page, preview waiting", serious)
    assert horizontal_overflow(page, width)[0] <= width
    save_screenshot(page, artifacts, f"close-preview-waiting-{width}")

    # The job computes it: the page shows the preview by itself.
    assert run_preview(db.session, preview_id) == ClosingStatus.DONE
    expect(page.locator("#preview")).to_be_visible(timeout=30_000)
    expect(page.locator("#preview-kept")).to_contain_text(
        "from the answers of 3 panelists. 3 have submitted now."
    )
    serious = [v for v in axe_violations(page, live_server) if v["impact"] in BLOCKING]
    assert not serious, describe_violations("the close's page, preview kept", serious)
    assert horizontal_overflow(page, width)[0] <= width
    save_screenshot(page, artifacts, f"close-preview-kept-{width}")

    # A fourth answer, and the preview computed again on request (the test app runs the
    # job inside the request): the page shows the new count.
    others_answer(post_answers, links[3:])
    expect(page.locator("#preview-kept")).to_contain_text("3 have submitted now.")
    page.get_by_role("button", name="Compute the preview again").click()
    expect(page.locator("#preview-kept")).to_contain_text(
        "from the answers of 4 panelists. 4 have submitted now."
    )
    page.get_by_role("button", name="Close the round", exact=True).click()
    expect(page.locator(".notice", has_text="Round 1 is closed")).to_have_count(1)
