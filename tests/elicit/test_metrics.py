"""``GET /metrics``: Prometheus's text format behind a token, request latency by URL
rule (never a path, so never a personal link), accepted submissions, and every gunicorn
worker's counts added up (issue 15, point 6)."""

from __future__ import annotations

import os
import re
import secrets
import signal
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import pytest

from elicit import create_app
from elicit.config import prepare_metrics_directory
from elicit.extensions import db
from elicit.jobs import close_later, send_messages
from elicit.metrics import UNMATCHED
from surveys.closing import request_close
from surveys.messaging import queue_invitations
from surveys.rounds import open_round
from tests.conftest import BASE_URL, enter
from tests.elicit.test_rate_limit_store import private_redis  # noqa: F401 - a fixture
from tests.elicit.test_serve import serving
from tests.smtp_sink import free_port

TOKEN = secrets.token_urlsafe(32)
ROUTE_LABEL = re.compile(r'route="([^"]*)"')
SUBMISSIONS = re.compile(r"^elicit_submissions_total (\S+)$", re.MULTILINE)


@pytest.fixture
def metrics_client(app, database_url):
    """A client of an app whose metrics token is :data:`TOKEN`."""
    served = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "ELICIT_BASE_URL": BASE_URL,
            "ELICIT_METRICS_TOKEN": TOKEN,
        }
    )
    yield served.test_client()
    with served.app_context():
        db.session.remove()
        db.engine.dispose()


def _scrape(client) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return response.text


