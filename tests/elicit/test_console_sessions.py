"""Console sessions live on the server: logout, a password change, a deactivation or an
administrator's revocation ends them at once, even for a copy of the cookie; the login
lifetime is counted from the stored session; logging in rotates the CSRF token and
keeps nothing planted in the session before it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from elicit.extensions import db
from surveys.accounts import MIN_PASSWORD_LENGTH, authenticate
from surveys.api_tokens import create_token
from surveys.models import AuditEvent, ConsoleSession
from tests.conftest import PASSWORD, _test_app, csrf_token, log_in

EMAIL = "lead@example.org"
NEW_PASSWORD = "a brand new and long passphrase"


@pytest.fixture
def study(make_study):
    """The demo study, not started."""
    return make_study()


@pytest.fixture
def lead(study, make_user):
    """A facilitator who is a member of the demo study."""
    return make_user(EMAIL, studies=[study])


@pytest.fixture
def new_client(app, database_url):
    """Make another browser: a client of its own app, sharing nothing with ``client``."""
    served = []

    def make() -> FlaskClient:
        served.append(_test_app(database_url))
        return served[-1].test_client()

    yield make
    for application in served:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def other_client(new_client):
    """A second browser."""
    return new_client()


def session_cookie(client: FlaskClient) -> str:
    """The value of ``client``'s session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None, "the client has no session cookie"
    return cookie.value


def copy_cookie(source: FlaskClient, target: FlaskClient) -> None:
    """Give ``target`` the session cookie ``source`` holds now, as a thief would."""
    target.set_cookie("session", session_cookie(source))


def is_logged_in(client: FlaskClient) -> bool:
    """Whether the client's session opens the console (otherwise: sent to log in)."""
    response = client.get("/console/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    assert "/console/login" in response.headers["Location"]
    return False


def change_password(client: FlaskClient, current: str, new: str, confirm: str | None = None):
    """Fill in and send the change-password form."""
    page = client.get("/console/password")
    assert page.status_code == 200
    return client.post(
        "/console/password",
        data={
            "csrf_token": csrf_token(page.text),
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
        },
    )


def sessions_of_lead() -> list[ConsoleSession]:
    """Every stored console session, oldest first, read afresh."""
    db.session.expire_all()
    return list(db.session.execute(select(ConsoleSession).order_by(ConsoleSession.id)).scalars())


def account_events() -> list[AuditEvent]:
    """The audit log's events about accounts, oldest first."""
    return list(
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action.startswith("user.")).order_by(AuditEvent.id)
        ).scalars()
    )


# -- logout --------------------------------------------------------------------------------


def test_a_cookie_copied_before_logout_stops_working_at_once(client, other_client, lead):
    assert log_in(client, EMAIL).status_code == 302
    copy_cookie(client, other_client)
    assert is_logged_in(other_client)  # the copy works while the session lives
    token = csrf_token(client.get("/console/").text)
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert not is_logged_in(client)
    assert not is_logged_in(other_client)
    (stored,) = sessions_of_lead()
    assert stored.revoked_at is not None
    assert stored.revoked_reason == "logout"


def test_the_database_keeps_only_a_hash_of_the_session_secret(client, lead):
    log_in(client, EMAIL)
    (stored,) = sessions_of_lead()
    cookie = session_cookie(client)
    with client.session_transaction() as session:
        secret = session["_user_id"]
    assert len(stored.token_hash) == 64
    assert stored.token_hash not in cookie
    assert secret not in {stored.token_hash, str(stored.id), str(lead.id)}
    assert len(secret) >= 40  # 256 random bits, URL-safe base64


def test_logging_in_twice_gives_two_sessions_and_logout_ends_only_its_own(
    client, other_client, lead
):
    log_in(client, EMAIL)
    log_in(other_client, EMAIL)
    token = csrf_token(client.get("/console/").text)
    client.post("/console/logout", data={"csrf_token": token})
    assert not is_logged_in(client)
    assert is_logged_in(other_client)


# -- lifetime ------------------------------------------------------------------------------


def test_the_login_lifetime_is_enforced_from_the_stored_session(app, client, lead):
    log_in(client, EMAIL)
    assert is_logged_in(client)
    lifetime = app.config["ELICIT_LOGIN_LIFETIME"]
    (stored,) = sessions_of_lead()
    login = stored.created_at

    def started(moment):
        db.session.execute(update(ConsoleSession).values(created_at=moment))
        db.session.commit()

    started(login - lifetime + timedelta(minutes=1))
    assert is_logged_in(client)  # a minute before the end
    started(login - lifetime - timedelta(minutes=1))
    assert not is_logged_in(client)
    # Nothing the browser holds can bring it back: the same cookie stays refused.
    started(login - lifetime - timedelta(minutes=1))
    assert not is_logged_in(client)


