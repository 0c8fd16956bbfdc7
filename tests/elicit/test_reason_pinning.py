"""A facilitator pins reasons of a closed round on the console (issue 15, point 2):
facilitators only, with a CSRF token, audited; pinned reasons come first for every
expert in the next round."""

from __future__ import annotations

import re

import pytest

from elicit.extensions import db
from elicit.facilitate import results
from surveys.models import AuditEvent, FeedbackReason
from tests.conftest import csrf_token, enter, log_in
from tests.elicit.test_feedback_reasons import _shown, two_rounds


@pytest.fixture
def round_two(built_once, make_study, make_panel):
    """Round 1 answered by 40 panelists with reasons, closed; round 2 open."""
    return two_rounds(built_once, make_study, make_panel)


def _reasons_page(client, study, number=1, item="trust_now"):
    return client.get(f"/console/studies/{study.slug}/rounds/{number}/reasons?item={item}")


def test_a_facilitator_pins_a_reason_on_the_console_audited(client, round_two, make_user):
    study, links = round_two
    make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    assert (
        "/rounds/1/reasons?item=trust_now"
        in client.get(f"/console/studies/{study.slug}/results").text
    )
    page = _reasons_page(client, study)
    assert page.status_code == 200
    assert "Page 1 of 1; 40 reasons" in page.text
    reason = db.session.execute(
        db.select(FeedbackReason).where(FeedbackReason.text == "Because 12-3.")
    ).scalar_one()
    url = f"/console/studies/{study.slug}/reasons/{reason.id}/pin"
    assert client.post(url, data={"pin": "1"}).status_code == 400  # no CSRF token
    response = client.post(url, data={"csrf_token": csrf_token(page.text), "pin": "1"})
    assert response.status_code == 303
    db.session.refresh(reason)
    assert reason.pinned_at is not None
    listed = _reasons_page(client, study).text
    assert listed.index("Because 12-3.") < listed.index("Because 0-1.")
    event = db.session.execute(
        db.select(AuditEvent).where(AuditEvent.action == "feedback.pin")
    ).scalar_one()
    assert event.details["reason"] == reason.id and event.details["round"] == 1
    client.get("/console/logout")
    enter(client, links[5].token)
    assert _shown(client.get("/e/").text)[0] == (12, 3)


def test_only_a_facilitator_may_pin_and_only_a_closed_rounds_reasons(client, round_two, make_user):
    study, _ = round_two
    make_user("reader@example.org", role="researcher", studies=[study])
    log_in(client, "reader@example.org")
    page = _reasons_page(client, study)
    assert page.status_code == 200 and 'name="pin"' not in page.text
    reason = db.session.execute(db.select(FeedbackReason)).scalars().first()
    assert reason is not None
    response = client.post(
        f"/console/studies/{study.slug}/reasons/{reason.id}/pin",
        data={"csrf_token": csrf_token(page.text), "pin": "1"},
    )
    assert response.status_code == 403
    db.session.refresh(reason)
    assert reason.pinned_at is None
    assert _reasons_page(client, study, number=2).status_code == 404


def _listed(html):
    """The reasons' texts the console page lists, and the number its list starts at."""
    start = re.search(r'<ol class="console-reasons" start="(\d+)"', html)
    return int(start.group(1)), re.findall(r"<span[^>]*>(Because [\d-]+\.)</span>", html)


@pytest.mark.parametrize(
    ("asked", "shown"),
    [
        ("1", 1),
        ("3", 3),
        ("²", 1),
        ("abc", 1),
        ("-3", 1),
        ("0", 1),
        ("", 1),
        ("4", 3),
        ("9", 3),
        ("99999999999999999999", 3),
    ],
)
def test_a_page_argument_is_a_plain_number_within_the_pages(
    client, round_two, make_user, monkeypatch, asked, shown
):
    """Not a plain number: page 1; past the last (or too large for the database):
    the last, never a 500 or an empty page."""
    study, _ = round_two
    monkeypatch.setattr(results, "CONSOLE_REASONS_PER_PAGE", 15)
    make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    url = f"/console/studies/{study.slug}/rounds/1/reasons"
    response = client.get(url, query_string={"item": "trust_now", "page": asked})
    assert response.status_code == 200
    assert f"Page {shown} of 3; 40 reasons" in response.text
    start, texts = _listed(response.text)
    assert start == (shown - 1) * 15 + 1
    assert len(texts) == (10 if shown == 3 else 15)
    expected = _listed(client.get(url, query_string={"item": "trust_now", "page": shown}).text)
    assert (start, texts) == expected


def test_pinning_from_a_later_page_comes_back_to_it(client, round_two, make_user, monkeypatch):
    study, _ = round_two
    monkeypatch.setattr(results, "CONSOLE_REASONS_PER_PAGE", 15)
    make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    page = _reasons_page(client, study)
    reason = db.session.execute(db.select(FeedbackReason)).scalars().first()
    assert reason is not None
    url = f"/console/studies/{study.slug}/reasons/{reason.id}/pin"
    token = csrf_token(page.text)
    for sent, back in (("2", "page=2"), ("²", "page=1"), ("99999999999999999999", "page=1000000")):
        response = client.post(url, data={"csrf_token": token, "pin": "1", "page": sent})
        assert response.status_code == 303
        assert back + "#" in response.headers["Location"]
        assert client.get(response.headers["Location"]).status_code == 200
