"""Planned reminders (issue 14, point 4): so many hours before each round's deadline,
to those who have not submitted, fired once per schedule and round even by two sweeps at
once; never in a closed round nor for a moment that had passed when the round opened;
and a reminder still waiting when its round closes or its panelist submits is cancelled
at delivery, not sent."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from elicit.extensions import db
from surveys.delivery import SmtpSettings, deliver, delivery_status, hand_over, history
from surveys.errors import InvalidValues
from surveys.message_templates import render
from surveys.message_texts import reset_template, save_template, study_template
from surveys.messaging import one_line
from surveys.models import OutboxMessage, ReminderRun, ReminderText, utcnow
from surveys.rounds import close_round, open_round
from surveys.schedules import add_schedule, fire_due, planned, remove_schedule
from tests.smtp_sink import smtp_sink

BASE = "https://elicit.example"


@pytest.fixture
def study_in_round(make_study, make_panel, post_answers):
    """The demo study, three panelists, round 1 open with a deadline five days away;
    the first panelist has submitted."""
    study = make_study()
    links = make_panel(study, 3)
    deadline = (utcnow() + timedelta(days=5)).replace(microsecond=0)
    round_ = open_round(db.session, study, deadline=deadline)
    assert post_answers(links[0].token, {"trust_now": "3"}).status_code == 302
    return study, round_, links


def reminders(session: Session | None = None) -> list[OutboxMessage]:
    session = session or db.session
    return list(
        session.execute(
            select(OutboxMessage).where(OutboxMessage.kind == "reminder").order_by(OutboxMessage.id)
        ).scalars()
    )


def test_schedules_are_checked_and_named(make_study):
    study = make_study()
    for bad, message in [
        (0, "from 1 hour to 60 days"),
        (60 * 24 + 1, "from 1 hour to 60 days"),
        ("72", "whole number of hours"),
        (True, "whole number of hours"),
    ]:
        with pytest.raises(InvalidValues) as refused:
            add_schedule(db.session, study, bad, BASE)
        assert message in refused.value.errors["hours_before"][0]
    add_schedule(db.session, study, 72, BASE)
    with pytest.raises(InvalidValues) as twice:
        add_schedule(db.session, study, 72, BASE)
    assert twice.value.errors == {"hours_before": ["is planned already"]}
    for hours in range(1, 10):
        add_schedule(db.session, study, hours, BASE)
    with pytest.raises(InvalidValues) as many:
        add_schedule(db.session, study, 100, BASE)
    assert "at most 10" in many.value.errors["hours_before"][0]


def test_a_schedule_fires_once_at_its_moment_to_non_submitters(study_in_round, link_keys):
    study, round_, _links = study_in_round
    three_days = add_schedule(db.session, study, 72, BASE)
    one_day = add_schedule(db.session, study, 24, BASE)
    deadline = round_.deadline
    assert [item.state for item in planned(db.session, study, round_)] == ["planned"] * 2
    assert planned(db.session, study, round_)[0].at == deadline - timedelta(hours=72)

    assert fire_due(db.session, keys=link_keys, now=deadline - timedelta(hours=73)) == []
    first = fire_due(db.session, keys=link_keys, now=deadline - timedelta(hours=71))
    assert len(first) == 2  # the two who have not submitted
    assert {message.panelist_id for message in reminders()} == {
        message.panelist_id for message in reminders() if message.id in first
    }
    assert fire_due(db.session, keys=link_keys, now=deadline - timedelta(hours=70)) == []
    states = {item.schedule.id: item for item in planned(db.session, study, round_)}
    assert states[three_days.id].state == "sent" and states[three_days.id].queued == 2
    assert states[one_day.id].state == "planned"

    # Two days pass (the batch rule reads the messages' times).
    for message in reminders():
        message.created_at -= timedelta(hours=48)
    db.session.commit()
    second = fire_due(db.session, keys=link_keys, now=deadline - timedelta(hours=23))
    assert len(second) == 2  # a new batch, two days after the first
    assert fire_due(db.session, keys=link_keys, now=deadline + timedelta(hours=1)) == []
    assert len(reminders()) == 4
    assert all("/e/[personal link]" in message.body for message in reminders())
    assert all(message.body.count(BASE) == 1 for message in reminders())


def test_nothing_fires_in_a_closed_round_or_for_a_moment_already_past(
    make_study, make_panel, link_keys
):
    study = make_study()
    make_panel(study, 2)
    add_schedule(db.session, study, 72, BASE)
    deadline = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    round_ = open_round(db.session, study, deadline=deadline)
    (item,) = planned(db.session, study, round_)
    assert item.state == "missed"
    assert fire_due(db.session, keys=link_keys, now=deadline - timedelta(hours=1)) == []
    add_schedule(db.session, study, 24, BASE)
    close_round(db.session, study)
    assert fire_due(db.session, keys=link_keys, now=deadline - timedelta(hours=1)) == []
    assert reminders() == []


def test_two_sweeps_at_once_fire_a_schedule_once(study_in_round, link_keys, app):
    study, round_, _ = study_in_round
    add_schedule(db.session, study, 72, BASE)
    moment = round_.deadline - timedelta(hours=71)
    db.session.remove()
    barrier = threading.Barrier(2)
    fired: list[list[int]] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        with app.app_context(), Session(db.engine) as session:
            try:
                barrier.wait(timeout=10)
                fired.append(fire_due(session, keys=link_keys, now=moment))
            except BaseException as error:  # reported below
                errors.append(error)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(len(ids) for ids in fired) == [0, 2]
    assert len(reminders()) == 2
    assert len(db.session.execute(select(ReminderRun)).scalars().all()) == 1


def test_a_waiting_reminder_is_cancelled_when_its_panelist_submits_or_the_round_closes(
    study_in_round, link_keys, post_answers
):
    study, round_, links = study_in_round
    add_schedule(db.session, study, 72, BASE)
    ids = fire_due(db.session, keys=link_keys, now=round_.deadline - timedelta(hours=71))
    assert len(ids) == 2
    hand_over(db.session, ids)
    assert post_answers(links[1].token, {"trust_now": "4"}).status_code == 302
    with smtp_sink() as (handler, port):
        smtp = SmtpSettings(host="127.0.0.1", port=port, sender="d@x.org", timeout=10)
        done = deliver(db.session, ids, smtp, keys=link_keys)
        assert (done.sent, done.cancelled) == (1, 1)
        assert len(handler.received) == 1
        db.session.expire_all()
        by_panelist = {message.panelist_id: message for message in reminders()}
        submitted = next(m for m in by_panelist.values() if m.sent_at is None)
        assert delivery_status(submitted) == "cancelled"
        assert submitted.error == "cancelled: the panelist submitted before it was sent"
        assert [event.kind for event in history(db.session, submitted)] == [
            "queued",
            "cancelled",
        ]
        # The round closes with a reminder still waiting: it is never sent either.
        close_round(db.session, study)
        late = fire_due(db.session, keys=link_keys, now=round_.deadline - timedelta(hours=1))
        assert late == []


def test_removing_a_schedule(make_study):
    study = make_study()
    schedule = add_schedule(db.session, study, 24, BASE)
    other = make_study(
        study.source.replace('slug = "us-mexico-intelligence"', 'slug = "another-study"')
    )
    assert remove_schedule(db.session, other, schedule.id) is False
    assert remove_schedule(db.session, study, schedule.id) is True
    assert remove_schedule(db.session, study, schedule.id) is False
    assert planned(db.session, study, None) == []


def test_a_round_closed_between_the_sweep_s_look_and_its_firing_fires_nothing(
    study_in_round, link_keys, monkeypatch
):
    """The sweep reads the due schedules, then the round closes before the batch is
    queued: that schedule records no firing and the sweep goes on."""
    import surveys.schedules as schedules_module
    from surveys.errors import Conflict

    study, round_, _ = study_in_round
    add_schedule(db.session, study, 72, BASE)

    def closed(*args, **kwargs):
        raise Conflict("round 1 is closed")

    monkeypatch.setattr(schedules_module, "queue_reminders", closed)
    moment = round_.deadline - timedelta(hours=71)
    assert fire_due(db.session, keys=link_keys, now=moment) == []
    assert db.session.execute(select(ReminderRun)).scalars().all() == []
    monkeypatch.undo()
    assert len(fire_due(db.session, keys=link_keys, now=moment)) == 2


def test_a_planned_reminder_is_sent_in_its_own_text_where_it_has_one(study_in_round, link_keys):
    """ "3 days before" in its own words in Spanish: its Spanish recipient gets them, its
    English recipient and the other planned reminder get the study's reminder text."""
    study, round_, _links = study_in_round
    three_days = add_schedule(db.session, study, 72, BASE)
    one_day = add_schedule(db.session, study, 24, BASE)
    save_template(
        db.session,
        study,
        "reminder",
        "es",
        "Quedan tres días: {{ study_title }}",
        "Hola {{ name }}: quedan tres días. {{ link }}",
        schedule=three_days,
    )
    general = {
        language: study_template(db.session, study, "reminder", language).text
        for language in ("en", "es")
    }
    assert study_template(db.session, study, "reminder", "en", three_days).text == general["en"]
    assert study_template(db.session, study, "reminder", "es", three_days).edited

    deadline = round_.deadline
    first = fire_due(db.session, keys=link_keys, now=deadline - timedelta(hours=71))
    sent = {message.language: message for message in reminders() if message.id in first}
    assert set(sent) == {"en", "es"}  # one non-submitter in each language
    assert sent["es"].subject.startswith("Quedan tres días: ")
    assert sent["es"].body.startswith("Hola Expert Number1: quedan tres días. ")
    assert "/e/[personal link]" in sent["es"].body
    assert "tres días" not in sent["en"].subject + sent["en"].body
    assert sent["en"].subject == one_line(
        render(general["en"], {"study_title": study.title["en"], "round": "1"}).subject
    )

    for message in reminders():
        message.created_at -= timedelta(hours=48)
    db.session.commit()
    second = fire_due(db.session, keys=link_keys, now=deadline - timedelta(hours=23))
    later = [message for message in reminders() if message.id in second]
    assert len(later) == 2 and not any("tres días" in message.subject for message in later)

    # Its text goes back to the study's, and goes with it when it is removed.
    assert reset_template(db.session, study, "reminder", "es", schedule=three_days) is True
    assert study_template(db.session, study, "reminder", "es", three_days).text == general["es"]
    save_template(
        db.session, study, "reminder", "en", "S {{ round }}", "{{ link }}", schedule=one_day
    )
    assert remove_schedule(db.session, study, one_day.id) is True
    assert db.session.execute(select(ReminderText)).scalars().all() == []


def test_a_planned_reminder_s_text_is_a_reminder_of_its_own_study(make_study):
    study = make_study()
    other = make_study(
        study.source.replace('slug = "us-mexico-intelligence"', 'slug = "another-study"')
    )
    theirs = add_schedule(db.session, other, 24, BASE)
    for kind, schedule in (
        ("reminder", theirs),
        ("invitation", add_schedule(db.session, study, 24, BASE)),
    ):
        with pytest.raises(InvalidValues) as refused:
            save_template(db.session, study, kind, "en", "S", "{{ link }}", schedule=schedule)
        assert "kind" in refused.value.errors
    assert db.session.execute(select(ReminderText)).scalars().all() == []
