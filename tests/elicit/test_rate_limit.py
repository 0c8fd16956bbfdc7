"""Failed link look-ups are limited per client, and the count is shared through Redis
when several workers serve the same site."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from elicit import create_app
from elicit.extensions import db
from tests.conftest import BASE_URL

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own, removed afterwards."""
    prefix = f"elicit-test-{uuid.uuid4().hex[:8]}"
    yield prefix
    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(f"*{prefix}*"):
        connection.delete(key)
    connection.close()


@pytest.fixture
def worker(database_url: str, redis_prefix: str):
    """A worker of the site whose rate-limit counts live in Redis."""
    served = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test",
            "ELICIT_BASE_URL": BASE_URL,
            "RATELIMIT_STORAGE_URI": REDIS_URL,
            "RATELIMIT_KEY_PREFIX": redis_prefix,
            "ELICIT_LINK_LOOKUP_LIMIT": "4 per minute",
        }
    )
    yield served.test_client()
    with served.app_context():
        db.session.remove()
        db.engine.dispose()


OTHER_WORKER = """
import sys
from elicit import create_app
client = create_app({
    "TESTING": True, "SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "test",
    "RATELIMIT_STORAGE_URI": sys.argv[2], "RATELIMIT_KEY_PREFIX": sys.argv[3],
    "ELICIT_LINK_LOOKUP_LIMIT": "4 per minute",
}).test_client()
print(client.get("/e/" + sys.argv[4]).status_code)
"""


def lookup_in_another_process(database_url: str, prefix: str, token: str) -> int:
    """The status of one link look-up made by a separate worker process."""
    result = subprocess.run(
        [sys.executable, "-c", OTHER_WORKER, database_url, REDIS_URL, prefix, token],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return int(result.stdout.strip().splitlines()[-1])


def test_workers_share_the_failed_lookup_count_through_redis(
    app, database_url, make_study, make_panel, redis_prefix, worker
):
    study = make_study()
    (link,) = make_panel(study, 1)
    client = worker
    assert client.get(f"/e/{link.token}").status_code == 302  # a real link costs nothing
    for _ in range(3):
        assert client.get("/e/wrong-token").status_code == 404
    # A fourth failure in another process counts against the same client...
    assert lookup_in_another_process(database_url, redis_prefix, "wrong-too") == 404
    # ...so this worker now refuses, and so does any other.
    assert client.get("/e/wrong-again").status_code == 429
    assert "Too many attempts" in client.get("/e/wrong-again").text
    assert lookup_in_another_process(database_url, redis_prefix, "wrong-again") == 429
    assert lookup_in_another_process(database_url, redis_prefix + "-other", "x") == 404
