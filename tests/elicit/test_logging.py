"""No personal link, API token or credential, and no value a statement carried, in any
log line or database error message (issue 11, point 6).

A handler on the root logger stands for whatever the deployment attaches (gunicorn's
error log, a journal, a log shipper): what it receives is what would be written.
"""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Iterator

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from elicit import create_app
from elicit.extensions import db
from surveys.api_tokens import create_token
from surveys.models import Response
from tests.conftest import BASE_URL

#: Text only its author may read: it must never reach a log or an error message.
RATIONALE = "my private reasoning about the cartel figures"


@pytest.fixture
def root_log() -> Iterator[io.StringIO]:
    """Everything that reaches the root logger, formatted as a log file would be."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


@pytest.fixture
def production_client(app, database_url):
    """A client of an app that logs a failing request's exception, as a deployed one
    does, instead of raising it into the test."""
    served = create_app(
        {
            "TESTING": True,
            "PROPAGATE_EXCEPTIONS": False,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "ELICIT_BASE_URL": BASE_URL,
        }
    )
    yield served.test_client()
    with served.app_context():
        db.session.remove()
        db.engine.dispose()


def test_an_exception_inside_an_expert_request_is_logged_without_the_link(
    production_client, make_study, make_panel, monkeypatch, root_log
):
    (link,) = make_panel(make_study(), 1)

    def failing_query(*args, **kwargs):
        # The message quotes the link, as an exception from any layer might.
        raise RuntimeError(f"could not look up /e/{link.token}")

    monkeypatch.setattr(Session, "execute", failing_query)
    response = production_client.get(f"/e/{link.token}")
    monkeypatch.undo()
    assert response.status_code == 500
    logged = root_log.getvalue()
    assert "Exception on /e/<token> [GET]" in logged  # Flask's own line, by the app logger
    assert "RuntimeError: could not look up /e/<token>" in logged  # the traceback
    assert "Traceback (most recent call last)" in logged
    assert link.token not in logged


def test_every_logger_redacts_links_api_tokens_and_credentials(app, make_user, root_log):
    secret = create_token(db.session, make_user("lead@example.org"), "t").secret
    link = "/e/" + "Ab3_-" * 9
    library = logging.getLogger("some.library.configured.later")
    library.addHandler(extra := logging.StreamHandler(io.StringIO()))
    try:
        library.warning("request to %s with %r", link, {"Authorization": f"Bearer {secret}"})
        library.warning("Cookie: session=eyJwYW5lbGlzdCI6ImFiYyJ9.signed; lang=en")
        try:
            raise ValueError(f"token {secret} refused")
        except ValueError:
            library.exception("while checking")
        library.error("here", stack_info=True, extra={"note": "x"})
        record = library.makeRecord(
            library.name, logging.ERROR, __file__, 1, "m", (), None,
            sinfo=f'Stack (most recent call last):\n  File "x", line 1, in GET {link}',
        )  # fmt: skip
    finally:
        library.removeHandler(extra)
    logged = root_log.getvalue() + extra.stream.getvalue()  # type: ignore[attr-defined]
    assert secret not in logged and secret[7:] not in logged
    assert link not in logged and "/e/<token>" in logged
    assert "eyJwYW5lbGlzdCI6ImFiYyJ9" not in logged
    assert "ValueError: token elicit_<token> refused" in logged
    assert link not in record.stack_info
    assert "/e/<token>" in record.stack_info


def _failing_insert(**values: object) -> Exception:
    """Insert a response that the database refuses; the error it raised.  (SQLite's
    driver refuses an integer beyond 64 bits itself, with an OverflowError.)"""
    with pytest.raises((StatementError, OverflowError)) as raised:
        db.session.execute(insert(Response).values(**values))
    db.session.rollback()
    return raised.value


def _everything_said_about(error: BaseException) -> str:
    """The error as a log line, a CLI traceback or an error page could show it."""
    return str(error) + "".join(traceback.format_exception(error))


def test_an_integrity_error_names_no_value_of_the_statement(app):
    # No round: NOT NULL refuses the row, on SQLite and on PostgreSQL, which would
    # quote the whole failing row, rationale included.
    error = _failing_insert(
        round_id=None, panelist_id=None, item_id=None, item_version=1, rationale=RATIONALE
    )
    said = _everything_said_about(error)
    assert "response" in said  # still says what failed
    assert RATIONALE not in said


def test_a_data_error_names_no_value_of_the_statement(app):
    # An item version beyond any database integer: refused before or by the database.
    error = _failing_insert(
        round_id=1, panelist_id=1, item_id=1, item_version=2**70, rationale=RATIONALE
    )
    said = _everything_said_about(error)
    assert RATIONALE not in said
    assert str(2**70) not in said
