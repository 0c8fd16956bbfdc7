"""Planned reminders in the console (issue 14, point 4): planned in days or hours on the
messages page, each problem on its field, listed with their moment in the open round on
the messages page and the study page, and removed."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from elicit.extensions import db
from surveys.accounts import grant_access
from surveys.message_texts import study_template
from surveys.models import User, utcnow
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


def test_a_planned_reminder_gets_its_own_text_in_each_language(
    client, study, make_study, make_user
):
    """From the messages page to "3 days before" in Spanish: it starts as the study's
    reminder text, is previewed and saved as its own, listed as its own, and given back
    to the study's reminder text; researchers read it, other studies' addresses are 404."""
    log_in(client, "lead@example.org")
    assert plan(client, "3", "days").status_code == 303
    (three_days,) = schedules(db.session, study)
    url = f"{MESSAGES}/reminders/{three_days.id}/es"
    overview = unescape(client.get(MESSAGES).text)
    assert f'href="{url}"' in overview
    assert overview.count("(the reminder text)") == 2  # English and Spanish

    page = unescape(client.get(url).text)
    general = study_template(db.session, study, "reminder", "es").text
    assert "Reminder 3 days before the deadline" in page
    assert "it is sent with the study's reminder text, shown here" in page
    assert general.subject in page
    assert "Use the reminder text again" not in page

    form = {
        "csrf_token": csrf_token(page),
        "subject": "Quedan tres días",
        "body": "{{ name }}: quedan tres días. {{ link }}\r\n",
    }
    preview = unescape(client.post(url, data={**form, "action": "preview"}).text)
    assert "Preview only: this text is not saved yet." in preview
    assert "Ana Ejemplo: quedan tres días. http://localhost/e/sample-link" in preview
    refused = client.post(url, data={**form, "body": "sin enlace", "action": "save"})
    assert refused.status_code == 422 and 'href="#body"' in refused.text
    assert client.post(url, data={**form, "action": "save"}).status_code == 303
    db.session.expire_all()
    stored = study_template(db.session, study, "reminder", "es", three_days)
    assert stored.edited and stored.text.body == "{{ name }}: quedan tres días. {{ link }}\n"
    assert study_template(db.session, study, "reminder", "es").text == general  # untouched
    overview = unescape(client.get(MESSAGES).text)
    assert "(its own, saved " in overview and overview.count("(the reminder text)") == 1

    page = client.get(url).text
    assert "Use the reminder text again" in page
    reset = client.post(url, data={"csrf_token": csrf_token(page), "action": "reset"})
    assert reset.status_code == 303
    db.session.expire_all()
    assert not study_template(db.session, study, "reminder", "es", three_days).edited

    other = make_study(
        study.source.replace('slug = "us-mexico-intelligence"', 'slug = "another-study"')
    )
    lead = db.session.execute(select(User).where(User.email == "lead@example.org")).scalar_one()
    grant_access(db.session, lead, other)
    elsewhere = f"/console/studies/{other.slug}/messages/reminders/{three_days.id}/es"
    assert client.get(elsewhere).status_code == 404  # not a reminder of that study
    assert client.get(f"{MESSAGES}/reminders/{three_days.id}/fr").status_code == 404
    assert client.get(f"{MESSAGES}/reminders/{three_days.id + 999}/es").status_code == 404
    make_user("reader@example.org", "researcher", studies=[study])
    client.post("/console/logout", data={"csrf_token": csrf_token(page)})
    log_in(client, "reader@example.org")
    read = client.get(url)
    assert read.status_code == 200 and "Save the text" not in read.text
    assert (
        client.post(
            url, data={**form, "csrf_token": csrf_token(read.text), "action": "save"}
        ).status_code
        == 403
    )
