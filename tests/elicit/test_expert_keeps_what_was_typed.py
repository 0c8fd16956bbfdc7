"""Nothing an expert types is lost: not to control characters, not to a database
outage, not to a session that ended (expired, or its link reissued).

The outages are real (see ``tests/outage.py``): the PostgreSQL server is cut off behind
a relay, or SQLite's write lock is held by another connection.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

import surveys.database
from elicit import create_app
from elicit.extensions import current_link_keys, db
from surveys.models import Draft, Response
from surveys.panel import reissue_link, revoke_link
from surveys.rounds import open_round
from tests.conftest import BASE_URL, csrf_token, enter
from tests.outage import Outage, outage_for

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')

TYPED = {
    "trust_now": "4",
    "rationale.trust_now": "Both cabinets still talk \u2014 weekly, by phone.\r\nSecond line.",
    "missing_factors": "Elections in 2027; $5 million aid; =SUM(A1)",
}


def _hidden_fields(page: str, form_id: str) -> dict[str, str]:
    """The hidden inputs of the form ``form_id`` in ``page``, unescaped."""
    start = page.index(f'id="{form_id}"')
    end = page.index("</form>", start)
    return {
        html.unescape(name): html.unescape(value) for name, value in HIDDEN.findall(page[start:end])
    }


def _answer_page_token(client: FlaskClient) -> str:
    page = client.get("/e/")
    assert page.status_code == 200
    return csrf_token(page.text)


def _stored(panelist_id: int) -> dict[str, tuple[dict, str | None]]:
    db.session.expire_all()
    rows = db.session.execute(select(Response).where(Response.panelist_id == panelist_id)).scalars()
    return {row.item.key: (row.answer, row.rationale) for row in rows}


@pytest.fixture
def round_and_links(make_study, make_panel):
    study = make_study()
    links = make_panel(study, 2)
    round_ = open_round(db.session, study)
    return study, round_, links


# -- control characters ----------------------------------------------------------------


def test_control_characters_are_removed_and_the_answers_stored_on_every_database(
    client, round_and_links
):
    """A NUL in a rationale made PostgreSQL refuse the whole submission, draft
    included (500); SQLite stored it.  Both now store the text without the control
    characters, tab and line breaks kept."""
    _study, round_, links = round_and_links
    enter(client, links[0].token)
    token = _answer_page_token(client)
    dirty = {
        "trust_now": "4\x00",
        "rationale.trust_now": "a\x00b\x07c\td\r\ne\x1b[31m\x7f",
        "missing_factors": "\x00\x01open\x00 text\ufeff",
    }
    autosave = client.post("/e/draft", data=dirty, headers={"X-CSRFToken": token})
    assert autosave.status_code == 200, autosave.text
    response = client.post("/e/", data={"csrf_token": token, **dirty})
    assert response.status_code == 302, response.text
    panelist = links[0]
    stored = _stored(_panelist_id(panelist.pseudonym))
    assert stored["trust_now"] == ({"value": 4}, "abc\td\r\ne[31m")
    assert stored["missing_factors"][0] == {"text": "open text\ufeff"}
    draft = db.session.execute(select(Draft).where(Draft.round_id == round_.id)).scalar_one()
    assert draft.values["fields"]["rationale.trust_now"] == "abc\td\r\ne[31m"
    assert "\x00" not in str(draft.values)


def _panelist_id(pseudonym: str) -> int:
    from surveys.models import Panelist

    return db.session.execute(
        select(Panelist.id).where(Panelist.pseudonym == pseudonym)
    ).scalar_one()


# -- database outage -------------------------------------------------------------------


@pytest.fixture
def outage(database_url: str, monkeypatch) -> Iterator[Outage]:
    """An outage of the test database; SQLite writers give up after 0.2 s, not 30 s."""
    monkeypatch.setattr(surveys.database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    with outage_for(database_url) as outage:
        yield outage


@pytest.fixture
def outage_client(app, outage: Outage) -> Iterator[FlaskClient]:
    """A client of an app whose database connections go through ``outage``."""
    served = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": outage.app_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "ELICIT_BASE_URL": BASE_URL,
        }
    )
    yield served.test_client()
    outage.end()
    with served.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_submission_during_an_outage_gets_503_with_everything_typed_and_a_retry(
    outage_client, outage, round_and_links
):
    _study, _round, links = round_and_links
    enter(outage_client, links[0].token)
    token = _answer_page_token(outage_client)
    outage.begin()
    refused = outage_client.post("/e/", data={"csrf_token": token, "action": "submit", **TYPED})
    assert refused.status_code == 503
    assert refused.headers["Retry-After"].isdigit()
    assert refused.headers["Content-Type"].startswith("text/html")
    for value in TYPED.values():
        assert html.escape(value) in refused.text  # shown, to copy
    again = _hidden_fields(refused.text, "try-again")
    assert again == {"csrf_token": token, "action": "submit", **TYPED}
    outage.end()
    submitted = outage_client.post("/e/", data=again)
    assert submitted.status_code == 302, submitted.text
    stored = _stored(_panelist_id(links[0].pseudonym))
    assert stored["trust_now"] == ({"value": 4}, TYPED["rationale.trust_now"])
    assert stored["missing_factors"][0] == {"text": TYPED["missing_factors"]}


def test_an_autosave_during_an_outage_gets_503_and_says_it_will_retry(
    outage_client, outage, round_and_links
):
    _study, _round, links = round_and_links
    enter(outage_client, links[0].token)
    token = _answer_page_token(outage_client)
    outage.begin()
    refused = outage_client.post("/e/draft", data=TYPED, headers={"X-CSRFToken": token})
    assert refused.status_code == 503
    assert refused.headers["Retry-After"].isdigit()
    assert "still on this page" in refused.json["error"]
    outage.end()
    saved = outage_client.post("/e/draft", data=TYPED, headers={"X-CSRFToken": token})
    assert saved.status_code == 200


def test_the_answer_page_during_an_outage_is_a_503_page(outage_client, outage, round_and_links):
    _study, _round, links = round_and_links
    enter(outage_client, links[0].token)
    outage.begin()
    page = outage_client.get("/e/")
    assert page.status_code == 503
    assert "Retry-After" in page.headers
    assert "try again" in page.text


# -- a session that ended --------------------------------------------------------------


def _post_after_session_end(client: FlaskClient, token: str) -> object:
    return client.post("/e/", data={"csrf_token": token, "action": "submit", **TYPED})


def _resume(client: FlaskClient, page: str, link: str) -> object:
    fields = _hidden_fields(page, "resume")
    fields["csrf_token"] = csrf_token(page[page.index('id="resume"') :])
    return client.post("/e/resume", data={**fields, "personal_link": link})


def _assert_page_keeps_typed(page: str) -> None:
    for value in TYPED.values():
        assert html.escape(value) in page
    assert {
        name: value
        for name, value in _hidden_fields(page, "resume").items()
        if name != "csrf_token"
    } == TYPED


def test_a_post_without_a_session_keeps_what_was_typed_and_resumes_with_the_link(
    client, round_and_links
):
    _study, round_, links = round_and_links
    enter(client, links[0].token)
    token = _answer_page_token(client)
    client.delete_cookie("session", domain="localhost")
    ended = _post_after_session_end(client, token)
    assert ended.status_code == 401
    assert "Your session has ended" in ended.text
    _assert_page_keeps_typed(ended.text)
    resumed = _resume(client, ended.text, f"{BASE_URL}/e/{links[0].token}")
    assert resumed.status_code == 303 and resumed.headers["Location"].endswith("/e/")
    draft = db.session.execute(select(Draft).where(Draft.round_id == round_.id)).scalar_one()
    assert draft.values["fields"] == TYPED
    page = client.get("/e/")
    assert "kept as your draft" in page.text
    assert html.escape(TYPED["rationale.trust_now"]) in page.text


def test_an_expired_session_keeps_what_was_typed(database_url, app, round_and_links):
    _study, _round, links = round_and_links
    served = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "ELICIT_BASE_URL": BASE_URL,
            "PERMANENT_SESSION_LIFETIME": 1,
        }
    )
    client = served.test_client()
    try:
        enter(client, links[0].token)
        token = _answer_page_token(client)
        time.sleep(2.1)
        ended = _post_after_session_end(client, token)
        assert ended.status_code == 401
        _assert_page_keeps_typed(ended.text)
    finally:
        with served.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_reissued_link_ends_the_session_but_not_what_was_typed(client, round_and_links):
    _study, round_, links = round_and_links
    enter(client, links[0].token)
    token = _answer_page_token(client)
    panelist = _panelist(links[0].pseudonym)
    new_link = reissue_link(db.session, panelist, keys=current_link_keys())
    ended = _post_after_session_end(client, token)
    assert ended.status_code == 404
    assert "replaced by a newer one" in ended.text
    _assert_page_keeps_typed(ended.text)
    with_old_link = _resume(client, ended.text, f"{BASE_URL}/e/{links[0].token}")
    assert with_old_link.status_code == 404
    _assert_page_keeps_typed(with_old_link.text)  # still all there, to try again
    resumed = _resume(client, with_old_link.text, new_link.token)  # the bare token works too
    assert resumed.status_code == 303
    draft = db.session.execute(select(Draft).where(Draft.round_id == round_.id)).scalar_one()
    assert draft.values["fields"] == TYPED


def test_a_withdrawn_link_shows_what_was_typed_without_offering_to_continue(
    client, round_and_links
):
    _study, _round, links = round_and_links
    enter(client, links[0].token)
    token = _answer_page_token(client)
    revoke_link(db.session, _panelist(links[0].pseudonym))
    ended = _post_after_session_end(client, token)
    assert ended.status_code == 403
    assert "withdrawn" in ended.text
    for value in TYPED.values():
        assert html.escape(value) in ended.text
    assert 'id="resume"' not in ended.text
    refused = client.post(
        "/e/resume",
        data={"csrf_token": token, "personal_link": links[0].token, **TYPED},
    )
    assert refused.status_code == 403
    assert db.session.execute(select(Draft)).first() is None


def test_an_autosave_without_a_session_says_what_to_do(client, round_and_links):
    _study, _round, links = round_and_links
    enter(client, links[0].token)
    token = _answer_page_token(client)
    client.delete_cookie("session", domain="localhost")
    refused = client.post("/e/draft", data=TYPED, headers={"X-CSRFToken": token})
    assert refused.status_code == 401
    assert "Your session has ended" in refused.json["error"]
    enter(client, links[0].token)  # a new session: the old page's token is not its own
    stale = client.post("/e/draft", data=TYPED, headers={"X-CSRFToken": token})
    assert stale.status_code == 400
    assert "still on it" in stale.json["error"]


def _panelist(pseudonym: str):
    from surveys.models import Panelist

    return db.session.execute(select(Panelist).where(Panelist.pseudonym == pseudonym)).scalar_one()


# -- the link look-up limit ------------------------------------------------------------


@pytest.fixture
def limited_client(app, database_url) -> Iterator[Callable[[], FlaskClient]]:
    served = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "ELICIT_BASE_URL": BASE_URL,
            "ELICIT_LINK_LOOKUP_LIMIT": "3 per minute",
        }
    )
    yield served.test_client
    with served.app_context():
        db.session.remove()
        db.engine.dispose()


def test_failed_lookups_are_limited_but_a_valid_link_is_never_blocked(
    limited_client, round_and_links
):
    _study, _round, links = round_and_links
    client = limited_client()
    for attempt in range(3):
        assert client.get(f"/e/not-a-real-link-{attempt:02d}-xxxxxxxxxxxx").status_code == 404
    assert client.get("/e/not-a-real-link-99-xxxxxxxxxxxx").status_code == 429
    # The same address, past its limit: a valid link still opens, as do many.
    for _ in range(5):
        assert limited_client().get(f"/e/{links[0].token}").status_code == 302
    assert limited_client().get(f"/e/{links[1].token}").status_code == 302
    # A failed look-up through the resume form is counted (and refused) the same way.
    page = client.get("/e/")  # no session: a page with a CSRF token
    refused = client.post(
        "/e/resume",
        data={"csrf_token": csrf_token(_resume_form_page(client)), "personal_link": "x" * 43},
    )
    assert page.status_code == 401
    assert refused.status_code == 429


def _resume_form_page(client: FlaskClient) -> str:
    ended = client.post("/e/", data={"action": "save", **TYPED})
    assert ended.status_code == 401
    return ended.text


class DatabaseFault:
    """Make the database fail under a request's own connection, for real: PostgreSQL
    ends it as a restart does (``pg_terminate_backend``: AdminShutdown), SQLite has its
    write lock taken by another connection (writers then time out; readers go on)."""

    def __init__(self, database_url: str) -> None:
        from sqlalchemy import create_engine

        self.other = create_engine(database_url)
        self.holders: list = []

    def strike(self, session) -> None:
        """Fail the database under ``session``'s connection, now."""
        from sqlalchemy import text

        if session.connection().dialect.name != "postgresql":
            holder = self.other.raw_connection()
            holder.driver_connection.isolation_level = None
            holder.driver_connection.execute("BEGIN EXCLUSIVE")
            self.holders.append(holder)
            return
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        # Autocommit: PostgreSQL snapshots pg_stat_activity once per transaction, so
        # polling inside one transaction would see a backend that was still alive at
        # the first poll alive forever.
        with self.other.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            # pg_terminate_backend only signals: wait until the backend is gone.
            deadline = time.monotonic() + 10
            while connection.execute(alive, {"pid": pid}).scalar_one():
                assert time.monotonic() < deadline, "the backend did not end"
                time.sleep(0.01)

    def release(self) -> None:
        """Give SQLite's write lock back; close the other connections."""
        for holder in self.holders:
            holder.driver_connection.execute("ROLLBACK")
            holder.close()
        self.holders.clear()
        self.other.dispose()


