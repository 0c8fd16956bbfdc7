"""Closing a round from the console through a job (surveys.closing): the page that
follows the close, the close preview not computed again while it runs, a failure said
in words with the round still open, a lost job handed again, and a real ``elicit
worker`` on Redis closing the round the console asked to close.

The test app runs each job inside the request that submits it (``TESTING``): there a
close is done when the post returns, as the other tests of closing pages see it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select, update

from elicit import create_app, jobs
from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.closing import REQUEUE_AFTER, request_close
from surveys.demo import demo_source
from surveys.models import ClosingStatus, Round, RoundClosing, RoundStatus, RoundSummary
from surveys.panel import panelist_by_pseudonym
from surveys.rounds import NotTheOpenRound, close_round, latest_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import csrf_token, log_in, round_form
from tests.elicit.test_delivery_queue import finish, start_worker, worker_environment
from tests.elicit.test_rate_limit_store import private_redis  # noqa: F401 - a fixture

SLUG = "us-mexico-intelligence"
CONSOLE = f"/console/studies/{SLUG}"
CLOSE = f"{CONSOLE}/rounds/close"


@pytest.fixture
def running(app, make_study, make_panel, make_user):
    """The demo study with round 1 open and answered by three panelists; a facilitator
    member, and a second study of theirs."""
    study = make_study()
    links = make_panel(study, 3)
    open_round(db.session, study)
    rng = random.Random(5)
    for link in links:
        panelist = panelist_by_pseudonym(db.session, study, link.pseudonym)
        submit_responses(db.session, panelist, simulated_answers(rng, study_definition(study)))
    other = make_study(demo_source().replace(f'slug = "{SLUG}"', 'slug = "other-study"'))
    make_user("lead@example.org", studies=[study, other])
    return study


@contextmanager
def redis_app(database_url: str, redis_port: int) -> Iterator[Flask]:
    """An app whose jobs go to Redis (no worker runs until a test starts one)."""
    served = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "s" * 40,
            "ELICIT_QUEUE_URL": f"redis://127.0.0.1:{redis_port}/0",
        }
    )
    try:
        yield served
    finally:
        with served.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def on_redis(running, private_redis, database_url):  # noqa: F811
    """A console client, logged in as the lead, of an app whose jobs go to Redis."""
    with redis_app(database_url, private_redis) as served:
        console = served.test_client()
        log_in(console, "lead@example.org")
        yield console


def ask_to_close(console, form: dict[str, str] | None = None):
    """Click "Close the round" on round 1's close page (``form``: a page's form kept, to
    click it again)."""
    return console.post(CLOSE, data=form or round_form(console.get(CLOSE).text))


def closing_ids() -> list[int]:
    db.session.expire_all()
    return list(db.session.execute(select(RoundClosing.id).order_by(RoundClosing.id)).scalars())


def test_a_worker_on_redis_closes_the_round_the_console_asked_to_close(
    running,
    on_redis,
    private_redis,  # noqa: F811
    database_url,
    tmp_path,
):
    form = round_form(on_redis.get(CLOSE).text)
    asked = ask_to_close(on_redis, form)
    (closing_id,) = closing_ids()
    assert asked.status_code == 303  # to the close's page: nothing computed in the request
    assert asked.headers["Location"].endswith(f"{CONSOLE}/rounds/closing/{closing_id}")
    waiting = on_redis.get(asked.headers["Location"])
    assert "Waiting for a worker to compute the summary." in waiting.text
    assert 'data-follow-seconds="10"' in waiting.text and "follow.js" in waiting.text
    # The preview is not computed again beside the close: its page instead.
    again = on_redis.get(f"{CONSOLE}/rounds/close")
    assert again.status_code == 303
    assert again.headers["Location"].endswith(f"{CONSOLE}/rounds/closing/{closing_id}")
    # A second click shares the closing.
    ask_to_close(on_redis, form)
    assert closing_ids() == [closing_id]
    # The study page says so, and leads to the close's page rather than a second close.
    study_page = on_redis.get(CONSOLE).text
    assert "Round 1 is being closed" in study_page
    assert f'href="{CONSOLE}/rounds/closing/{closing_id}"' in study_page
    assert "Preview and close round 1" not in study_page
    assert db.session.get(RoundClosing, closing_id).round.status == RoundStatus.OPEN
    environment = worker_environment(database_url, private_redis, 1, tmp_path)
    environment.pop("ELICIT_SMTP_URL")
    log = tmp_path / "worker.log"
    finish(start_worker(environment, log, "--burst"), log)
    followed = on_redis.get(f"{CONSOLE}/rounds/closing/{closing_id}")
    assert followed.status_code == 303, log.read_text()
    assert followed.headers["Location"].endswith(CONSOLE)
    study_page = on_redis.get(followed.headers["Location"]).text
    assert "Round 1 is closed and its summary stored." in study_page
    assert "is being closed" not in study_page
    db.session.expire_all()
    summary = db.session.execute(select(RoundSummary)).scalar_one()
    assert summary.respondents == 3
    assert db.session.get(RoundClosing, closing_id).status == ClosingStatus.DONE


def test_a_lost_job_is_put_on_the_queue_again_when_its_page_is_read(
    running,
    on_redis,
    private_redis,  # noqa: F811
):
    from rq import Queue

    ask_to_close(on_redis)
    (closing_id,) = closing_ids()
    queue = Queue(jobs.CLOSE_QUEUE_NAME, connection=redis.Redis(port=private_redis))
    assert queue.job_ids == [f"elicit-close-{closing_id}"]
    queue.connection.flushdb()  # Redis restarted without its data
    page = on_redis.get(f"{CONSOLE}/rounds/closing/{closing_id}")
    assert page.status_code == 200 and queue.job_ids == []  # too soon to call it lost
    db.session.execute(
        update(RoundClosing)
        .where(RoundClosing.id == closing_id)
        .values(queued_at=datetime.now(UTC) - REQUEUE_AFTER - timedelta(seconds=1))
    )
    db.session.commit()
    on_redis.get(f"{CONSOLE}/rounds/closing/{closing_id}")
    assert queue.job_ids == [f"elicit-close-{closing_id}"]


def test_a_failed_close_says_why_and_offers_to_close_again(running, client):
    closing_id = request_close(db.session, running, actor=None).closing.id
    db.session.execute(
        update(RoundClosing)
        .where(RoundClosing.id == closing_id)
        .values(status=ClosingStatus.FAILED, error="The round could not be closed (OSError).")
    )
    db.session.commit()
    log_in(client, "lead@example.org")
    page = client.get(f"{CONSOLE}/rounds/closing/{closing_id}")
    assert page.status_code == 200
    assert "The round was not closed" in page.text
    assert "The round is still open, and every answer submitted is kept." in page.text
    assert "The round could not be closed (OSError)." in page.text
    assert "data-follow-seconds" not in page.text and "follow.js" not in page.text
    assert f'href="{CONSOLE}/rounds/close"' in page.text
    preview = client.get(f"{CONSOLE}/rounds/close")
    assert preview.status_code == 200
    assert "The last attempt to close this round did not finish" in preview.text
    # Closing again works, in the request here (TESTING).
    closed = client.post(f"{CONSOLE}/rounds/close", data=round_form(preview.text))
    assert closed.status_code == 303
    assert "Round 1 is closed" in client.get(closed.headers["Location"]).text


def test_a_close_page_of_a_round_closed_elsewhere_leads_to_the_study(running, client):
    """The close page opened, or its form posted, after the round was closed another way
    (here the command line's ``close_round``) is no error: the study page, saying when
    the round closed.  Nothing is closed twice."""
    log_in(client, "lead@example.org")
    preview = client.get(f"{CONSOLE}/rounds/close")
    assert preview.status_code == 200
    close_round(db.session, running)
    closed_at = db.session.execute(select(Round.closed_at)).scalar_one()
    said = f"No round is open: round 1 was closed {closed_at:%Y-%m-%d %H:%M} UTC."
    form = round_form(preview.text)
    for ask in (
        partial(client.get, f"{CONSOLE}/rounds/close"),
        partial(client.post, f"{CONSOLE}/rounds/close", data=form),
        partial(client.post, f"{CONSOLE}/rounds/close/preview", data=form),
    ):
        answer = ask()
        assert answer.status_code == 303
        assert answer.headers["Location"] == CONSOLE
        assert client.get(CONSOLE).text.count(said) == 1
    assert db.session.execute(select(func.count()).select_from(RoundSummary)).scalar_one() == 1
    assert db.session.execute(select(func.count()).select_from(RoundClosing)).scalar_one() == 0
    spanish = {"Accept-Language": "es"}
    client.get(f"{CONSOLE}/rounds/close", headers=spanish)
    assert (
        f"No hay ninguna ronda abierta: la ronda 1 se cerró el {closed_at:%Y-%m-%d %H:%M} UTC."
        in client.get(CONSOLE, headers=spanish).text
    )


def test_a_close_page_left_open_closes_no_round_opened_since(running, client):
    """A close page of round 1 posted after a colleague closed round 1 and opened round 2
    closes nothing: round 2, just opened and unanswered, stays open, and the facilitator
    is shown round 2's preview, told why.  The domain refuses it too, as the API's
    address names its round."""
    log_in(client, "lead@example.org")
    stale = client.get(CLOSE)
    close_round(db.session, running)
    open_round(db.session, running)
    answer = client.post(CLOSE, data=round_form(stale.text))
    assert answer.status_code == 303
    assert answer.headers["Location"] == CLOSE
    page = client.get(CLOSE).text
    assert (  # framed as a warning, not as the notice of something done
        '<p class="warning" role="status">Nothing was closed: round 1 was closed meanwhile, '
        "and round 2 is open now. This is round 2&#39;s preview.</p>" in page
    )
    assert round_form(page)["round"] == "2"
    db.session.expire_all()
    states = dict(db.session.execute(select(Round.number, Round.status)).all())
    assert states == {1: RoundStatus.CLOSED, 2: RoundStatus.OPEN}
    assert db.session.execute(select(func.count()).select_from(RoundClosing)).scalar_one() == 0
    with pytest.raises(NotTheOpenRound):
        request_close(db.session, running, actor=None, number=1)
    # Without the round it was made for, a form is refused, not taken for the open round's.
    refused = client.post(CLOSE, data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 400
    assert latest_round(db.session, running).status == RoundStatus.OPEN


def test_a_closing_is_seen_only_through_its_own_study(running, client):
    closing_id = request_close(db.session, running, actor=None).closing.id
    log_in(client, "lead@example.org")
    other = client.get(f"/console/studies/other-study/rounds/closing/{closing_id}")
    assert other.status_code == 404
    assert client.get(f"{CONSOLE}/rounds/closing/{closing_id + 1}").status_code == 404


def test_the_web_process_s_thread_closes_the_round(app, running):
    thread = jobs.InProcessRunner(app, "thread")
    closing_id = request_close(db.session, running, actor=None).closing.id
    thread.run(partial(jobs.close_now, app, closing_id))
    try:
        assert thread.wait_idle(120)
    finally:
        assert thread.stop(wait=60)
    db.session.expire_all()
    assert db.session.get(RoundClosing, closing_id).status == ClosingStatus.DONE
    assert db.session.execute(select(RoundSummary.respondents)).scalar_one() == 3


API = f"/api/v1/studies/{SLUG}"


def tokens(study) -> dict[str, dict[str, str]]:
    """Bearer headers of the lead's write token and of a read token."""
    from surveys.accounts import find_user
    from surveys.api_tokens import create_token

    lead = find_user(db.session, "lead@example.org")
    return {
        scope: {"Authorization": f"Bearer {create_token(db.session, lead, scope, scope).secret}"}
        for scope in ("read", "write")
    }


def test_the_api_closes_a_round_in_the_background(running, client):
    headers = tokens(running)
    assert client.get(f"{API}/closings/1", headers=headers["read"]).status_code == 404
    refused = client.post(f"{API}/rounds/1/closing", headers=headers["read"])
    assert refused.status_code == 403
    assert client.post(f"{API}/rounds/2/closing", headers=headers["write"]).status_code == 404
    asked = client.post(f"{API}/rounds/1/closing", headers=headers["write"])
    assert asked.status_code == 202
    (closing_id,) = closing_ids()
    assert asked.headers["Location"] == f"{API}/closings/{closing_id}"
    # The test app runs the job in the request: done when the post returns.
    assert asked.json["status"] == "done" and asked.json["error"] is None
    assert asked.json["id"] == closing_id
    assert asked.json["summary"] == f"{API}/rounds/1/summary"
    read = client.get(asked.headers["Location"], headers=headers["read"]).json
    assert read == asked.json
    summary = client.get(asked.json["summary"], headers=headers["read"]).json
    assert summary["round"] == 1 and summary["respondents"] == 3
    again = client.post(f"{API}/rounds/1/closing", headers=headers["write"])
    assert again.status_code == 409


def test_the_api_s_close_waits_for_a_worker_on_redis(running, private_redis, database_url):  # noqa: F811
    headers = tokens(running)
    with redis_app(database_url, private_redis) as served:
        api = served.test_client()
        asked = api.post(f"{API}/rounds/1/closing", headers=headers["write"])
        assert asked.status_code == 202
        assert asked.json["status"] == "queued" and asked.json["summary"] is None
        shared = api.post(f"{API}/rounds/1/closing", headers=headers["write"])
        assert shared.json["requested_at"] == asked.json["requested_at"]
        assert len(closing_ids()) == 1
        assert api.get(f"{API}/rounds/1", headers=headers["read"]).json["status"] == "open"
        followed = api.get(asked.headers["Location"], headers=headers["read"]).json
        assert followed["status"] == "queued"
        # Another study's address for it finds nothing.
        other = api.get(
            asked.headers["Location"].replace(SLUG, "other-study"), headers=headers["read"]
        )
        assert other.status_code == 404
