"""/healthz and /readyz (issue 11, point 14), and the warning about a proxy that the
configuration does not know (point 9).

/readyz is tested on a database migrated by ``elicit db upgrade`` (SQLite, or a schema
of its own on the PostgreSQL test server), on one whose schema is behind, and on one
that cannot be reached (a PostgreSQL port nobody listens on, or a SQLite file in a
folder that does not exist).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from elicit import create_app
from elicit.extensions import db
from tests.conftest import BASE_URL, temporary_schema

ELICIT = str(Path(sys.executable).with_name("elicit"))
FIRST_REVISION = "0001"  # migrations/versions/0001_initial_schema.py
PROXY_WARNING = "X-Forwarded-For but ELICIT_PROXY_HOPS is 0"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _app(database_url: str, **settings: object) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test",
            "ELICIT_BASE_URL": BASE_URL,
            **settings,
        }
    )


@pytest.fixture
def serve() -> Iterator:
    """Build apps on given databases; their connections are closed afterwards."""
    apps: list[Flask] = []

    def build(database_url: str, **settings: object):
        apps.append(_app(database_url, **settings))
        return apps[-1].test_client()

    yield build
    for built in apps:
        with built.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def migrated_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database brought to the head of the migrations by ``elicit db upgrade`` (once
    for this module: a test that changes its revision puts it back)."""
    folder = tmp_path_factory.mktemp("health")
    if make_url(database_url).get_backend_name() == "sqlite":
        url = f"sqlite:///{folder / 'migrated.sqlite3'}"
        _upgrade(url, folder)
        yield url
        return
    with temporary_schema(database_url, "health_test") as url:
        _upgrade(url, folder)
        yield url


def _upgrade(url: str, tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "ELICIT_DATABASE_URL": url,
        "ELICIT_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    result = subprocess.run(
        [ELICIT, "db", "upgrade"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def unreachable_database(database_url: str, tmp_path: Path) -> str:
    """A URL of the test's kind of database that refuses every connection."""
    if make_url(database_url).get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'no-such-folder' / 'elicit.sqlite3'}"
    return f"postgresql+psycopg://elicit:s3cret-password@127.0.0.1:{_free_port()}/elicit"


def test_healthz_says_the_process_is_alive_without_touching_the_database(
    serve, unreachable_database
):
    answer = serve(unreachable_database).get("/healthz")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(serve, migrated_database):
    answer = serve(migrated_database).get("/readyz")
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "ready"
    checks = answer.json["checks"]
    assert checks["database"] == {"status": "ok"}
    assert checks["migrations"]["status"] == "ok"
    assert checks["migrations"]["database"] == checks["migrations"]["head"] != []
    assert checks["rate_limit_store"] == {"status": "ok", "kind": "memory"}
    assert answer.json["warnings"] == []
    assert answer.headers["Content-Type"] == "application/json"


def test_readyz_is_unavailable_while_migrations_are_behind(serve, migrated_database, database_url):
    engine = create_engine(migrated_database)
    with engine.begin() as connection:
        head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        connection.execute(text(f"UPDATE alembic_version SET version_num = '{FIRST_REVISION}'"))
    try:
        answer = serve(migrated_database).get("/readyz")
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": head}
            )
        engine.dispose()
    assert answer.status_code == 503
    assert answer.json["status"] == "unavailable"
    migrations = answer.json["checks"]["migrations"]
    assert migrations["status"] == "behind" and migrations["database"] == [FIRST_REVISION]
    assert "elicit db upgrade" in migrations["detail"]
    # A schema made without Alembic (the test database) has no revision at all.
    never_migrated = serve(database_url).get("/readyz")
    assert never_migrated.status_code == 503
    assert never_migrated.json["checks"]["migrations"]["database"] == []


def test_readyz_is_unavailable_when_the_database_cannot_be_reached(serve, unreachable_database):
    started = time.monotonic()
    answer = serve(unreachable_database).get("/readyz")
    assert time.monotonic() - started < 10
    assert answer.status_code == 503
    assert answer.json["status"] == "unavailable"
    assert answer.json["checks"]["database"] == {"status": "unreachable"}
    assert answer.json["checks"]["migrations"]["status"] == "unknown"
    assert "s3cret" not in answer.text and "127.0.0.1" not in answer.text


def test_readyz_is_degraded_but_ready_when_the_rate_limit_store_is_down(serve, migrated_database):
    client = serve(migrated_database, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{_free_port()}/0")
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json["status"] == "degraded"
    store = answer.json["checks"]["rate_limit_store"]
    assert store["status"] == "degraded" and store["kind"] == "redis"
    assert "memory" in store["detail"]


def test_a_forwarded_request_without_proxy_hops_is_warned_about_once(
    app, serve, database_url, caplog
):
    client = serve(database_url)
    with caplog.at_level(logging.WARNING):
        assert client.get("/console/login").status_code == 200
        assert not [r for r in caplog.records if PROXY_WARNING in r.getMessage()]
        for _ in range(3):
            forwarded = client.get("/console/login", headers={"X-Forwarded-For": "203.0.113.7"})
            assert forwarded.status_code == 200
    warnings = [r for r in caplog.records if PROXY_WARNING in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "ELICIT_PROXY_HOPS" in warnings[0].getMessage()
    reported = client.get("/readyz").json["warnings"]
    assert len(reported) == 1 and PROXY_WARNING in reported[0]


def test_a_configured_proxy_is_not_warned_about(app, serve, database_url, caplog):
    client = serve(database_url, ELICIT_PROXY_HOPS=1)
    with caplog.at_level(logging.WARNING):
        client.get("/console/login", headers={"X-Forwarded-For": "203.0.113.7"})
    assert not [r for r in caplog.records if PROXY_WARNING in r.getMessage()]
    assert client.get("/readyz").json["warnings"] == []
