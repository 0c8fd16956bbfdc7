"""One personal link per panelist for the whole study (issue 14, point 1).

The link shown when a panelist is added is the one every invitation, reminder and later
round carries; it changes only when a facilitator reissues it, which ends the old link
and its session without losing what the expert typed.  The database holds the link
only hashed and sealed: a copy of it opens nobody's page.  The sealing keys rotate
without a moment in which a link cannot be sent, and a key that changed by mistake
gives the facilitator a clear message, never a 500.

Mail goes through a real SMTP exchange with the small server of
``tests/surveys/test_messaging.py``, on the test database (SQLite, or PostgreSQL when
``ELICIT_TEST_DATABASE_URL`` names one).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from elicit import create_app
from elicit.extensions import db
from surveys.delivery import UNREADABLE_LINK_ERROR
from surveys.links import LinkKeys, derived_key, new_key
from surveys.models import Base, OutboxMessage, Panelist
from surveys.panel import NewPanelist, add_panelists, panelist_for_token
from surveys.rounds import close_round, open_round
from tests.conftest import BASE_URL, csrf_token, enter, log_in
from tests.elicit.test_expert_keeps_what_was_typed import (
    _answer_page_token,
    _assert_page_keeps_typed,
    _post_after_session_end,
)
from tests.surveys.test_messaging import SmtpServer, smtp_server  # noqa: F401 - a fixture

SLUG = "us-mexico-intelligence"
STUDY = f"/console/studies/{SLUG}"
PANEL = f"{STUDY}/panel"
OUTBOX = f"{STUDY}/outbox"
TOKEN = re.compile(r"/e/([A-Za-z0-9_-]{20,})")
SECRET = "test-secret-key-not-for-production"  # the conftest apps' secret key


@pytest.fixture
def study(make_study, make_user):
    """The demo study with a facilitator member."""
    created = make_study()
    make_user("lead@example.org", studies=[created])
    return created


@pytest.fixture
def console(database_url: str) -> Iterator[Callable[..., FlaskClient]]:
    """A logged-in facilitator's client of an app configured with ``config`` on top of
    the test settings (as a server restarted with other settings would be)."""
    apps: list[Flask] = []

    def make(**config) -> FlaskClient:
        served = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": database_url,
                "SECRET_KEY": SECRET,
                "ELICIT_BASE_URL": BASE_URL,
                **config,
            }
        )
        apps.append(served)
        client = served.test_client()
        log_in(client, "lead@example.org")
        return client

    yield make
    for served in apps:
        with served.app_context():
            db.session.remove()
            db.engine.dispose()


def run_command(client: FlaskClient, arguments: list[str]):
    """Run an ``elicit`` command with the settings of ``client``'s app (its context
    pushed over the test's own, which the command would otherwise use)."""
    with client.application.app_context():
        return client.application.test_cli_runner().invoke(args=arguments)


def mailing(smtp: SmtpServer) -> dict[str, str]:
    """Settings that mail through the test SMTP server."""
    return {
        "ELICIT_SMTP_URL": f"smtp://127.0.0.1:{smtp.server_address[1]}",
        "ELICIT_MAIL_FROM": "delphi@x.org",
    }


def post(client: FlaskClient, url: str, data=None, *, page: str = PANEL, **options):
    """POST with the CSRF token of ``page``."""
    token = csrf_token(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **(data or {})}, **options)


def all_mailed_tokens(smtp: SmtpServer) -> list[str]:
    """The token of the link in every message mailed."""
    return [TOKEN.search(email.get_content()).group(1) for _, email in smtp.received]  # type: ignore[union-attr]


def mailed_tokens(smtp: SmtpServer, start: int = 0) -> dict[str, str]:
    """Recipient → the token of the link in the message mailed to them (from the
    ``start``-th message received on)."""
    return {
        to[0]: TOKEN.search(email.get_content()).group(1)  # type: ignore[union-attr]
        for to, email in smtp.received[start:]
    }


