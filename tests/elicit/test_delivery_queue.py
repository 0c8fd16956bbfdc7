"""Invitations sent by a job queue, never by the request (issue 14, point 2).

Real pieces throughout: a private Redis started for the test (never the shared one on
6379), ``elicit worker`` processes, an SMTP server in the test process (aiosmtpd), the
test database.  A thousand invitations queued by one click are all delivered once by two
workers; a worker killed in the middle of a batch loses and duplicates nothing; without
Redis, a thread of the web process sends them after the response.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue

from elicit import create_app
from elicit.extensions import db
from elicit.jobs import QUEUE_NAME, runner
from surveys.delivery import RetryPolicy, delivery_status
from surveys.message_texts import save_message_settings
from surveys.models import MessageEvent, OutboxMessage
from surveys.rounds import open_round
from tests.conftest import csrf_token, enter, log_in
from tests.elicit.test_rate_limit_store import private_redis  # noqa: F401 - a fixture
from tests.smtp_sink import SinkHandler, free_port, smtp_sink

ELICIT = str(Path(sys.executable).with_name("elicit"))
SECRET_KEY = "test-secret-key-not-for-production"
SLUG = "us-mexico-intelligence"
INVITE = f"/console/studies/{SLUG}/invitations"


@pytest.fixture
def study(make_study, make_user):
    """The demo study with a facilitator member."""
    study = make_study()
    make_user("lead@example.org", studies=[study])
    return study


@pytest.fixture
def sink() -> Iterator[tuple[SinkHandler, int]]:
    """A running aiosmtpd sink and its port."""
    with smtp_sink() as running:
        yield running


@pytest.fixture
def console(database_url: str) -> Iterator[Callable[..., FlaskClient]]:
    """A console client logged in as the facilitator, of an app with the given
    configuration; its in-process delivery thread, if any, is stopped afterwards."""
    apps: list[Flask] = []

    def make(**config) -> FlaskClient:
        served = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": database_url,
                "SECRET_KEY": SECRET_KEY,
                "ELICIT_BASE_URL": "http://elicit.test",
                **config,
            }
        )
        apps.append(served)
        client = served.test_client()
        log_in(client, "lead@example.org")
        return client

    yield make
    for served in apps:
        # Its thread may be sweeping with a connection: the engine goes after it ends.
        assert runner(served).stop(wait=60)
        with served.app_context():
            db.session.remove()
            db.engine.dispose()


def invite(client: FlaskClient) -> float:
    """Click "Invite" on the panel page; the seconds the request took."""
    page = client.get(f"/console/studies/{SLUG}/panel")
    started = time.monotonic()
    answer = client.post(INVITE, data={"csrf_token": csrf_token(page.text)})
    elapsed = time.monotonic() - started
    assert answer.status_code == 303, answer.text
    return elapsed


def worker_environment(database_url: str, redis_port: int, smtp_port: int, tmp_path: Path):
    """The environment of an ``elicit worker`` on the test database, Redis and sink."""
    return {
        **os.environ,
        "ELICIT_DATABASE_URL": database_url,
        "ELICIT_SECRET_KEY": SECRET_KEY,
        "ELICIT_BASE_URL": "http://elicit.test",
        "ELICIT_QUEUE_URL": f"redis://127.0.0.1:{redis_port}/0",
        "ELICIT_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "ELICIT_MAIL_FROM": "delphi@x.org",
        "ELICIT_INSTANCE_PATH": str(tmp_path / "instance"),
    }


#: Every worker a test started, ended (if still running) and reaped after it.
_STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _reap_workers() -> Iterator[None]:
    """No worker outlives its test, whatever the test's outcome."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)


def start_worker(environment, log: Path, *options: str) -> subprocess.Popen[bytes]:
    """Start ``elicit worker`` in a process group of its own (to kill it whole)."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            [ELICIT, "worker", *options],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _STARTED.append(process)
    return process


def finish(process: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> None:
    """Wait for a burst worker; fail with its log if it failed."""
    assert process.wait(timeout) == 0, log.read_text()


def all_messages() -> list[OutboxMessage]:
    """Every message, fresh from the database."""
    db.session.expire_all()
    return list(db.session.execute(db.select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def event_counts() -> Counter[str]:
    """How many events of each kind the outbox's history holds."""
    return Counter(db.session.execute(db.select(MessageEvent.kind)).scalars())