def test_last_seen_is_written_at_most_once_a_minute(client, lead):
    log_in(client, EMAIL)
    assert is_logged_in(client)
    (stored,) = sessions_of_lead()
    first_seen = stored.last_seen_at
    assert first_seen is not None
    assert is_logged_in(client)
    (stored,) = sessions_of_lead()
    assert stored.last_seen_at == first_seen
    earlier = first_seen - timedelta(minutes=2)
    db.session.execute(update(ConsoleSession).values(last_seen_at=earlier))
    db.session.commit()
    assert is_logged_in(client)
    (stored,) = sessions_of_lead()
    assert stored.last_seen_at > first_seen


# -- CSRF and fixation ---------------------------------------------------------------------


def test_the_csrf_token_rotates_at_login(client, lead):
    before_page = client.get("/console/login")
    before_form_token = csrf_token(before_page.text)
    with client.session_transaction() as session:
        before = session["csrf_token"]
    response = client.post(
        "/console/login",
        data={"csrf_token": before_form_token, "email": EMAIL, "password": PASSWORD},
    )
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert session.get("csrf_token") != before
    after_form_token = csrf_token(client.get("/console/").text)
    with client.session_transaction() as session:
        assert session["csrf_token"] != before
    # A form token from before the login is refused: it belonged to the old session.
    refused = client.post("/console/logout", data={"csrf_token": before_form_token})
    assert refused.status_code == 400
    assert is_logged_in(client)
    accepted = client.post("/console/logout", data={"csrf_token": after_form_token})
    assert accepted.status_code == 302


def test_a_value_planted_in_the_session_before_login_does_not_survive_it(client, lead):
    client.get("/console/login")
    with client.session_transaction() as session:
        session["language"] = "es"
        session["planted"] = "by someone else"
        session["_user_id"] = "a fixed identifier"
    assert log_in(client, EMAIL).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] != "a fixed identifier"
        # The language the login page was read in is a preference, not a credential.
        assert session["language"] == "es"


# -- changing one's password ---------------------------------------------------------------


