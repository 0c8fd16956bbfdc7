"""A large study's export, prepared in the background (issue 15, point 4): a download
that would take minutes leads the console to the page that prepares it, and the API to
``POST /exports``; the file, once written by the job, is the download's, sent with its
length and SHA-256, to members who may export only.

The test app runs each job inside the request that submits it (``TESTING``), so a
prepared export is ready when the request that asked for it returns; the job queue and
the in-process thread are tested with the delivery jobs they share
(``test_delivery_queue.py``) and below with Redis and a real worker."""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import zipfile
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import redis
from sqlalchemy import select, update

from elicit import create_app, downloads, jobs
from elicit.extensions import db
from surveys import exports
from surveys.answers import submit_responses
from surveys.api_tokens import create_token
from surveys.demo import demo_source
from surveys.models import PreparedExport, PreparedStatus, Role
from surveys.panel import panelist_by_pseudonym
from surveys.prepared_exports import REQUEUE_AFTER, request_export
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import csrf_token, enter, log_in
from tests.elicit.test_delivery_queue import (
    finish,
    start_worker,
    worker_environment,
)
from tests.elicit.test_export_downloads import _checked as checked
from tests.elicit.test_rate_limit_store import private_redis  # noqa: F401 - a fixture
from tests.surveys.test_prepared_exports import as_written as written

EXPORTED_AT = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
SLUG = "us-mexico-intelligence"
CONSOLE = f"/console/studies/{SLUG}"
API = f"/api/v1/studies/{SLUG}"


@pytest.fixture
def study(app, make_study, make_panel, make_user, monkeypatch):
    """The demo study after one closed round of five panelists; a researcher member
    with a read token (``study.secret``), a facilitator member, a stranger, and a
    second study of the researcher's."""
    monkeypatch.setattr(exports, "utcnow", lambda: EXPORTED_AT)
    created = make_study()
    links = make_panel(created, 5)
    open_round(db.session, created)
    rng = random.Random(11)
    for link in links:
        panelist = panelist_by_pseudonym(db.session, created, link.pseudonym)
        submit_responses(db.session, panelist, simulated_answers(rng, study_definition(created)))
    close_round(db.session, created)
    other = make_study(demo_source().replace(f'slug = "{SLUG}"', 'slug = "other-study"'))
    analyst = make_user("analyst@example.org", role="researcher", studies=[created, other])
    make_user("lead@example.org", studies=[created])
    make_user("rival@example.org")
    created.secret = create_token(db.session, analyst, "t", "read").secret
    created.other = other
    created.expert_token = links[0].token
    return created


@pytest.fixture
def large(client):
    """Every export counts as too large to write within a request."""
    client.application.config["ELICIT_EXPORT_INLINE_LIMIT"] = 0
    return client


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def file_links(page: str) -> list[str]:
    return re.findall(rf'href="({CONSOLE}/exports/\d+/file)"', page)