def import_panel(client: FlaskClient, rows: list[tuple[str, str]]) -> dict[str, str]:
    """Import ``(name, email)`` rows from a CSV file through the console; email → the
    token of the link the answering page shows."""
    csv = "name,email,group,language\n" + "".join(f"{n},{e},a,en\n" for n, e in rows)
    shown = post(
        client,
        f"{PANEL}/import",
        {"file": (io.BytesIO(csv.encode()), "panel.csv")},
        content_type="multipart/form-data",
    )
    assert shown.status_code == 200, shown.text
    tokens = TOKEN.findall(shown.text)
    assert len(tokens) == len(rows)
    return {email: token for (_, email), token in zip(rows, tokens, strict=True)}


PEOPLE = [("Ana Ruiz", "ana@example.org"), ("Bob Stone", "bob@example.org")]


# -- the link survives ---------------------------------------------------------------


def test_the_import_link_opens_after_the_invitation_a_reminder_and_in_round_two(
    client,
    study,
    console,
    smtp_server,  # noqa: F811
):
    facilitator = console(**mailing(smtp_server))
    imported = import_panel(facilitator, PEOPLE)
    open_round(db.session, study)
    assert post(facilitator, f"{STUDY}/invitations").status_code == 303
    assert mailed_tokens(smtp_server) == imported
    enter(client, imported["ana@example.org"])  # Ana opens the round with it
    assert client.get("/e/").status_code == 200
    assert post(facilitator, f"{STUDY}/reminders").status_code == 303
    assert mailed_tokens(smtp_server, 2) == imported  # both: neither has submitted
    close_round(db.session, study)
    open_round(db.session, study)
    assert post(facilitator, f"{STUDY}/invitations").status_code == 303
    assert len(smtp_server.received) == 6
    assert mailed_tokens(smtp_server, 4) == imported
    for token in imported.values():
        enter(client, token)
        page = client.get("/e/")
        assert page.status_code == 200 and "Round 2 of at most" in page.text


def test_a_link_reissued_on_purpose_ends_the_old_link_and_its_session_keeping_the_typing(
    client,
    study,
    console,
    smtp_server,  # noqa: F811
):
    facilitator = console(**mailing(smtp_server))
    imported = import_panel(facilitator, PEOPLE)
    open_round(db.session, study)
    post(facilitator, f"{STUDY}/invitations")
    old = imported["ana@example.org"]
    enter(client, old)
    typing = _answer_page_token(client)
    ana = panelist_for_token(db.session, old)
    reissued = post(facilitator, f"{PANEL}/{ana.id}/reissue")
    assert reissued.status_code == 200
    (new,) = TOKEN.findall(reissued.text)
    # The expert's open page: their next post is answered with what they typed.
    ended = _post_after_session_end(client, typing)
    assert ended.status_code == 404
    assert "replaced by a newer one" in ended.text
    _assert_page_keeps_typed(ended.text)
    assert client.get(f"/e/{old}").status_code == 404
    # From now on every message carries the new link; Bob's stays his.
    assert post(facilitator, f"{STUDY}/reminders").status_code == 303
    assert mailed_tokens(smtp_server, 2) == {
        "ana@example.org": new,
        "bob@example.org": imported["bob@example.org"],
    }
    assert panelist_for_token(db.session, new).id == ana.id


def text_values(table_names: tuple[str, ...] | None = None) -> list[str]:
    """Every text value in every row of the database's tables (``table_names`` only,
    if given), read with plain SQL."""
    values = []
    for table in Base.metadata.sorted_tables:
        if table_names and table.name not in table_names:
            continue
        for row in db.session.execute(text(f'SELECT * FROM "{table.name}"')):
            values.extend(str(value) for value in row if value is not None)
    return values