def test_without_a_configured_token_there_is_no_endpoint(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


def test_the_token_is_required_and_must_be_right(metrics_client):
    missing = metrics_client.get("/metrics")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "elicit_" not in missing.text
    for wrong in (f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer "):
        answer = metrics_client.get("/metrics", headers={"Authorization": wrong})
        assert answer.status_code in (401, 403), wrong
        assert "elicit_request_duration_seconds" not in answer.text
    assert "elicit_request_duration_seconds" in _scrape(metrics_client)


def test_routes_are_url_rules_and_never_a_personal_link(
    metrics_client, client, make_study, make_panel
):
    study = make_study()
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    enter(client, link.token)  # /e/<the link>, then the answer page
    assert client.get("/e/").status_code == 200
    assert client.get(f"/no-such-page/{link.token}").status_code == 404
    assert client.open("/healthz", method="BREW").status_code == 405
    text = _scrape(metrics_client)
    assert link.token not in text
    rules = {rule.rule for rule in metrics_client.application.url_map.iter_rules()}
    routes = set(ROUTE_LABEL.findall(text))
    assert {"/e/<token>", "/e/", UNMATCHED} <= routes
    assert routes <= rules | {UNMATCHED}
    assert re.search(r'method="other",route="<unmatched>",status="405"', text)
    assert re.search(
        r'elicit_request_duration_seconds_count\{method="GET",route="/e/<token>",status="302"\} '
        r"[1-9]",
        text,
    )


def test_an_accepted_submission_is_counted(metrics_client, make_study, make_panel, post_answers):
    study = make_study()
    first, second = make_panel(study, 2)
    open_round(db.session, study)
    before = float(SUBMISSIONS.findall(_scrape(metrics_client))[0])
    assert post_answers(first.token, {"trust_now": "3"}).status_code == 302
    assert float(SUBMISSIONS.findall(_scrape(metrics_client))[0]) == before + 1
    # A refused submission (an answer out of range) is not counted.
    assert post_answers(second.token, {"trust_now": "99"}).status_code == 422
    assert float(SUBMISSIONS.findall(_scrape(metrics_client))[0]) == before + 1


def test_the_gunicorn_settings_give_workers_a_fresh_metrics_folder(tmp_path):
    # What gunicorn.conf.py does first, in a process of its own: a new empty folder in
    # the environment the workers inherit, or the operator's, emptied of a past run.
    with mock.patch.dict(os.environ), mock.patch.object(tempfile, "tempdir", str(tmp_path)):
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        prepare_metrics_directory.cache_clear()
        try:
            folder, made_here = prepare_metrics_directory()
            assert made_here and folder.parent == tmp_path and not any(folder.iterdir())
            assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(folder)
            assert prepare_metrics_directory() == (folder, True)  # once per process
            prepare_metrics_directory.cache_clear()
            (folder / "counter_12345.db").write_bytes(b"a past run's values")
            assert prepare_metrics_directory() == (folder, False)
            assert not any(folder.iterdir())
        finally:
            prepare_metrics_directory.cache_clear()


def _get(url: str, headers: dict[str, str] | None = None) -> str:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as answer:
        return str(answer.read().decode())


def test_every_workers_requests_are_counted_in_one_scrape(tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    environment = {"ELICIT_METRICS_TOKEN": TOKEN, "TMPDIR": str(temporary)}
    environment_without = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with (
        mock.patch.dict(os.environ, environment_without, clear=True),
        serving(tmp_path, "--workers", "2", env=environment) as (address, server, log),
    ):
        (folder,) = temporary.glob("elicit-metrics-*")
        # Concurrent requests until both workers have served some (each worker's file
        # of observations appears with its first request).
        requests, served_by = 0, set()
        with ThreadPoolExecutor(8) as pool:
            while len(served_by) < 2 and requests < 2000:
                list(pool.map(lambda _: _get(f"{address}/healthz"), range(40)))
                requests += 40
                served_by = {path.stem for path in folder.glob("histogram_*.db")}
        assert len(served_by) == 2, "both workers served requests"
        pattern = re.compile(
            r'elicit_request_duration_seconds_count\{method="GET",route="/healthz",'
            r'status="200"\} (\S+)'
        )
        for _ in range(6):  # whichever worker answers the scrape, it counts all
            text = _get(f"{address}/metrics", {"Authorization": f"Bearer {TOKEN}"})
            assert float(pattern.findall(text)[0]) == requests + 1  # + serving()'s wait
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, log.read_text()
    assert not folder.exists(), "the folder made at start is removed at exit"
    assert "Traceback" not in Path(log).read_text()


def _metrics_app(database_url: str, **config):
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "ELICIT_BASE_URL": BASE_URL,
            "ELICIT_METRICS_TOKEN": TOKEN,
            **config,
        }
    )


def _gauges(text: str, name: str) -> dict[str, float]:
    """``name``'s samples in ``text``, by their one label's value ("" without one), or
    by their labels as written (``queue="closes",state="queued"``) when they have more."""
    found = {}
    for labels, value in re.findall(rf"^{name}(?:{{([^}}]*)}})? (\S+)$", text, re.MULTILINE):
        one = re.fullmatch(r'\w+="([^"]*)"', labels)
        found[one.group(1) if one else labels] = float(value)
    return found


def test_the_delivery_backlog_and_the_queue_s_depth_are_read_at_each_scrape(
    app,
    database_url,
    make_study,
    make_panel,
    link_keys,
    private_redis,  # noqa: F811
):
    """Four invitations queued without a mail server are "waiting"; handed to a Redis
    queue they are "queued", with their job on the messages' queue, and a close asked
    for has its job on the closes' queue; a Redis that does not answer is "up 0" and the
    backlog is still counted from the database.  No study, no address."""
    study = make_study()
    make_panel(study, 4)
    round_ = open_round(db.session, study)
    invitations = queue_invitations(db.session, study, round_, BASE_URL, keys=link_keys)

    alone = _metrics_app(database_url)
    text = _scrape(alone.test_client())
    assert _gauges(text, "elicit_outbox_unsent_messages") == {
        "waiting": 4.0,
        "queued": 0.0,
        "sending": 0.0,
        "retrying": 0.0,
    }
    assert "elicit_delivery_queue" not in text  # no Redis: jobs run in the web process
    assert "elicit_queue" not in text
    assert "example.org" not in text and study.slug not in text

    queued = _metrics_app(
        database_url,
        ELICIT_QUEUE_URL=f"redis://127.0.0.1:{private_redis}/0",
        ELICIT_SMTP_URL="smtp://127.0.0.1:9",
    )
    with queued.app_context():
        send_messages(invitations.ids)
        close_later(queued, request_close(db.session, study, actor=None).closing.id)
    text = _scrape(queued.test_client())
    assert _gauges(text, "elicit_outbox_unsent_messages")["queued"] == 4.0
    assert _gauges(text, "elicit_queue_up") == {"": 1.0}
    assert _gauges(text, "elicit_delivery_queue_up") == {"": 1.0}
    jobs = _gauges(text, "elicit_queue_jobs")
    assert jobs == {
        **{
            f'queue="{queue}",state="{state}"': 0.0
            for queue in ("messages", "closes", "exports")
            for state in ("queued", "started", "failed", "scheduled")
        },
        'queue="messages",state="queued"': 1.0,  # one job per batch of 100
        'queue="closes",state="queued"': 1.0,
    }
    assert _gauges(text, "elicit_delivery_queue_jobs") == {
        "queued": 1.0,
        "started": 0.0,
        "failed": 0.0,
        "scheduled": 0.0,
    }

    gone = _metrics_app(database_url, ELICIT_QUEUE_URL=f"redis://127.0.0.1:{free_port()}/0")
    text = _scrape(gone.test_client())
    assert _gauges(text, "elicit_delivery_queue_up") == {"": 0.0}
    assert _gauges(text, "elicit_queue_up") == {"": 0.0}
    assert "elicit_delivery_queue_jobs" not in text and "elicit_queue_jobs" not in text
    assert _gauges(text, "elicit_outbox_unsent_messages")["queued"] == 4.0
    for served in (alone, queued, gone):
        with served.app_context():
            db.session.remove()
            db.engine.dispose()
