"""Two web hosts behind a balancer, in the test process (issue 15, point 5).

Two apps built by :func:`elicit.create_app`, as two hosts would build them, share the
test database and a private Redis; a round-robin WSGI dispatcher stands for the load
balancer, and one cookie jar for the browser.  Each app has its own engine, so its own
connection pool and its own cache of parsed studies (``surveys.snapshots`` keeps one
per engine), as a host of its own would.  What one host starts (a console session, a
CSRF token, an expert's session and draft, rate-limit counts, a change to the study)
must hold on the other at the next request.

Flask-Limiter keeps one storage per process, whichever app initialised it last, so in
this process the two apps would share even an in-memory count: the rate-limit test
therefore also checks that the counts are in Redis, where separate processes find them
(``tests/e2e/test_scale_out_deployment.py`` counts them through nginx across two real
gunicorn hosts).
"""

from __future__ import annotations

import os
import runpy
from collections.abc import Iterable, Iterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
import redis
from flask import Flask
from sqlalchemy import select
from werkzeug.test import Client, TestResponse

from elicit import create_app, serving
from elicit.config import prepare_metrics_directory, remove_metrics_directory
from elicit.extensions import db
from surveys.models import Draft, Response, ResponseStatus
from surveys.rounds import open_round
from surveys.serialization import item_to_toml
from surveys.studies import active_items
from tests.conftest import BASE_URL, PASSWORD, REPOSITORY, csrf_token
from tests.elicit.test_rate_limit_store import private_redis  # noqa: F401

SECRET_KEY = "one-key-for-every-host-of-the-site"
OLD_TEXT = "How much trust is there today between"
NEW_TEXT = "How much trust is there at present between"
FACILITATOR = "lead@example.org"


class Balancer:
    """A load balancer in the test process: each request goes to the next host in turn
    (round robin, as nginx's default), unless :meth:`to` names the next one.  ``served``
    lists the host of every request so far."""

    def __init__(self, hosts: dict[str, Flask]):
        self.hosts = hosts
        self.served: list[str] = []
        self._names = list(hosts)
        self._turn = 0
        self._pinned: str | None = None
        self.client = Client(self)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Hand the request to the chosen host's WSGI app."""
        name = self._pinned or self._names[self._turn % len(self._names)]
        self._pinned = None
        self._turn += 1
        self.served.append(name)
        return self.hosts[name](environ, start_response)

    def to(self, name: str) -> Client:
        """The browser, whose next request goes to host ``name``."""
        self._pinned = name
        return self.client


def _host(database_url: str, redis_port: int) -> Flask:
    """One web host, configured as every host of the site is: one secret key, one
    database, one Redis for the rate-limit counts, small limits."""
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": SECRET_KEY,
            "ELICIT_BASE_URL": BASE_URL,
            "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{redis_port}/0",
            "ELICIT_LOGIN_LIMIT": "3 per minute",
        }
    )


@pytest.fixture
def balancer(app, database_url: str, private_redis: int) -> Iterator[Balancer]:  # noqa: F811
    """Hosts ``a`` and ``b`` behind a round-robin balancer, and one browser."""
    hosts = {name: _host(database_url, private_redis) for name in ("a", "b")}
    yield Balancer(hosts)
    for host in hosts.values():
        with host.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def study_with_panel(make_study, make_panel, make_user):
    """The demo study, round 1 open, one expert, and a facilitator of the study."""
    study = make_study()
    (link,) = make_panel(study, 1)
    make_user(FACILITATOR, studies=[study])
    open_round(db.session, study)
    return study, link


def _log_in(balancer: Balancer, slug: str) -> str:
    """Log the facilitator in (the form from host a, posted to host b); the new
    session's CSRF token, from the study page of host a."""
    page = balancer.to("a").get("/console/login")
    form = {"csrf_token": csrf_token(page.text), "email": FACILITATOR, "password": PASSWORD}
    logged_in = balancer.to("b").post("/console/login", data=form)
    assert logged_in.status_code == 302, logged_in.text
    study_page = balancer.to("a").get(f"/console/studies/{slug}")
    assert study_page.status_code == 200
    return csrf_token(study_page.text)