def test_a_large_study_s_download_leads_to_its_preparation_then_to_the_file(
    large, study, monkeypatch
):
    sent = []
    monkeypatch.setattr(downloads, "_SLICE", 1000)
    monkeypatch.setattr(downloads, "keep_alive", lambda: sent.append(1))
    log_in(large, "analyst@example.org")
    answer = large.get(f"{CONSOLE}/export/csv")
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{CONSOLE}/exports?large=csv"
    page = large.get(answer.headers["Location"]).text
    responses = 5 * len(study_definition(study).items)
    assert "This study is too large to download at once" in page
    assert f"Its CSV export holds {responses} answers." in page
    assert "None yet." in page and not file_links(page)
    prepared = large.post(
        f"{CONSOLE}/exports", data={"csrf_token": csrf_token(page), "format": "csv"}
    )
    assert prepared.status_code == 303
    page = large.get(prepared.headers["Location"]).text
    assert "The CSV export is being prepared." in page  # the flash
    assert "Ready: written" in page and "with 1 closed round(s)" in page
    assert "analyst@example.org" in page  # who asked
    assert "follow.js" not in page and "data-follow-seconds" not in page  # nothing to wait for
    (link,) = file_links(page)
    body = checked(large.get(link), "application/zip")
    assert members(body) == members(written(study, "csv"))
    # Sent a slice at a time, the worker telling the server it is alive after each.
    assert len(sent) == -(-len(body) // 1000)
    # The JSON, the same way, is the download's byte for byte.
    page = large.get(f"{CONSOLE}/exports").text
    large.post(f"{CONSOLE}/exports", data={"csrf_token": csrf_token(page), "format": "json"})
    links = file_links(large.get(f"{CONSOLE}/exports").text)
    assert len(links) == 2
    bodies = [large.get(link) for link in links]
    assert checked(bodies[0], "application/json") == written(study, "json")


def test_a_small_study_downloads_at_once_and_may_still_prepare(client, study):
    log_in(client, "lead@example.org")
    assert client.get(f"{CONSOLE}/export/json").headers["Content-Disposition"]
    page = client.get(f"{CONSOLE}/exports").text
    assert "too large" not in page
    client.post(f"{CONSOLE}/exports", data={"csrf_token": csrf_token(page), "format": "xlsx"})
    (link,) = file_links(client.get(f"{CONSOLE}/exports").text)
    body = checked(
        client.get(link), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert body.startswith(b"PK")


def test_a_waiting_export_is_followed_and_a_lost_job_given_another(large, study):
    waiting = request_export(db.session, study, "json", None).export
    log_in(large, "lead@example.org")
    page = large.get(f"{CONSOLE}/exports").text
    assert "Waiting for a worker" in page
    assert 'src="/static/follow.js"' in page and 'data-follow-seconds="10"' in page
    assert "This page updates itself when an export is ready" in page
    # Its job is lost: after a while the page gives it another (which runs at once here).
    db.session.execute(
        update(PreparedExport)
        .where(PreparedExport.id == waiting.id)
        .values(queued_at=datetime.now(UTC) - REQUEUE_AFTER - timedelta(seconds=1))
    )
    db.session.commit()
    large.get(f"{CONSOLE}/exports")
    page = large.get(f"{CONSOLE}/exports").text
    assert "Ready: written" in page and len(file_links(page)) == 1


def test_a_failed_export_says_why_and_a_later_close_dates_a_file(large, study, monkeypatch):
    monkeypatch.setattr(exports, "SPREADSHEET_MAX_ROWS", 10)
    log_in(large, "lead@example.org")
    page = large.get(f"{CONSOLE}/exports").text
    for fmt in ("xlsx", "csv"):
        large.post(f"{CONSOLE}/exports", data={"csrf_token": csrf_token(page), "format": fmt})
    page = large.get(f"{CONSOLE}/exports").text
    assert "<strong>Failed:</strong> The summaries sheet would need" in page
    assert "a spreadsheet holds; no workbook was made. The CSV export holds every row." in page
    assert "A round has closed since" not in page
    open_round(db.session, study)
    close_round(db.session, study)
    page = large.get(f"{CONSOLE}/exports").text
    assert "A round has closed since: prepare it again for the newest data." in page


def test_only_members_who_may_export_reach_the_page_the_button_and_the_file(
    large, study, monkeypatch
):
    log_in(large, "analyst@example.org")
    page = large.get(f"{CONSOLE}/exports").text
    large.post(f"{CONSOLE}/exports", data={"csrf_token": csrf_token(page), "format": "csv"})
    (link,) = file_links(large.get(f"{CONSOLE}/exports").text)
    # Not through another study's address, not without the form's token.
    other = link.replace(SLUG, "other-study")
    assert large.get(other).status_code == 404
    assert large.post(f"{CONSOLE}/exports", data={"format": "csv"}).status_code == 400
    page = large.get(f"{CONSOLE}/exports").text
    bad = large.post(f"{CONSOLE}/exports", data={"csrf_token": csrf_token(page), "format": "pdf"})
    assert bad.status_code == 400
    # A stranger finds nothing; a role that may not export is refused.
    log_in(large, "rival@example.org")
    for address in (f"{CONSOLE}/exports", link):
        assert large.get(address).status_code == 404
    token = csrf_token(large.get("/console/").text)
    refused = large.post(f"{CONSOLE}/exports", data={"csrf_token": token, "format": "csv"})
    assert refused.status_code == 404
    monkeypatch.setattr("elicit.facilitate.access.EXPORTING_ROLES", frozenset({Role.FACILITATOR}))
    log_in(large, "analyst@example.org")
    assert large.get(link).status_code == 403
    assert large.get(f"{CONSOLE}/exports").status_code == 403
    # An expert's session is not a console login.
    expert = large.application.test_client()
    enter(expert, study.expert_token)
    assert expert.get(link).status_code == 302
    assert expert.get(f"{CONSOLE}/exports").status_code == 302


def test_the_api_prepares_reports_and_sends_the_file(large, study):
    bearer = {"Authorization": f"Bearer {study.secret}"}
    refused = large.get(f"{API}/export/json", headers=bearer)
    assert refused.status_code == 409
    assert "too many to write within one request" in refused.json["detail"]
    assert refused.headers["Link"] == f'<{API}/exports>; rel="related"'
    answer = large.post(f"{API}/exports", headers=bearer, json={"format": "json"})
    assert answer.status_code == 202, answer.text
    state = answer.json
    assert answer.headers["Location"] == f"{API}/exports/{state['id']}"
    assert state["status"] == "ready" and state["format"] == "json"
    assert state["closed_rounds"] == 1 and state["error"] is None
    assert state["file"] == f"{API}/exports/{state['id']}/file"
    assert large.get(answer.headers["Location"], headers=bearer).json == state
    assert large.get(f"{API}/exports", headers=bearer).json == {"exports": [state]}
    body = checked(large.get(state["file"], headers=bearer), "application/json")
    assert body == written(study, "json")
    assert state["size"] == len(body)
    assert state["sha256"] == hashlib.sha256(body).hexdigest()
    json.loads(body)


def test_the_api_refuses_what_is_not_there_or_not_ready(large, study):
    bearer = {"Authorization": f"Bearer {study.secret}"}
    bad = large.post(f"{API}/exports", headers=bearer, json={"format": "pdf"})
    assert bad.status_code == 422 and "format" in bad.json["errors"]
    extra = large.post(f"{API}/exports", headers=bearer, json={"format": "csv", "x": 1})
    assert extra.status_code == 422
    waiting = request_export(db.session, study, "csv", None).export
    state = large.get(f"{API}/exports/{waiting.id}", headers=bearer).json
    assert state["status"] == "queued" and state["file"] is None and state["size"] is None
    not_ready = large.get(f"{API}/exports/{waiting.id}/file", headers=bearer)
    assert not_ready.status_code == 409 and "queued" in not_ready.json["detail"]
    # Through another study's address (the user's too), or unknown: not found.
    for address in (
        f"/api/v1/studies/other-study/exports/{waiting.id}",
        f"/api/v1/studies/other-study/exports/{waiting.id}/file",
        f"{API}/exports/{waiting.id + 1000}",
    ):
        assert large.get(address, headers=bearer).status_code == 404
    assert large.get(f"{API}/exports").status_code == 401
    # Its job lost, reading its state gives it another (run at once here).
    db.session.execute(
        update(PreparedExport)
        .where(PreparedExport.id == waiting.id)
        .values(queued_at=datetime.now(UTC) - REQUEUE_AFTER - timedelta(seconds=1))
    )
    db.session.commit()
    large.get(f"{API}/exports/{waiting.id}", headers=bearer)
    assert large.get(f"{API}/exports/{waiting.id}", headers=bearer).json["status"] == "ready"


def test_a_worker_on_redis_writes_the_export_the_console_queued(
    study,
    private_redis,  # noqa: F811
    database_url,
    tmp_path,
):
    served = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "s" * 40,
            "ELICIT_QUEUE_URL": f"redis://127.0.0.1:{private_redis}/0",
            "ELICIT_EXPORT_INLINE_LIMIT": 0,
        }
    )
    console = served.test_client()
    log_in(console, "lead@example.org")
    page = console.get(f"{CONSOLE}/exports").text
    console.post(f"{CONSOLE}/exports", data={"csrf_token": csrf_token(page), "format": "json"})
    page = console.get(f"{CONSOLE}/exports").text
    assert "Waiting for a worker" in page  # on Redis, not run in the request
    environment = worker_environment(database_url, private_redis, 1, tmp_path)
    environment.pop("ELICIT_SMTP_URL")
    log = tmp_path / "worker.log"
    finish(start_worker(environment, log, "--burst"), log)
    page = console.get(f"{CONSOLE}/exports").text
    assert "Ready: written" in page, log.read_text()
    (link,) = file_links(page)
    body = checked(console.get(link), "application/json")
    assert json.loads(body)  # written by the worker from the same database
    ready = db.session.execute(select(PreparedExport)).scalar_one()
    assert ready.status == PreparedStatus.READY
    with served.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("mail", [False, True], ids=["without-mail", "with-mail"])
