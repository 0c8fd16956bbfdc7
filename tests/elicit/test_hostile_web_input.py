"""Hostile and malformed input to the web layer gets a 4xx that says what is wrong, and
a database outage a 503 that says to retry, never a 500 (issue 11, point 11).

- integers in paths beyond the database's 32-bit range;
- JSON bodies nested far deeper than any request needs;
- deadlines whose conversion to UTC overflows, or absurdly far ahead;
- a database that refuses connections, on a console page and on the API.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from elicit import create_app
from elicit.extensions import db
from surveys.api_tokens import create_token
from surveys.rounds import open_round
from surveys.studies import find_study
from tests.conftest import BASE_URL, csrf_token, log_in

SLUG = "us-mexico-intelligence"
API = f"/api/v1/studies/{SLUG}"
PROBLEM = "application/problem+json"
#: Beyond PostgreSQL's integer (2**31 - 1) and SQLite's (2**63 - 1).
HUGE = "99999999999999999999"
JUST_BEYOND = str(2**31)


@pytest.fixture
def lead(app, make_study, make_user):
    """A facilitator with a write token, member of the demo study; the token's secret."""
    study = make_study()
    user = make_user("lead@example.org", studies=[study])
    return create_token(db.session, user, "t", "write").secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# -- integers in paths -----------------------------------------------------------------------


def test_integers_in_paths_beyond_the_database_range_are_not_found(client, lead):
    log_in(client, "lead@example.org")
    token = csrf_token(client.get("/console/tokens").text)
    for number in (HUGE, JUST_BEYOND):
        revoked = client.post(f"/console/tokens/{number}/revoke", data={"csrf_token": token})
        assert revoked.status_code == 404, number
    assert (
        client.post("/console/tokens/2147483647/revoke", data={"csrf_token": token}).status_code
        == 404
    )
    for number in (HUGE, JUST_BEYOND):
        for method, path in (
            ("GET", f"{API}/rounds/{number}"),
            ("GET", f"{API}/rounds/{number}/summary"),
            ("POST", f"{API}/rounds/{number}/close"),
        ):
            answer = client.open(path, method=method, headers=bearer(lead))
            assert answer.status_code == 404, (method, path)
            assert answer.mimetype == PROBLEM


# -- deeply nested JSON ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"deadline": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"panelists": [' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "]}",
    ],
    ids=["array", "in-a-field", "objects"],
)
def test_deeply_nested_json_is_refused_as_a_bad_request(client, lead, body):
    for path in (f"{API}/rounds", f"{API}/panelists", "/api/v1/studies"):
        answer = client.post(
            path, data=body, headers={**bearer(lead), "Content-Type": "application/json"}
        )
        assert answer.status_code == 400, (path, answer.status_code)
        assert answer.mimetype == PROBLEM
        assert "nested" in answer.json["detail"]


# -- deadlines -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "deadline",
    [
        "9999-12-31T23:59:59-12:00",  # after 9999-12-31 in UTC
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9000-01-01T00:00:00Z",
        (datetime.now(UTC) + timedelta(days=6 * 365)).isoformat(),
    ],
    ids=["overflows", "underflows", "year-9000", "six-years"],
)
def test_an_api_deadline_out_of_range_is_refused_naming_the_field(client, lead, deadline):
    answer = client.post(f"{API}/rounds", json={"deadline": deadline}, headers=bearer(lead))
    assert answer.status_code == 422, answer.json
    assert answer.mimetype == PROBLEM
    assert list(answer.json["errors"]) == ["deadline"]
    assert client.get(f"{API}/rounds", headers=bearer(lead)).json["rounds"] == []


def test_an_api_deadline_within_five_years_opens_the_round_stored_in_utc(client, lead):
    in_four_years = datetime.now(UTC).replace(microsecond=0) + timedelta(days=4 * 365)
    local = in_four_years.astimezone(timezone(timedelta(hours=-5)))
    answer = client.post(
        f"{API}/rounds", json={"deadline": local.isoformat()}, headers=bearer(lead)
    )
    assert answer.status_code == 201, answer.json
    assert answer.json["deadline"].startswith(in_four_years.strftime("%Y-%m-%dT%H:%M:%S"))


def test_console_deadlines_out_of_range_are_refused_naming_the_field(client, lead, app):
    log_in(client, "lead@example.org")
    page = client.get(f"/console/studies/{SLUG}")
    token = csrf_token(page.text)
    far = client.post(
        f"/console/studies/{SLUG}/rounds/open",
        data={"csrf_token": token, "round": "1", "deadline": "9999-12-31T23:59"},
    )
    assert far.status_code == 422
    assert "Deadline" in far.text and "5 years" in far.text
    # A past deadline: the confirmation again, the message on its field.
    past = client.post(
        f"/console/studies/{SLUG}/rounds/open",
        data={"csrf_token": token, "round": "1", "deadline": "0001-01-01T00:00"},
    )
    assert past.status_code == 422 and "must lie in the future" in past.text
    open_round(db.session, find_study(db.session, SLUG))
    extended = client.post(
        f"/console/studies/{SLUG}/rounds/deadline",
        data={"csrf_token": token, "round": "1", "deadline": "9999-12-31T23:59"},
    )
    assert extended.status_code == 422
    assert "5 years" in extended.text


# -- the database unreachable ----------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def outage(database_url: str, tmp_path: Path):
    """A client of a site whose database refuses every connection."""
    if make_url(database_url).get_backend_name() == "sqlite":
        unreachable = f"sqlite:///{tmp_path / 'no-such-folder' / 'elicit.sqlite3'}"
    else:
        unreachable = f"postgresql+psycopg://elicit@127.0.0.1:{_closed_port()}/elicit"
    served = create_app(
        {
            "TESTING": True,
            "PROPAGATE_EXCEPTIONS": False,
            "SQLALCHEMY_DATABASE_URI": unreachable,
            "SECRET_KEY": "test",
            "ELICIT_BASE_URL": BASE_URL,
        }
    )
    yield served.test_client()
    with served.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_console_request_during_a_database_outage_is_asked_to_retry(outage):
    page = outage.get("/console/login")
    answer = outage.post(
        "/console/login",
        data={
            "csrf_token": csrf_token(page.text),
            "email": "lead@example.org",
            "password": "whatever it is",
        },
    )
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.mimetype == "text/html"
    assert "database" in answer.text and "try again" in answer.text


def test_an_api_request_during_a_database_outage_is_asked_to_retry(outage):
    for path in ("/api/v1/me", "/api/v1/studies"):
        answer = outage.get(path, headers=bearer("elicit_" + "Q" * 43))
        assert answer.status_code == 503, path
        assert answer.headers["Retry-After"] == "5"
        assert answer.mimetype == PROBLEM
        assert answer.json["status"] == 503
        assert "database" in answer.json["detail"]
    # The document needs no database.
    assert outage.get("/api/v1/openapi.json").status_code == 200