@pytest.fixture
def database_fault(database_url: str, monkeypatch) -> Iterator[DatabaseFault]:
    """A :class:`DatabaseFault` on the test database (SQLite writers give up after
    0.2 s), released at the end."""
    monkeypatch.setattr(surveys.database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    fault = DatabaseFault(database_url)
    yield fault
    fault.release()


def _striking_first(monkeypatch, fault: DatabaseFault, module, name: str, *, after=False):
    """Replace ``module.name`` for one call: the database fails before it runs (or,
    with ``after``, right after it returned), then the real function is back."""
    real = getattr(module, name)

    def struck(*args, **kwargs):
        monkeypatch.setattr(module, name, real)
        if not after:
            fault.strike(db.session())
            return real(*args, **kwargs)
        result = real(*args, **kwargs)
        fault.strike(db.session())
        return result

    monkeypatch.setattr(module, name, struck)


def test_a_database_failing_in_the_middle_of_a_request_is_a_503_and_recovers(
    client, round_and_links, database_fault, monkeypatch
):
    """The database fails after the request has used its connection.  The expert gets
    the 503 page with what they typed, never a 500, and the next request works."""
    import elicit.expert.views as views

    _study, _round, links = round_and_links
    enter(client, links[0].token)
    token = _answer_page_token(client)
    _striking_first(monkeypatch, database_fault, views, "submit_responses")
    refused = client.post("/e/", data={"csrf_token": token, "action": "submit", **TYPED})
    database_fault.release()
    assert refused.status_code == 503
    again = _hidden_fields(refused.text, "try-again")
    assert again["rationale.trust_now"] == TYPED["rationale.trust_now"]
    assert client.post("/e/", data=again).status_code == 302
    assert client.get("/e/").status_code == 200


def test_a_connection_that_dies_after_the_last_query_does_not_turn_the_answer_into_a_500(
    client, round_and_links, database_fault, monkeypatch
):
    """The page is made, then the database ends the connection before the request's
    session is closed (a PostgreSQL restart right then).  The rollback that closing
    sends used to raise there, after the response was made, and the expert got a 500
    for a page that had worked."""
    import elicit.expert.views as views

    _study, _round, links = round_and_links
    enter(client, links[0].token)
    _striking_first(monkeypatch, database_fault, views, "render_template", after=True)
    page = client.get("/e/")
    database_fault.release()
    assert page.status_code == 200
    assert client.get("/e/").status_code == 200


def test_opening_a_link_during_an_outage_is_a_503(outage_client, outage, round_and_links):
    """The link look-up limit looks the link up first; an outage there must reach the
    view as one (a 503), not leave a broken session behind (a 500).  On SQLite the
    outage is another process's write lock, which does not stop reads (WAL): the link
    opens."""
    _study, _round, links = round_and_links
    outage.begin()
    answered = outage_client.get(f"/e/{links[0].token}")
    if outage.relay is None:
        assert answered.status_code == 302
    else:
        assert answered.status_code == 503
        assert "Retry-After" in answered.headers
    outage.end()
    assert outage_client.get(f"/e/{links[0].token}").status_code == 302


def test_a_link_look_up_whose_connection_dies_leaves_no_broken_session(
    client, round_and_links, database_fault, monkeypatch
):
    """The look-up for the link limit's exemption is the request's first query; when
    the server ends the connection under it (PostgreSQL restarting), Flask-Limiter
    swallowed the error and the view met a session needing a rollback: a 500
    (PendingRollbackError).  Now the view looks the link up again on a fresh
    connection and the link opens.  (On SQLite the fault is a write lock, which reads
    do not wait for.)"""
    import elicit.expert.views as views

    _study, _round, links = round_and_links
    _striking_first(monkeypatch, database_fault, views, "visit_for_token_hash")
    answered = client.get(f"/e/{links[0].token}")
    database_fault.release()
    assert answered.status_code == 302
    assert client.get(f"/e/{links[0].token}").status_code == 302