def test_the_web_process_s_thread_writes_exports_and_sweeps_only_with_mail(
    app, study, monkeypatch, mail
):
    """Without Redis an export job runs in the web process's thread; that thread
    sweeps the outbox (and so fires planned reminders) only with a mail server."""
    swept = []
    monkeypatch.setattr(jobs, "sweep_now", lambda served: swept.append(served))
    if mail:
        monkeypatch.setitem(app.config, "ELICIT_SMTP_URL", "smtp://127.0.0.1:1")
    thread = jobs.InProcessRunner(app, "thread")
    export_id = request_export(db.session, study, "csv", None).export.id
    thread.run(partial(jobs.write_export_now, app, export_id))
    try:
        assert thread.wait_idle(60)
    finally:
        assert thread.stop(wait=60)
    db.session.expire_all()
    assert db.session.get(PreparedExport, export_id).status == PreparedStatus.READY
    assert bool(swept) == mail


def test_a_job_still_on_redis_is_not_queued_twice(
    app,
    study,
    private_redis,  # noqa: F811
    monkeypatch,
):
    from rq import Queue

    monkeypatch.setitem(app.config, "ELICIT_QUEUE_URL", f"redis://127.0.0.1:{private_redis}/0")
    app.extensions.pop("elicit_queue_redis", None)
    export_id = request_export(db.session, study, "csv", None).export.id
    jobs.prepare_export(app, export_id)
    jobs.prepare_export(app, export_id)  # a reader who thought it lost
    queue = Queue(jobs.EXPORT_QUEUE_NAME, connection=redis.Redis(port=private_redis))
    assert queue.job_ids == [f"elicit-export-{export_id}"]
    # Once the job is gone (Redis lost it), it is queued again.
    queue.connection.flushdb()
    jobs.prepare_export(app, export_id)
    assert queue.job_ids == [f"elicit-export-{export_id}"]
    app.extensions.pop("elicit_queue_redis", None)