def test_a_thousand_invitations_queued_by_one_click_are_all_delivered_once(
    study,
    make_panel,
    console,
    sink,
    private_redis,  # noqa: F811
    database_url,
    tmp_path,
):
    handler, smtp_port = sink
    links = make_panel(study, 1000)
    open_round(db.session, study)
    client = console(
        ELICIT_QUEUE_URL=f"redis://127.0.0.1:{private_redis}/0",
        ELICIT_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
    )
    elapsed = invite(client)
    # The request queued everything and sent nothing: no worker runs yet.
    assert handler.received == []
    assert elapsed < 10, elapsed
    connection = redis.Redis(port=private_redis)
    assert Queue(QUEUE_NAME, connection=connection).count == 10  # ten batches of 100
    assert {delivery_status(message) for message in all_messages()} == {"queued"}

    # Two workers share the queue (as two hosts would).
    environment = worker_environment(database_url, private_redis, smtp_port, tmp_path)
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    workers = [start_worker(environment, log, "--burst") for log in logs]
    for worker, log in zip(workers, logs, strict=True):
        finish(worker, log)

    emails = [f"expert.number{i}@example.org" for i in range(len(links))]
    assert sorted(handler.recipients()) == sorted(emails)  # each one, once
    messages = all_messages()
    assert all(message.sent_at and message.attempts == 1 for message in messages)
    assert event_counts() == {"queued": 1000, "sent": 1000}
    assert Queue(QUEUE_NAME, connection=connection).count == 0
    connection.close()


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
    study,
    make_panel,
    console,
    sink,
    private_redis,  # noqa: F811
    database_url,
    tmp_path,
):
    handler, smtp_port = sink
    make_panel(study, 300)
    open_round(db.session, study)
    client = console(
        ELICIT_QUEUE_URL=f"redis://127.0.0.1:{private_redis}/0",
        ELICIT_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
    )
    invite(client)  # three jobs of 100
    environment = worker_environment(database_url, private_redis, smtp_port, tmp_path)

    # The worker is killed (SIGKILL: no clean-up of any kind) while it is sending the
    # 150th message, in the middle of its second job.
    handler.hold_at = 150
    log = tmp_path / "killed.log"
    killed = start_worker(environment, log)
    assert handler.holding.wait(120), log.read_text()
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(30)
    handler.release.set()
    messages = all_messages()
    statuses = Counter(delivery_status(message) for message in messages)
    assert statuses == {"sent": 149, "sending": 1, "queued": 150}, statuses
    (held,) = [message for message in messages if delivery_status(message) == "sending"]

    # Ten minutes later (the claim's lease, and the time after which a message whose
    # job was lost is taken by a sweep), another worker starts; the clock is moved on
    # by moving every pending time back.
    for message in messages:
        if message.next_attempt_at is not None:
            message.next_attempt_at -= RetryPolicy().lease + timedelta(seconds=1)
    db.session.commit()
    log = tmp_path / "second.log"
    finish(start_worker(environment, log, "--burst"), log)

    recipients = handler.recipients()
    assert len(recipients) == 300 and len(set(recipients)) == 300
    messages = all_messages()
    assert all(message.sent_at for message in messages)
    assert next(m for m in messages if m.id == held.id).attempts == 2
    assert event_counts() == {"queued": 300, "sent": 300}


def test_without_redis_a_thread_sends_after_the_response_and_retries(
    study, make_panel, console, sink
):
    """The embedded default: the request returns while the mail server still holds the
    first message; the thread then sends the rest, and retries the held one."""
    handler, smtp_port = sink
    make_panel(study, 5)
    open_round(db.session, study)
    client = console(
        ELICIT_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        ELICIT_JOBS_IN_PROCESS="thread",
        ELICIT_SWEEP_INTERVAL=timedelta(seconds=0.2),
        ELICIT_DELIVERY_POLICY=RetryPolicy(first_delay=timedelta(0)),
    )
    handler.hold_at = 1
    elapsed = invite(client)
    assert handler.holding.wait(30)
    assert elapsed < 5, elapsed  # answered while the server holds the first message
    handler.release.set()  # the held one is answered 451: a temporary failure
    assert runner(client.application).wait_idle(60)
    deadline = time.monotonic() + 30
    while len(handler.received) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)  # the sweep retries the deferred one
    assert sorted(handler.recipients()) == sorted(f"expert.number{i}@example.org" for i in range(5))
    db.session.expire_all()
    assert event_counts() == {"queued": 5, "deferred": 1, "sent": 5}


