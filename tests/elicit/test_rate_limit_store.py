"""Redis down does not take the service down (issue 11, point 10).

The rate-limit counts live in a private Redis started for the test (never the shared one
on 6379), which the test then shuts down: link look-ups, console login and the API go on
answering as usual, the limits still apply (counted in the process's memory), the change
is logged once, and /readyz says the store is degraded.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from elicit import create_app
from elicit.extensions import db
from elicit.ratelimits import limiter
from surveys.api_tokens import create_token
from tests.conftest import BASE_URL, PASSWORD, csrf_token

FALLING_BACK = "falling back to in-memory storage"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def private_redis(tmp_path) -> Iterator[int]:
    """A Redis of this test's own, on a free port, without persistence; its port."""
    port = _free_port()
    subprocess.run(
        [
            "redis-server",
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "yes",
            "--dir", str(tmp_path),
            "--pidfile", str(tmp_path / "redis.pid"),
        ],
        check=True,
        timeout=30,
    )  # fmt: skip
    connection = connect(port)
    deadline = time.monotonic() + 10
    while True:
        try:
            connection.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "the private Redis did not start"
            time.sleep(0.05)
    connection.close()
    yield port
    shut_down(port)


def connect(port: int) -> redis.Redis:
    """A client of the private Redis that fails at once when it is down (no retries)."""
    return redis.Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1)


def shut_down(port: int) -> None:
    """Stop the private Redis on ``port`` (nothing if it is already down)."""
    subprocess.run(
        ["redis-cli", "-p", str(port), "shutdown", "nosave"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    connection = connect(port)
    deadline = time.monotonic() + 10
    while True:
        try:
            connection.ping()
        except redis.ConnectionError:
            return
        assert time.monotonic() < deadline, "the private Redis did not stop"
        time.sleep(0.05)


@pytest.fixture
def site(app, database_url, private_redis):
    """A client of the site whose rate-limit counts live in the private Redis, with
    small limits; failures answer 500 as in production instead of raising."""
    served = create_app(
        {
            "TESTING": True,
            "PROPAGATE_EXCEPTIONS": False,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test",
            "ELICIT_BASE_URL": BASE_URL,
            "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{private_redis}/0",
            "ELICIT_LINK_LOOKUP_LIMIT": "3 per minute",
            "ELICIT_LOGIN_LIMIT": "3 per minute",
            "ELICIT_API_AUTH_LIMIT": "3 per minute",
        }
    )
    yield served.test_client()
    with served.app_context():
        db.session.remove()
        db.engine.dispose()
    # Flask-Limiter's one Limiter serves every app of this process: let later tests'
    # apps use their own store again at once, rather than after its next retry.
    limiter._storage_dead = False


def test_with_redis_down_links_login_and_api_work_and_limits_hold_in_memory(
    site, private_redis, make_study, make_panel, make_user, caplog
):
    study = make_study()
    (link,) = make_panel(study, 1)
    secret = create_token(db.session, make_user("lead@example.org", studies=[study]), "t").secret
    bearer = {"Authorization": f"Bearer {secret}"}
    # While Redis answers, the counts are kept there.
    assert site.get("/e/an-unknown-link-before-the-outage").status_code == 404
    assert connect(private_redis).keys(), "the failed look-up was not counted in Redis"

    shut_down(private_redis)
    with caplog.at_level(logging.INFO):
        assert site.get(f"/e/{link.token}").status_code == 302
        assert site.get("/e/").status_code == 200
        assert site.get("/api/v1/openapi.json").status_code == 200
        assert site.get("/api/v1/me", headers=bearer).status_code == 200
        login_page = site.get("/console/login")
        assert login_page.status_code == 200
        logged_in = site.post(
            "/console/login",
            data={
                "csrf_token": csrf_token(login_page.text),
                "email": "lead@example.org",
                "password": PASSWORD,
            },
        )
        assert logged_in.status_code == 302
        assert site.get("/console/").status_code == 200
        store = site.get("/readyz").json["checks"]["rate_limit_store"]
        assert store["status"] == "degraded" and store["kind"] == "redis"

        # The limits still apply, counted in memory: three failures, then 429.
        for _ in range(3):
            assert site.get("/e/an-unknown-link-during-the-outage").status_code == 404
        assert site.get("/e/an-unknown-link-during-the-outage").status_code == 429
        assert site.get(f"/e/{link.token}").status_code == 302  # a valid link still opens
        refused = {"Authorization": "Bearer elicit_" + "Q" * 43}
        assert [site.get("/api/v1/me", headers=refused).status_code for _ in range(4)] == [
            401,
            401,
            401,
            429,
        ]
        someone = site.application.test_client()  # same address, not logged in
        wrong = {"email": "lead@example.org", "password": "not the password"}
        for _ in range(3):
            page = someone.get("/console/login")
            refused_login = someone.post(
                "/console/login", data={"csrf_token": csrf_token(page.text), **wrong}
            )
            assert refused_login.status_code == 401
        assert someone.get("/console/login").status_code == 429

    fallbacks = [record for record in caplog.records if FALLING_BACK in record.getMessage()]
    assert len(fallbacks) == 1, "the degradation is logged once, not per request"
    assert fallbacks[0].levelno == logging.WARNING
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