@pytest.mark.parametrize("with_smtp", [True, False], ids=["smtp", "outbox"])
def test_the_database_holds_no_token_after_adding_inviting_reminding_and_sending(
    client,
    study,
    console,
    smtp_server,  # noqa: F811
    with_smtp,
):
    facilitator = console(**(mailing(smtp_server) if with_smtp else {}))
    imported = import_panel(facilitator, PEOPLE)
    open_round(db.session, study)
    post(facilitator, f"{STUDY}/invitations")
    post(facilitator, f"{STUDY}/reminders")
    post(facilitator, f"{OUTBOX}/send", page=OUTBOX)
    ana = panelist_for_token(db.session, imported["ana@example.org"])
    (reissued,) = TOKEN.findall(post(facilitator, f"{PANEL}/{ana.id}/reissue").text)
    post(facilitator, f"{STUDY}/invitations")  # nothing new: each is invited already
    db.session.expire_all()
    assert all(panelist.token_sealed for panelist in db.session.query(Panelist))
    assert db.session.query(OutboxMessage).count() == 4
    if with_smtp:
        assert sorted(all_mailed_tokens(smtp_server)) == sorted([*imported.values()] * 2)
    else:  # the console shows them, with their links, to send by hand
        page = facilitator.get(OUTBOX).text
        assert imported["bob@example.org"] in page and reissued in page
    issued = [*imported.values(), reissued]
    rows = text_values()
    panel_and_outbox = text_values(("panelist", "outbox_message"))
    assert sum("/e/[personal link]" in value for value in panel_and_outbox) == 4
    for token in issued:
        assert not any(token in value for value in rows), token


# -- keys: rotation and a wrong key --------------------------------------------------


def test_rotating_the_link_key_keeps_every_link_working(
    app,
    client,
    study,
    console,
    smtp_server,  # noqa: F811
):
    """Sealed with key A; then B is the new key, A kept as old: links still go out; the
    reseal command seals them all with B; A is dropped: links still go out."""
    key_a, key_b = new_key(), new_key()
    issued = add_panelists(
        db.session,
        study,
        [NewPanelist(name, email, "a", "en") for name, email in PEOPLE],
        keys=LinkKeys([key_a]),
    )
    tokens = {email: link.token for (_, email), link in zip(PEOPLE, issued, strict=True)}
    open_round(db.session, study)

    both = console(**mailing(smtp_server), ELICIT_LINK_KEYS=f"{key_b}, {key_a}")  # spaces too
    assert post(both, f"{STUDY}/invitations").status_code == 303
    assert mailed_tokens(smtp_server) == tokens
    resealed = run_command(both, ["links", "reseal"])
    assert resealed.exit_code == 0, resealed.output
    assert "re-sealed 2 personal link(s)" in resealed.output
    db.session.expire_all()
    for panelist in db.session.query(Panelist):
        assert LinkKeys([key_a]).unseal(panelist.token_sealed) is None  # A opens none
        assert LinkKeys([key_b]).unseal(panelist.token_sealed) is not None

    only_b = console(**mailing(smtp_server), ELICIT_LINK_KEYS=key_b)
    assert post(only_b, f"{STUDY}/reminders").status_code == 303
    assert mailed_tokens(smtp_server, 2) == tokens
    for token in tokens.values():
        enter(client, token)
        assert client.get("/e/").status_code == 200


def test_the_reseal_command_says_which_links_no_key_opens_and_fails(app, study, console):
    add_panelists(
        db.session, study, [NewPanelist("Ana", "ana@x.org", "", "en")], keys=LinkKeys([new_key()])
    )
    other = console(ELICIT_LINK_KEYS=new_key())
    result = run_command(other, ["links", "reseal"])
    assert result.exit_code == 1
    assert "re-sealed 0 personal link(s)" in result.output
    assert "1 personal link(s) cannot be read with any configured key" in result.output


