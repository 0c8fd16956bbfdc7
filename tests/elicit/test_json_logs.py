"""``ELICIT_LOG_FORMAT=json``: one JSON object per log line, in the app and in gunicorn,
with personal links and tokens redacted as in text logs (issue 15, point 6)."""

from __future__ import annotations

import io
import json
import logging
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from elicit import create_app
from elicit.config import load
from elicit.extensions import db
from elicit.logs import JsonFormatter
from tests.conftest import BASE_URL
from tests.elicit.test_serve import serving


def _lines(text: str) -> list[dict[str, object]]:
    """Every line of ``text`` as the JSON object it must be."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_record_is_one_json_line_with_its_secrets_redacted():
    token = secrets.token_urlsafe(32)
    api_token = "elicit_" + secrets.token_urlsafe(32)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("elicit.tests.json")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"{api_token} failed on /e/{token}")
        except RuntimeError:
            logger.exception("could not open /e/%s", token)
        # A record made without the record factory (as a socket log receiver makes
        # them) is redacted by the formatter itself.
        handler.handle(logging.makeLogRecord({"name": "raw", "msg": f"raw /e/{token}"}))
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert token not in text and api_token not in text
    first, raw = _lines(text)
    assert set(first) == {"time", "level", "logger", "message", "exception"}
    assert first["level"] == "ERROR"
    assert first["logger"] == "elicit.tests.json"
    assert first["message"] == "could not open /e/<token>"
    assert str(first["time"]).endswith("+00:00")
    assert "Traceback (most recent call last)" in str(first["exception"])
    assert "RuntimeError: elicit_<token> failed on /e/<token>" in str(first["exception"])
    assert raw["message"] == "raw /e/<token>"


@pytest.fixture
def root_stream() -> Iterator[io.StringIO]:
    """What a handler on the root logger writes (gunicorn's error log, in production)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


@pytest.fixture
def json_client(app, database_url, root_stream):
    """A client of an app configured with ``ELICIT_LOG_FORMAT=json`` that logs a failing
    request's exception, as a deployed one does.  The root logger's handlers get their
    formatters back afterwards, for the tests that follow."""
    formatters = {handler: handler.formatter for handler in logging.getLogger().handlers}
    served = create_app(
        {
            "TESTING": True,
            "PROPAGATE_EXCEPTIONS": False,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "ELICIT_BASE_URL": BASE_URL,
            "ELICIT_LOG_FORMAT": "json",
        }
    )
    yield served.test_client()
    with served.app_context():
        db.session.remove()
        db.engine.dispose()
    for handler, formatter in formatters.items():
        handler.setFormatter(formatter)


def test_a_failing_request_is_logged_as_json_with_its_route_not_its_link(
    json_client, make_study, make_panel, monkeypatch, root_stream
):
    (link,) = make_panel(make_study(), 1)

    def failing_query(*args, **kwargs):
        raise RuntimeError(f"could not look up /e/{link.token}")

    monkeypatch.setattr(Session, "execute", failing_query)
    response = json_client.get(f"/e/{link.token}", headers={"X-Request-ID": "proxy-id-42"})
    monkeypatch.undo()
    assert response.status_code == 500
    text = root_stream.getvalue()
    assert link.token not in text
    (entry,) = [line for line in _lines(text) if line["logger"] == "elicit"]
    assert entry["level"] == "ERROR"
    assert entry["message"] == "Exception on /e/<token> [GET]"
    assert entry["method"] == "GET"
    assert entry["route"] == "/e/<token>"  # the URL rule, never the path
    assert entry["request_id"] == "proxy-id-42"
    assert "RuntimeError: could not look up /e/<token>" in str(entry["exception"])


def test_a_request_without_a_usable_id_gets_one_of_its_own(json_client, root_stream):
    json_client.application.logger.warning("outside any request")
    with json_client.application.test_request_context(
        "/e/", headers={"X-Request-ID": "no spaces or {braces} please"}
    ):
        json_client.application.logger.warning("first")
        json_client.application.logger.warning("second")
    outside, first, second = _lines(root_stream.getvalue())
    assert "request_id" not in outside and "route" not in outside
    assert len(str(first["request_id"])) == 32
    assert first["request_id"] == second["request_id"]


def test_the_log_format_is_named_in_the_error_when_it_is_unknown(tmp_path, monkeypatch):
    monkeypatch.setenv("ELICIT_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="ELICIT_LOG_FORMAT must be one of text, json"):
        load(str(tmp_path))


def test_gunicorn_writes_its_logs_and_the_apps_as_json(tmp_path):
    token = secrets.token_urlsafe(32)
    access_log = tmp_path / "access.log"
    with serving(
        tmp_path,
        "--workers",
        "1",
        "--access-logfile",
        str(access_log),
        env={"ELICIT_LOG_FORMAT": "json"},
    ) as (address, _server, log):
        # The database has no tables: the app logs a warning from inside the request.
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"{address}/e/{token}", timeout=10)
        answer.value.close()
        assert answer.value.code == 503
    error_lines = _lines(log.read_text())  # every line parses
    assert any(line["message"] == "Using worker: sync" for line in error_lines)
    (app_line,) = [line for line in error_lines if str(line["logger"]).startswith("elicit")]
    assert app_line["level"] == "WARNING"
    assert app_line["route"] == "/e/<token>"
    access_lines = _lines(access_log.read_text())
    assert any("GET /e/<token> HTTP/1.1" in str(line["message"]) for line in access_lines)
    assert token not in access_log.read_text() + log.read_text()