def test_changing_the_password_ends_every_other_session(client, other_client, new_client, lead):
    log_in(client, EMAIL)
    copy_cookie(client, other_client)  # a copy taken before the change
    second = new_client()
    log_in(second, EMAIL)  # another browser of the same user
    response = change_password(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/console/password")
    assert "Your password is changed" in client.get("/console/password").text
    assert is_logged_in(client)  # re-issued: the browser that changed it goes on
    assert not is_logged_in(other_client)
    assert not is_logged_in(second)
    stored = sessions_of_lead()
    assert [row.revoked_reason for row in stored] == ["password_changed", "password_changed", None]
    assert authenticate(db.session, EMAIL, PASSWORD) is None
    assert authenticate(db.session, EMAIL, NEW_PASSWORD) is not None
    events = account_events()
    assert [event.action for event in events] == ["user.password_change"]
    assert events[0].user_email == EMAIL
    assert events[0].details == {"sessions_ended": 2}  # this browser's and the second's
    assert PASSWORD not in str(events[0].details)
    assert NEW_PASSWORD not in str(events[0].details)


def test_a_wrong_current_password_gets_a_field_message(client, other_client, lead):
    log_in(client, EMAIL)
    log_in(other_client, EMAIL)
    response = change_password(client, "not the password at all", NEW_PASSWORD)
    assert response.status_code == 422
    assert "Current password: The current password is not right." in response.text
    assert 'aria-invalid="true"' in response.text
    assert authenticate(db.session, EMAIL, PASSWORD) is not None
    assert is_logged_in(other_client)  # nothing changed, nothing ended


def test_guessing_the_current_password_is_rate_limited(client, lead):
    log_in(client, EMAIL)
    for attempt in range(5):
        assert change_password(client, f"guess number {attempt}", NEW_PASSWORD).status_code == 422
    refused = client.get("/console/password")
    assert refused.status_code == 429
    assert authenticate(db.session, EMAIL, PASSWORD) is not None


def test_only_a_wrong_current_password_counts_against_the_limit(client, lead):
    log_in(client, EMAIL)
    for _ in range(6):
        assert change_password(client, PASSWORD, "short").status_code == 422
    assert client.get("/console/password").status_code == 200


def test_a_too_short_new_password_gets_a_field_message(client, lead):
    log_in(client, EMAIL)
    short = "x" * (MIN_PASSWORD_LENGTH - 1)
    response = change_password(client, PASSWORD, short)
    assert response.status_code == 422
    assert (
        f"New password: The new password must have at least {MIN_PASSWORD_LENGTH} characters."
        in response.text
    )
    assert authenticate(db.session, EMAIL, PASSWORD) is not None


def test_a_mistyped_confirmation_gets_a_field_message(client, lead):
    log_in(client, EMAIL)
    response = change_password(client, PASSWORD, NEW_PASSWORD, confirm=NEW_PASSWORD + "!")
    assert response.status_code == 422
    assert "The two new passwords are not the same." in response.text
    assert authenticate(db.session, EMAIL, PASSWORD) is not None


def test_the_console_navigation_links_to_the_password_page(client, lead):
    log_in(client, EMAIL)
    assert 'href="/console/password"' in client.get("/console/").text


# -- administrators on the command line ----------------------------------------------------


def test_user_logout_ends_all_of_a_users_sessions(app, client, other_client, lead):
    log_in(client, EMAIL)
    log_in(other_client, EMAIL)
    result = app.test_cli_runner().invoke(args=["user", "logout", EMAIL])
    assert result.exit_code == 0, result.output
    assert f"ended 2 console session(s) of {EMAIL}" in result.output
    assert not is_logged_in(client)
    assert not is_logged_in(other_client)
    assert {row.revoked_reason for row in sessions_of_lead()} == {"revoked"}
    assert log_in(client, EMAIL).status_code == 302  # the account itself still works


def test_user_deactivate_ends_sessions_and_refuses_logins_and_api_tokens(
    app, client, other_client, lead
):
    secret = create_token(db.session, lead, "notebook").secret
    bearer = {"Authorization": f"Bearer {secret}"}
    log_in(client, EMAIL)
    assert other_client.get("/api/v1/me", headers=bearer).status_code == 200
    runner = app.test_cli_runner()
    result = runner.invoke(args=["user", "deactivate", EMAIL])
    assert result.exit_code == 0, result.output
    assert f"deactivated {EMAIL}; ended 1 console session(s)" in result.output
    assert not is_logged_in(client)
    assert log_in(client, EMAIL).status_code == 401
    assert other_client.get("/api/v1/me", headers=bearer).status_code == 401
    assert {row.revoked_reason for row in sessions_of_lead()} == {"deactivated"}
    result = runner.invoke(args=["user", "activate", EMAIL])
    assert result.exit_code == 0, result.output
    assert f"activated {EMAIL}" in result.output
    assert log_in(client, EMAIL).status_code == 302
    # A deactivation suspends the user's API tokens; it does not revoke them.
    assert other_client.get("/api/v1/me", headers=bearer).status_code == 200
    assert [event.action for event in account_events()] == ["user.deactivate", "user.activate"]


def test_user_password_sets_a_new_password_and_ends_sessions(app, client, lead):
    log_in(client, EMAIL)
    runner = app.test_cli_runner()
    short = runner.invoke(args=["user", "password", EMAIL], input="short\n")
    assert short.exit_code == 1
    assert f"at least {MIN_PASSWORD_LENGTH} characters" in short.output
    assert is_logged_in(client)
    result = runner.invoke(args=["user", "password", EMAIL], input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert f"set a new password for {EMAIL}; ended 1 console session(s)" in result.output
    assert NEW_PASSWORD not in result.output
    assert not is_logged_in(client)
    assert log_in(client, EMAIL).status_code == 401
    assert log_in(client, EMAIL, NEW_PASSWORD).status_code == 302
    events = account_events()
    assert [event.action for event in events] == ["user.password_set"]
    assert events[0].details == {"account": EMAIL, "sessions_ended": 1}


@pytest.mark.parametrize("command", ["password", "deactivate", "activate", "logout"])
def test_user_commands_refuse_an_unknown_email(app, lead, command):
    result = app.test_cli_runner().invoke(
        args=["user", command, "nobody@example.org"], input=NEW_PASSWORD + "\n"
    )
    assert result.exit_code == 1
    assert "no user has the email nobody@example.org" in result.output
