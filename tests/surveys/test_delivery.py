"""Delivery of the outbox (surveys.delivery): claims, retries with backoff, permanent
failures and bounces, each message's history; against a real SMTP server in the test
process (aiosmtpd) and the real test database."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask

from elicit.extensions import current_link_keys, db
from surveys.delivery import (
    CLAIM_PREFIX,
    RetryPolicy,
    SmtpSettings,
    _connect,
    deliver,
    delivery_status,
    due_messages,
    hand_over,
    history,
    requeue,
    sweep,
)
from surveys.models import utcnow
from surveys.panel import panelist_for_token
from surveys.rounds import open_round
from tests.smtp_sink import SinkHandler, free_port, smtp_sink
from tests.surveys.test_messaging import invite, messages, token_in

#: Retries due at once, so that a test can retry without waiting.
NO_WAIT = RetryPolicy(first_delay=timedelta(0), max_attempts=3)


@pytest.fixture
def running(make_study, make_panel):
    """The demo study with four panelists (English and Spanish) and round 1 open."""
    study = make_study()
    links = make_panel(study, 4)
    round_ = open_round(db.session, study)
    panelists = [panelist_for_token(db.session, link.token) for link in links]
    return study, round_, panelists, links


@pytest.fixture
def sink() -> Iterator[tuple[SinkHandler, SmtpSettings]]:
    """A running aiosmtpd sink and the settings that reach it."""
    with smtp_sink() as (handler, port):
        yield handler, SmtpSettings(host="127.0.0.1", port=port, sender="d@x.org", timeout=10)


def queued(study, round_) -> list[int]:
    """Invite the round and hand the invitations to delivery; their ids."""
    return hand_over(db.session, [message.id for message in invite(study, round_)])


def send(ids, smtp, policy=None):
    """Deliver ``ids`` with the app's link keys."""
    return deliver(db.session, ids, smtp, keys=current_link_keys(), policy=policy)


def kinds(message) -> list[str]:
    """The kinds of ``message``'s events, in order."""
    db.session.expire_all()
    return [event.kind for event in history(db.session, message)]


def test_the_backoff_grows_exponentially_up_to_its_ceiling():
    policy = RetryPolicy()
    delays = [policy.delay(attempt) for attempt in range(1, 7)]
    assert delays == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=25),
        timedelta(minutes=125),
        timedelta(minutes=625),
        timedelta(hours=12),
    ]


def test_a_queued_message_is_sent_once_with_its_link_and_its_history(running, sink):
    study, round_, panelists, links = running
    handler, smtp = sink
    ids = queued(study, round_)
    done = send(ids, smtp)
    assert (done.sent, done.deferred, done.failed) == (4, 0, 0)
    assert handler.recipients() == [panelist.roster.email for panelist in panelists]
    for (_, email), link in zip(handler.received, links, strict=True):
        assert token_in(email.get_content()) == link.token
    for message in messages():
        assert delivery_status(message) == "sent"
        assert (message.attempts, message.next_attempt_at, message.error) == (1, None, None)
        assert kinds(message) == ["queued", "sent"]
    # The same job again, a sweep, and a new click send nothing more.
    assert send(ids, smtp).sent == 0
    assert sweep(db.session, smtp, keys=current_link_keys()).sent == 0
    assert invite(study, round_) == []
    assert len(handler.received) == 4


def test_two_deliveries_of_the_same_job_at_once_send_each_message_once(app: Flask, running, sink):
    """A job run twice, by two workers at the same moment: the claims decide."""
    study, round_, _, _ = running
    handler, smtp = sink
    ids = queued(study, round_)
    results = []

    def work() -> None:
        with app.app_context():
            results.append(deliver(db.session, ids, smtp, keys=current_link_keys()).sent)
            db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(results) == 4
    assert sorted(handler.recipients()) == sorted(message.recipient for message in messages())


def test_a_message_not_handed_to_delivery_is_never_sent_by_itself(running, sink):
    """Queued without a mail server, a message waits for the facilitator (who may have
    sent it by hand): no job, no sweep takes it."""
    study, round_, _, _ = running
    handler, smtp = sink
    ids = [message.id for message in invite(study, round_)]
    assert send(ids, smtp).sent == 0
    assert sweep(db.session, smtp, keys=current_link_keys()).sent == 0
    assert handler.received == []
    assert {delivery_status(message) for message in messages()} == {"waiting"}


def test_a_temporary_failure_is_deferred_with_backoff_then_retried_by_a_sweep(running, sink):
    study, round_, panelists, _ = running
    handler, smtp = sink
    greylisted = panelists[1].roster.email
    handler.rcpt_replies[greylisted] = "451 4.7.1 greylisted, try again later"
    ids = queued(study, round_)
    before = utcnow()
    done = send(ids, smtp)
    assert (done.sent, done.deferred, done.failed) == (3, 1, 0)
    db.session.expire_all()
    (waiting,) = [message for message in messages() if message.sent_at is None]
    assert waiting.recipient == greylisted
    assert delivery_status(waiting) == "retrying"
    assert waiting.error == (
        "the server refused the recipient: 451 4.7.1 greylisted, try again later"
    )
    # Due a minute later (the first backoff), not before.
    assert waiting.next_attempt_at >= before + timedelta(minutes=1)
    assert due_messages(db.session) == []
    assert sweep(db.session, smtp, keys=current_link_keys()).sent == 0
    # The minute passes; the server now accepts.
    waiting.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    del handler.rcpt_replies[greylisted]
    assert sweep(db.session, smtp, keys=current_link_keys()).sent == 1
    db.session.expire_all()
    assert waiting.sent_at is not None and waiting.attempts == 2
    assert kinds(waiting) == ["queued", "deferred", "sent"]
    (event,) = [event for event in history(db.session, waiting) if event.kind == "deferred"]
    assert event.attempt == 1 and "451 4.7.1 greylisted" in (event.detail or "")
    assert handler.recipients().count(greylisted) == 1