def test_the_key_commands_print_usable_keys(app):
    runner = app.test_cli_runner()
    fresh = runner.invoke(args=["links", "new-key"])
    assert fresh.exit_code == 0
    LinkKeys([fresh.output.strip()])  # a Fernet key
    derived = runner.invoke(args=["links", "derived-key"])
    assert derived.exit_code == 0
    assert derived.output.strip() == derived_key(SECRET)
    # What the derived key seals, the app's own keys open, and no other secret's.
    sealed = LinkKeys([derived.output.strip()]).seal("a-token")
    assert LinkKeys.derived_from(SECRET).unseal(sealed) == "a-token"
    assert LinkKeys.derived_from(SECRET + "x").unseal(sealed) is None


def test_a_malformed_key_list_stops_the_start_naming_the_variable_not_the_key(database_url):
    secret_looking = "not-a-fernet-key-but-secret"
    with pytest.raises(ValueError, match="ELICIT_LINK_KEYS: key 2 is not a Fernet key") as caught:
        create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_url,
                "SECRET_KEY": SECRET,
                "ELICIT_LINK_KEYS": f"{new_key()},{secret_looking}",
            }
        )
    assert secret_looking not in str(caught.value)


def test_a_changed_secret_key_gives_the_facilitator_a_clear_message_not_a_500(
    study,
    console,
    smtp_server,  # noqa: F811
    caplog,
):
    """The server restarted with another ELICIT_SECRET_KEY (and no ELICIT_LINK_KEYS):
    the stored links cannot be read.  Nothing crashes, nobody is mailed a message without
    a working link, the facilitator is told what to do, the log names no token; back
    with the right key, the waiting messages go out; a new link works under any key."""
    facilitator = console(**mailing(smtp_server))
    imported = import_panel(facilitator, PEOPLE)
    open_round(db.session, study)
    caplog.set_level(logging.WARNING)

    changed = console(SECRET_KEY="another secret key, set by mistake")
    outbox = changed.get(OUTBOX)  # no SMTP: the messages would be shown here
    assert outbox.status_code == 200
    sent = post(changed, f"{STUDY}/invitations", follow_redirects=True)
    assert sent.status_code == 200
    page = changed.get(OUTBOX).text
    assert 'id="unreadable-links"' in page
    assert "2 messages cannot be sent: their personal links cannot be read" in page
    assert "Restore the previous key" in page
    assert not TOKEN.search(page)

    changed_mailing = console(
        SECRET_KEY="another secret key, set by mistake", **mailing(smtp_server)
    )
    flashed = post(changed_mailing, f"{OUTBOX}/send", page=OUTBOX, follow_redirects=True)
    assert flashed.status_code == 200
    assert "2 messages cannot be sent: their personal links cannot be read" in flashed.text
    assert "failed: " + UNREADABLE_LINK_ERROR in flashed.text  # on each row
    assert smtp_server.received == []
    db.session.expire_all()
    assert all(
        (message.error or "").startswith(UNREADABLE_LINK_ERROR)
        for message in db.session.query(OutboxMessage)
    )
    assert "cannot be read with the configured link keys" in caplog.text
    for token in imported.values():
        assert token not in caplog.text

    # One panelist is given a new link under the changed key: their message goes out.
    ana = panelist_for_token(db.session, imported["ana@example.org"])
    reissued = post(changed_mailing, f"{PANEL}/{ana.id}/reissue")
    (new,) = TOKEN.findall(reissued.text)
    again = post(changed_mailing, f"{OUTBOX}/send", page=OUTBOX, follow_redirects=True)
    assert "1 message cannot be sent" in again.text
    assert mailed_tokens(smtp_server) == {"ana@example.org": new}
    # The right key back: the other waiting message goes out with its own link.
    restored = console(**mailing(smtp_server))
    post(restored, f"{OUTBOX}/send", page=OUTBOX)
    assert mailed_tokens(smtp_server, 1) == {"bob@example.org": imported["bob@example.org"]}