def test_a_console_session_and_its_csrf_token_from_one_host_work_on_the_other(
    balancer, study_with_panel
):
    study, _ = study_with_panel
    token = _log_in(balancer, study.slug)
    # Host a's form token, in host a's cookie, closes the round on host b.
    closed = balancer.to("b").post(
        f"/console/studies/{study.slug}/rounds/close", data={"csrf_token": token, "round": "1"}
    )
    assert closed.status_code == 303, closed.text
    page = balancer.to("a").get(f"/console/studies/{study.slug}")
    assert "Round 1 is closed and its summary stored." in page.text
    # Logging out on one host ends the session on every host: the cookie is refused.
    cookie = balancer.client.get_cookie("session")
    assert cookie is not None
    assert balancer.to("b").post("/console/logout", data={"csrf_token": token}).status_code == 302
    balancer.client.set_cookie("session", cookie.value)
    assert balancer.to("a").get(f"/console/studies/{study.slug}").status_code == 302
    assert balancer.served == ["a", "b", "a", "b", "a", "b", "a"]


def test_an_expert_saves_a_draft_on_one_host_and_submits_on_the_other(balancer, study_with_panel):
    _, link = study_with_panel
    assert balancer.to("a").get(f"/e/{link.token}").status_code == 302
    token = csrf_token(balancer.to("b").get("/e/").text)
    draft = {"csrf_token": token, "trust_now": "4", "rationale.trust_now": "steady ties"}
    assert balancer.to("a").post("/e/", data={**draft, "action": "save"}).status_code == 302
    assert db.session.execute(select(Draft)).scalar_one().values["fields"]["trust_now"] == "4"
    page = balancer.to("b").get("/e/").text
    assert "steady ties" in page  # host b shows the draft host a saved
    submitted = balancer.to("b").post("/e/", data={"csrf_token": csrf_token(page), **draft})
    assert submitted.status_code == 302, submitted.text
    db.session.expire_all()
    stored = db.session.execute(select(Response)).scalars().all()
    assert [(row.status, row.rationale) for row in stored] == [
        (ResponseStatus.SUBMITTED, "steady ties")
    ]
    assert balancer.served == ["a", "b", "a", "b", "b"]


def test_failed_logins_are_counted_once_for_all_hosts(
    balancer,
    study_with_panel,
    private_redis,  # noqa: F811
):
    page = balancer.to("a").get("/console/login")
    wrong = {"csrf_token": csrf_token(page.text), "email": FACILITATOR, "password": "wrong"}
    statuses = [balancer.client.post("/console/login", data=wrong).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]  # the limit is 3 per minute for the site
    assert balancer.served == ["a", "b", "a", "b", "a"]
    counts = redis.Redis(port=private_redis)
    # The Redis is this test's own: the count in it is the one the hosts share.
    assert list(counts.scan_iter("*facilitate.login*")), "the count lives in Redis"
    counts.close()


def _expert_page(balancer: Balancer, host: str) -> str:
    response: TestResponse = balancer.to(host).get("/e/")
    assert response.status_code == 200
    return response.text