def test_temporary_failures_become_permanent_after_the_last_attempt(running, sink):
    study, round_, panelists, _ = running
    handler, smtp = sink
    full = panelists[0].roster.email
    handler.rcpt_replies[full] = "452 4.2.2 mailbox full"
    queued(study, round_)
    for _ in range(5):
        sweep(db.session, smtp, keys=current_link_keys(), policy=NO_WAIT)
        send([message.id for message in messages()], smtp, NO_WAIT)
    db.session.expire_all()
    (message,) = [message for message in messages() if message.sent_at is None]
    assert delivery_status(message) == "failed" and message.attempts == NO_WAIT.max_attempts
    assert message.error == (
        "gave up after 3 attempts: the server refused the recipient: 452 4.2.2 mailbox full"
    )
    assert kinds(message) == ["queued", "deferred", "deferred", "failed"]
    assert full not in handler.recipients()


def test_a_refused_recipient_is_a_bounce_recorded_at_once_and_never_retried(running, sink, caplog):
    study, round_, panelists, _ = running
    handler, smtp = sink
    unknown = panelists[2].roster.email
    handler.rcpt_replies[unknown] = f"550 5.1.1 <{unknown}>: Recipient address rejected"
    queued(study, round_)
    caplog.set_level(logging.WARNING)
    done = send([message.id for message in messages()], smtp, NO_WAIT)
    assert (done.sent, done.deferred, done.failed) == (3, 0, 1)
    # The log says what happened, not to whom (the server's reply quotes the address).
    assert "not sent: the server refused the recipient 550" in caplog.text
    assert unknown not in caplog.text
    db.session.expire_all()
    (bounced,) = [message for message in messages() if message.sent_at is None]
    assert bounced.recipient == unknown and bounced.failed_at is not None
    assert bounced.error == (
        f"the server refused the recipient: 550 5.1.1 <{unknown}>: Recipient address rejected"
    )
    assert kinds(bounced) == ["queued", "bounced"]
    # No sweep, however late, tries it again.
    assert sweep(db.session, smtp, keys=current_link_keys(), policy=NO_WAIT).sent == 0
    assert unknown not in handler.recipients()
    # The facilitator corrects the matter and sends it again: it goes, once.
    del handler.rcpt_replies[unknown]
    assert requeue(db.session, study) == [bounced.id]
    assert send([bounced.id], smtp).sent == 1
    assert kinds(bounced) == ["queued", "bounced", "queued", "sent"]
    assert handler.recipients().count(unknown) == 1


def test_a_message_the_server_refuses_at_data_is_a_permanent_failure(running, sink):
    study, round_, _, _ = running
    handler, smtp = sink
    handler.data_reply = "554 5.7.1 message refused as spam"
    queued(study, round_)
    done = send([message.id for message in messages()], smtp)
    assert (done.sent, done.failed) == (0, 4)
    for message in messages():
        assert message.error == "SMTPDataError: 554 5.7.1 message refused as spam"
        assert kinds(message) == ["queued", "failed"]


def test_an_unreachable_server_defers_every_message_after_one_try(running):
    study, round_, _, _ = running
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), sender="d@x.org")
    connections = []

    def counting_connect(smtp):
        connections.append(smtp)
        return _connect(smtp)

    ids = queued(study, round_)
    done = deliver(db.session, ids, settings, keys=current_link_keys(), connect=counting_connect)
    assert (done.sent, done.deferred) == (0, 4)
    assert len(connections) == 1  # not one timeout per message
    for message in messages():
        assert delivery_status(message) == "retrying"
        assert message.error.startswith("cannot reach the mail server: ConnectionRefusedError")


def test_a_claimed_message_is_left_to_its_worker_until_the_claim_lapses(running, sink):
    study, round_, _, _ = running
    handler, smtp = sink
    ids = queued(study, round_)
    first, second, *_ = messages()
    # Another worker is delivering ``first`` right now; ``second``'s worker died long ago.
    for message, claimed_at in ((first, utcnow()), (second, utcnow() - timedelta(hours=1))):
        message.error = CLAIM_PREFIX + claimed_at.isoformat()
        message.attempts = 1
        message.next_attempt_at = claimed_at + RetryPolicy().lease
    db.session.commit()
    assert delivery_status(first) == "sending" and delivery_status(second) == "retrying"
    assert send(ids, smtp).sent == 3
    assert first.recipient not in handler.recipients()
    assert second.recipient in handler.recipients()
    # A facilitator's "send again" leaves the live claim alone too.
    assert requeue(db.session, study) == []