def test_the_worker_needs_a_queue(tmp_path, database_url):
    """Without ELICIT_QUEUE_URL there is nothing for a worker to do, and it says why."""
    environment = {
        **os.environ,
        "ELICIT_DATABASE_URL": database_url,
        "ELICIT_SECRET_KEY": SECRET_KEY,
        "ELICIT_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    environment.pop("ELICIT_QUEUE_URL", None)
    result = subprocess.run(
        [ELICIT, "worker", "--burst"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "ELICIT_QUEUE_URL is not set" in result.stderr


def test_an_expert_s_thank_you_is_sent_after_the_response(study, make_panel, console, sink):
    """A study that thanks its panelists: the submission answers at once, and the
    thank-you reaches the expert from the web process's delivery thread."""
    handler, smtp_port = sink
    links = make_panel(study, 1)
    open_round(db.session, study)
    save_message_settings(db.session, study, "Dr. Rosa Ortiz", "", True)
    expert = console(
        ELICIT_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", ELICIT_JOBS_IN_PROCESS="thread"
    )
    enter(expert, links[0].token)
    page = expert.get("/e/")
    answer = expert.post("/e/", data={"csrf_token": csrf_token(page.text), "trust_now": "3"})
    assert answer.status_code == 302
    assert runner(expert.application).wait_idle(60)
    ((recipients, email),) = handler.received
    assert recipients == ["expert.number0@example.org"]
    assert email["Subject"] == "Thank you for your answers to round 1"
    assert "Dr. Rosa Ortiz" in email.get_content()


def test_readyz_reports_the_delivery_queue(
    console,
    private_redis,  # noqa: F811
):
    """The queue is one of /readyz's checks: a Redis that answers is "ok", one that does
    not makes the service "degraded" (messages wait in the outbox), never unavailable."""
    checks = console().get("/readyz").json["checks"]
    assert checks["delivery_queue"] == {"status": "ok", "kind": "in-process"}
    answering = console(ELICIT_QUEUE_URL=f"redis://127.0.0.1:{private_redis}/0")
    assert answering.get("/readyz").json["checks"]["delivery_queue"] == {
        "status": "ok",
        "kind": "redis",
    }
    down = console(ELICIT_QUEUE_URL=f"redis://127.0.0.1:{free_port()}/0").get("/readyz")
    queue = down.json["checks"]["delivery_queue"]
    assert queue["status"] == "degraded" and queue["kind"] == "redis"
    assert "wait in the outbox" in queue["detail"]


def test_a_queue_that_does_not_answer_loses_no_message(
    study,
    make_panel,
    console,
    sink,
    private_redis,  # noqa: F811
    database_url,
    tmp_path,
    caplog,
):
    """Redis is down when the facilitator clicks: the click still answers, the messages
    are queued in the outbox, and a worker's sweep sends them once it runs."""
    handler, smtp_port = sink
    make_panel(study, 3)
    open_round(db.session, study)
    client = console(
        ELICIT_QUEUE_URL=f"redis://127.0.0.1:{free_port()}/0",
        ELICIT_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
    )
    with caplog.at_level(logging.WARNING):
        assert invite(client) < 10
    assert "3 message(s) not put on the queue (ConnectionError)" in caplog.text
    messages = all_messages()
    assert {delivery_status(message) for message in messages} == {"queued"}
    # Once they are due for a sweep (ten minutes later), a worker on a queue that
    # answers sends them, once each.
    for message in messages:
        message.next_attempt_at -= RetryPolicy().orphan_after
    db.session.commit()
    environment = worker_environment(database_url, private_redis, smtp_port, tmp_path)
    log = tmp_path / "worker.log"
    finish(start_worker(environment, log, "--burst"), log)
    assert sorted(handler.recipients()) == [f"expert.number{i}@example.org" for i in range(3)]