def test_a_study_changed_through_one_host_is_current_on_the_other(balancer, study_with_panel):
    study, link = study_with_panel
    balancer.to("a").get(f"/e/{link.token}")
    # Both hosts parse and keep the study (surveys.snapshots) as round 1 shows it.
    assert OLD_TEXT in _expert_page(balancer, "a")
    assert OLD_TEXT in _expert_page(balancer, "b")
    expert_cookie = balancer.client.get_cookie("session")
    assert expert_cookie is not None

    token = _log_in(balancer, study.slug)
    console = f"/console/studies/{study.slug}"
    closed = balancer.to("a").post(
        f"{console}/rounds/close", data={"csrf_token": token, "round": "1"}
    )
    assert closed.status_code == 303
    (trust,) = [each for each in active_items(study) if each.definition.key == "trust_now"]
    reworded = item_to_toml(trust.definition).replace("today between", "at present between")
    changed = balancer.to("a").post(
        f"{console}/items/trust_now/reword",
        data={"csrf_token": token, "action": "toml", "item": reworded, "note": "clearer"},
    )
    assert changed.status_code == 303, changed.text
    opened = balancer.to("a").post(
        f"{console}/rounds/open", data={"csrf_token": token, "round": "2"}
    )
    assert opened.status_code == 303, opened.text

    # The expert's next request lands on host b, which parsed the study before the
    # change: it shows round 2's wording, not its kept copy of round 1's.
    balancer.client.set_cookie("session", expert_cookie.value)
    page = _expert_page(balancer, "b")
    assert NEW_TEXT in page and OLD_TEXT not in page
    assert NEW_TEXT in _expert_page(balancer, "a")


def test_a_host_with_a_generated_secret_key_warns_when_the_database_may_be_shared(
    tmp_path, monkeypatch, caplog
):
    # No ELICIT_SECRET_KEY: each host would generate its own key into its instance folder.
    monkeypatch.setenv("ELICIT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("ELICIT_SECRET_KEY", raising=False)
    server = "postgresql+psycopg://elicit@127.0.0.1:1/elicit"  # never reached: a 503
    for database, warned in ((server, True), (f"sqlite:///{tmp_path / 'one.sqlite3'}", False)):
        caplog.clear()
        host = create_app({"SQLALCHEMY_DATABASE_URI": database})
        warnings = host.test_client().get("/readyz").json["warnings"]
        assert any("ELICIT_SECRET_KEY" in warning for warning in warnings) == warned, database
        logged = [r for r in caplog.records if "ELICIT_SECRET_KEY" in r.getMessage()]
        assert len(logged) == warned, database  # once, at the first request
        host.test_client().get("/healthz")
        assert len([r for r in caplog.records if "ELICIT_SECRET_KEY" in r.getMessage()]) == warned
        with host.app_context():
            db.engine.dispose()
    keyed = create_app({"SQLALCHEMY_DATABASE_URI": server, "SECRET_KEY": SECRET_KEY})
    assert keyed.test_client().get("/readyz").json["warnings"] == []
    with keyed.app_context():
        db.engine.dispose()


def _gunicorn_hooks() -> dict[str, Any]:
    """The shipped ``gunicorn.conf.py``'s names, its start-up effects undone (the
    metrics folder it makes and names in the environment)."""
    with mock.patch.dict(os.environ):
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        prepare_metrics_directory.cache_clear()
        namespace = runpy.run_path(str(REPOSITORY / "gunicorn.conf.py"))
        remove_metrics_directory()
        prepare_metrics_directory.cache_clear()
    return namespace


def test_workers_counting_rate_limits_in_their_own_memory_are_warned_about(
    database_url, caplog, monkeypatch
):
    post_worker_init = _gunicorn_hooks()["post_worker_init"]
    monkeypatch.setattr(serving, "_HEARTBEAT", [])  # the hook sets this process's
    for storage, workers, warned in (
        ("memory://", 5, True),
        ("memory://", 1, False),
        ("redis://127.0.0.1:1/0", 5, False),
    ):
        caplog.clear()
        served = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_url,
                "SECRET_KEY": SECRET_KEY,
                "RATELIMIT_STORAGE_URI": storage,
            }
        )
        worker = SimpleNamespace(
            wsgi=served, cfg=SimpleNamespace(workers=workers), notify=lambda: None
        )
        post_worker_init(worker)
        assert [worker.notify] == serving._HEARTBEAT  # a long download tells gunicorn
        warnings = served.test_client().get("/readyz").json["warnings"]
        said = [warning for warning in warnings if "memory://" in warning]
        assert bool(said) == warned, (storage, workers)
        if warned:
            assert "5 worker processes" in said[0]
            assert any("memory://" in record.getMessage() for record in caplog.records)
        with served.app_context():
            db.engine.dispose()
