"""Planned reminders in the console (issue 14, point 4): planned in days or hours on the
messages page, each problem on its field, listed with their moment in the open round on
the messages page and the study page, and removed."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest

from elicit.extensions import db
from surveys.models import utcnow
from surveys.rounds import open_round
from surveys.schedules import schedules
from tests.conftest import csrf_token, log_in

SLUG = "us-mexico-intelligence"
MESSAGES = f"/console/studies/{SLUG}/messages"


@pytest.fixture
def study(make_study, make_user, make_panel):
    study = make_study()
    make_panel(study, 2)
    make_user("lead@example.org", studies=[study])
    return study


def plan(client, amount: str, unit: str):
    page = client.get(MESSAGES)
    return client.post(
        f"{MESSAGES}/schedules",
        data={"csrf_token": csrf_token(page.text), "amount": amount, "unit": unit},
    )


def test_plan_in_days_and_hours_see_them_with_their_moment_and_remove_one(client, study):
    log_in(client, "lead@example.org")
    assert "No reminder is planned." in client.get(MESSAGES).text
    assert plan(client, "3", "days").status_code == 303
    assert plan(client, "12", "hours").status_code == 303
    assert sorted(schedule.hours_before for schedule in schedules(db.session, study)) == [12, 72]
    page = unescape(client.get(MESSAGES).text)
    assert "3 days before the deadline" in page and "12 hours before the deadline" in page
    assert "applies to each round with a deadline" in page

    deadline = (utcnow() + timedelta(days=5)).replace(second=0, microsecond=0)
    open_round(db.session, study, deadline=deadline)
    study_page = unescape(client.get(f"/console/studies/{SLUG}").text)
    at = (deadline - timedelta(days=3)).strftime("%Y-%m-%d %H:%M")
    assert f"3 days before the deadline: planned for {at} UTC" in study_page
    assert 'id="planned-reminders"' in study_page

    three_days = next(s for s in schedules(db.session, study) if s.hours_before == 72)
    page = client.get(MESSAGES)
    removed = client.post(
        f"{MESSAGES}/schedules/{three_days.id}/remove",
        data={"csrf_token": csrf_token(page.text)},
    )
    assert removed.status_code == 303
    assert [schedule.hours_before for schedule in schedules(db.session, study)] == [12]


@pytest.mark.parametrize(
    ("amount", "unit", "error"),
    [
        ("0", "days", "Number must be at least 1."),
        ("61", "days", "must be from 1 hour to 60 days"),
        ("x", "hours", "Not a valid integer value."),
        ("", "days", "This field is required."),
    ],
)
def test_bad_amounts_are_named_on_their_field(client, study, amount, unit, error):
    log_in(client, "lead@example.org")
    refused = plan(client, amount, unit)
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert 'id="schedule-errors"' in text
    assert f"How long before the deadline: {error}" in text
    assert schedules(db.session, study) == []


def test_the_same_moment_twice_is_refused(client, study):
    log_in(client, "lead@example.org")
    assert plan(client, "1", "days").status_code == 303
    again = plan(client, "24", "hours")
    assert again.status_code == 422
    assert "is planned already" in again.text
