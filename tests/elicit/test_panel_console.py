"""The console's panel, invitation, reminder and outbox pages, at both anonymity levels."""

from __future__ import annotations

import io
import re

import pytest

from elicit import create_app
from elicit.extensions import db
from elicit.facilitate.panel import smtp_settings
from surveys.delivery import SmtpSettings
from surveys.models import OutboxMessage, Panelist
from surveys.panel import panelist_for_token
from surveys.rounds import close_round, open_round
from tests.conftest import csrf_token, enter, log_in
from tests.surveys.test_messaging import SmtpServer, smtp_server  # noqa: F401 - a fixture

SLUG = "us-mexico-intelligence"
PANEL = f"/console/studies/{SLUG}/panel"
OUTBOX = f"/console/studies/{SLUG}/outbox"
MAIL_MERGE = f"{OUTBOX}/mail-merge.csv"
TOKEN = re.compile(r"/e/([A-Za-z0-9_-]{20,})")
ANSWER = "Watch the customs brokers in Laredo"  # an open-text answer, to find on pages


@pytest.fixture
def study(make_study, make_user):
    """The demo study with a facilitator member."""
    created = make_study()
    make_user("lead@example.org", studies=[created])
    return created


def names_and_emails(study) -> list[str]:
    """Every roster name and email of the study."""
    panelists = db.session.execute(db.select(Panelist).where(Panelist.study_id == study.id))
    return [
        value
        for panelist in panelists.scalars()
        for value in (panelist.roster.name, panelist.roster.email)
    ]


def pseudonyms(study) -> list[str]:
    """Every pseudonym of the study."""
    return list(
        db.session.execute(
            db.select(Panelist.pseudonym).where(Panelist.study_id == study.id)
        ).scalars()
    )


def post(client, url, data=None, *, page=PANEL, **kwargs):
    """POST with the CSRF token of ``page``."""
    token = csrf_token(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **(data or {})}, **kwargs)


# -- smtp settings -------------------------------------------------------------------


def test_smtp_url_is_parsed_into_settings():
    assert smtp_settings({}) is None
    settings = smtp_settings(
        {"ELICIT_SMTP_URL": "smtp://mailer%40x.org:p%40ss@mail.x.org:587?starttls=1"}
    )
    assert settings == SmtpSettings(
        host="mail.x.org",
        port=587,
        sender="mailer@x.org",
        username="mailer@x.org",
        password="p@ss",
        starttls=True,
    )
    plain = smtp_settings({"ELICIT_SMTP_URL": "smtp://localhost", "ELICIT_MAIL_FROM": "d@x.org"})
    assert plain == SmtpSettings(host="localhost", port=25, sender="d@x.org")
    with pytest.raises(ValueError, match="ELICIT_SMTP_URL"):
        smtp_settings({"ELICIT_SMTP_URL": "http://mail.x.org"})


# -- the panel page ------------------------------------------------------------------


def test_one_panelist_is_added_with_errors_per_field_and_nothing_typed_lost(client, study):
    log_in(client, "lead@example.org")
    refused = post(
        client,
        f"{PANEL}/add",
        {"name": "Ana Typed", "email": "ana-at-x.org", "group": "bad group", "language": "es"},
    )
    assert refused.status_code == 422
    assert "is not an email address" in refused.text
    assert "may hold only letters, digits" in refused.text
    assert 'value="Ana Typed"' in refused.text and 'value="ana-at-x.org"' in refused.text
    assert pseudonyms(study) == []
    added = post(
        client,
        f"{PANEL}/add",
        {"name": "Ana Typed", "email": "ana@x.org", "group": "academic", "language": "es"},
    )
    assert added.status_code == 200
    (token,) = TOKEN.findall(added.text)
    panelist = panelist_for_token(db.session, token)
    assert (panelist.roster.name, panelist.group, panelist.language) == (
        "Ana Typed",
        "academic",
        "es",
    )
    assert "keeps this link for the whole study" in added.text
    again = client.get(PANEL)
    assert token not in again.text  # the panel page lists no link
    # Names are shown to a standard study's facilitator; pseudonyms never beside them.
    assert "Ana Typed" in again.text and panelist.pseudonym not in again.text
    duplicate = post(
        client, f"{PANEL}/add", {"name": "Ana", "email": "ANA@x.org", "group": "", "language": "en"}
    )
    assert duplicate.status_code == 422
    assert "is already on the panel" in duplicate.text


def test_a_panel_file_with_bad_rows_adds_nobody_and_names_each_line(client, study):
    log_in(client, "lead@example.org")
    bad = "name,email,group,language\nAna,ana@x.org,a,en\n,bob@x.org,a,en\nCy,cy@x.org,a,fr\n"
    refused = post(
        client,
        f"{PANEL}/import",
        {"file": (io.BytesIO(bad.encode()), "panel.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "line 3: name: is empty" in refused.text
    assert "line 4: language: &#39;fr&#39; is not one of en, es" in refused.text
    assert "Nobody was added" in refused.text
    assert pseudonyms(study) == []
    good = "name,email,group,language\nAna,ana@x.org,a,en\nBob,bob@x.org,b,es\n"
    imported = post(
        client,
        f"{PANEL}/import",
        {"file": (io.BytesIO(good.encode()), "panel.csv")},
        content_type="multipart/form-data",
    )
    assert imported.status_code == 200
    tokens = TOKEN.findall(imported.text)
    assert len(tokens) == 2
    page = client.get(PANEL).text
    assert not any(token in page for token in tokens)


def test_revoke_and_reissue_a_link(client, study, make_panel):
    (link,) = make_panel(study, 1)
    pseudonym = link.pseudonym
    panelist_id = panelist_for_token(db.session, link.token).id
    log_in(client, "lead@example.org")
    page = client.get(PANEL).text
    assert f"{PANEL}/{panelist_id}/revoke" in page and pseudonym not in page
    revoked = post(client, f"{PANEL}/{panelist_id}/revoke")
    assert revoked.status_code == 303
    assert "withdrawn" in client.get(PANEL).text
    reissued = post(client, f"{PANEL}/{panelist_id}/reissue")
    assert reissued.status_code == 200
    assert "Expert Number0" in reissued.text and pseudonym not in reissued.text
    (token,) = TOKEN.findall(reissued.text)
    assert panelist_for_token(db.session, token).pseudonym == pseudonym
    assert token not in client.get(PANEL).text
    assert post(client, f"{PANEL}/999999/revoke").status_code == 404
    assert post(client, f"{PANEL}/{pseudonym}/revoke").status_code == 404


def test_per_round_status_on_the_panel_page(client, study, make_panel, post_answers):
    links = make_panel(study, 3)
    open_round(db.session, study)
    log_in(client, "lead@example.org")
    post(client, f"/console/studies/{SLUG}/invitations")
    # The invitations carry the links given when the panelists were added.
    first, second, third = (link.token for link in links)
    post_answers(first, {"trust_now": "3"})
    post_answers(second, {"trust_now": "2"}, action="save")
    log_in(client, "lead@example.org")
    page = client.get(PANEL).text
    names = [f"Expert Number{index}</a></th>" for index in range(3)]  # make_panel's names
    rows = [page.split(name, 1)[1].split("</tr>", 1)[0] for name in names]
    assert ">submitted<" in rows[0]
    assert ">draft<" in rows[1]
    assert ">invited<" in rows[2]
    enter(client, third)
    client.get("/e/")  # showing the page counts as opening the round
    log_in(client, "lead@example.org")
    page = client.get(PANEL).text
    assert ">opened<" in page.split(names[2], 1)[1].split("</tr>", 1)[0]


# -- invitations, reminders, outbox --------------------------------------------------


def test_invitations_go_to_the_outbox_once_and_reminders_only_to_non_submitters(
    client, study, make_panel, post_answers
):
    links = make_panel(study, 3)
    open_round(db.session, study)
    log_in(client, "lead@example.org")
    sent = post(client, f"/console/studies/{SLUG}/invitations")
    assert sent.status_code == 303 and sent.location.endswith("/outbox")
    post(client, f"/console/studies/{SLUG}/invitations")
    db.session.expire_all()
    invitations = (
        db.session.execute(db.select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
    )
    assert len(invitations) == 3
    outbox = client.get(OUTBOX).text
    for message, link in zip(invitations, links, strict=True):
        assert message.recipient in outbox
        assert not TOKEN.search(message.body)  # the stored text holds no link
        assert f"/e/{link.token}" in outbox  # the outbox is the channel: shown with it
    for pseudonym in pseudonyms(study):
        assert pseudonym not in outbox
    post_answers(links[0].token, {"trust_now": "3"})
    log_in(client, "lead@example.org")
    post(client, f"/console/studies/{SLUG}/reminders")
    post(client, f"/console/studies/{SLUG}/reminders")
    db.session.expire_all()
    reminders = (
        db.session.execute(db.select(OutboxMessage).where(OutboxMessage.kind == "reminder"))
        .scalars()
        .all()
    )
    assert sorted(m.panelist_id for m in reminders) == sorted(
        m.panelist_id for m in invitations[1:]
    )


def test_a_panel_page_kept_while_its_round_closed_queues_nothing_for_the_next(
    client, study, make_panel
):
    """The panel page of round 1, kept while a colleague closed round 1 and opened round
    2, neither invites nor reminds anyone: its forms name round 1."""
    make_panel(study, 3)
    open_round(db.session, study)
    log_in(client, "lead@example.org")
    kept = client.get(PANEL).text
    forms = re.findall(r'<input type="hidden" name="round" value="(\d+)">', kept)
    assert forms == ["1", "1"]  # the invitations' form and the reminders'
    close_round(db.session, study)
    open_round(db.session, study)
    for action in ("invitations", "reminders"):
        answer = client.post(
            f"/console/studies/{SLUG}/{action}",
            data={"csrf_token": csrf_token(kept), "round": "1"},
        )
        assert answer.status_code == 303 and answer.location.endswith("/panel")
        assert (
            '<p class="warning" role="status">Nothing was queued: round 1 was closed '
            "meanwhile, and round 2 is open now.</p>" in client.get(PANEL).text
        )
    assert db.session.execute(db.select(db.func.count(OutboxMessage.id))).scalar_one() == 0
    sent = client.post(
        f"/console/studies/{SLUG}/invitations", data={"csrf_token": csrf_token(kept), "round": "2"}
    )
    assert sent.status_code == 303 and sent.location.endswith("/outbox")
    assert db.session.execute(db.select(db.func.count(OutboxMessage.id))).scalar_one() == 3


@pytest.fixture
def mailing_client(database_url, smtp_server):  # noqa: F811
    """A console client, logged in as the facilitator, of an app that mails through the
    test SMTP server; call it with extra configuration."""
    apps = []

    def make(**config):
        served = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": database_url,
                "SECRET_KEY": "test-secret-key-not-for-production",
                "ELICIT_BASE_URL": "http://elicit.test",
                "ELICIT_SMTP_URL": f"smtp://127.0.0.1:{smtp_server.server_address[1]}",
                "ELICIT_MAIL_FROM": "delphi@x.org",
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


def test_with_smtp_configured_invitations_are_mailed_once(
    study,
    make_panel,
    mailing_client,
    smtp_server,  # noqa: F811
):
    links = make_panel(study, 2)
    open_round(db.session, study)
    client = mailing_client()
    for _ in range(2):
        assert post(client, f"/console/studies/{SLUG}/invitations").status_code == 303
    assert len(smtp_server.received) == 2
    # Each panelist is mailed the link given when they were added.
    assert sorted(
        TOKEN.search(email.get_content()).group(1) for _, email in smtp_server.received
    ) == sorted(link.token for link in links)
    outbox = client.get(OUTBOX).text
    assert not TOKEN.search(outbox)
    db.session.expire_all()
    assert all(not TOKEN.search(m.body) for m in db.session.query(OutboxMessage))


def test_a_title_with_a_line_break_no_longer_stops_the_invitations(
    study,
    make_panel,
    mailing_client,
    smtp_server,  # noqa: F811
):
    """A study loaded before titles were checked, whose title holds a line break: every
    invitation is mailed with a one-line subject, none is left "in delivery", and a
    recipient that is not one address is shown in the outbox with its reason."""
    study.title = {"en": "Trust\r\nBcc: victim@evil.example", "es": "Confianza\u2028rota"}
    make_panel(study, 3)
    db.session.commit()
    broken = db.session.execute(db.select(Panelist).order_by(Panelist.id)).scalars().first()
    broken.roster.email = "ana,bcc@evil.example"
    db.session.commit()
    open_round(db.session, study)
    client = mailing_client()
    sent = post(client, f"/console/studies/{SLUG}/invitations", follow_redirects=True)
    assert sent.status_code == 200
    assert "3 new message(s) queued for round 1." in sent.text
    assert "They are being sent; the outbox shows where each one stands." in sent.text
    subjects = sorted(email["Subject"] for _, email in smtp_server.received)
    assert subjects == [
        "La ronda 1 de «Confianza rota» está abierta",
        "Round 1 of “Trust Bcc: victim@evil.example” is open",
    ]
    assert not any(email["Bcc"] for _, email in smtp_server.received)
    assert "bcc@evil.example" not in smtp_server.recipients()
    db.session.expire_all()
    (failed,) = db.session.execute(
        db.select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
    ).scalars()
    assert failed.error == "ValueError: the recipient is not one email address"
    assert "failed: ValueError: the recipient is not one email address" in client.get(OUTBOX).text


def test_a_bounced_message_is_sent_again_when_the_facilitator_asks(
    study,
    make_panel,
    mailing_client,
    smtp_server,  # noqa: F811
):
    """The server refuses a recipient at send time: the outbox says so with the server's
    reason; once put right, "Send unsent messages" sends that one, and nobody twice."""
    make_panel(study, 3)
    open_round(db.session, study)
    refused = db.session.execute(db.select(Panelist).order_by(Panelist.id)).scalars().first()
    smtp_server.refused.add(refused.roster.email)
    client = mailing_client()
    post(client, f"/console/studies/{SLUG}/invitations")
    assert len(smtp_server.received) == 2
    page = client.get(OUTBOX).text
    assert "failed: the server refused the recipient: 550 no such user" in page
    assert re.search(r"invitation</td><td>failed</td><td>1<", page)
    # Its history says when and why, attempt by attempt.
    assert (
        "refused by the mail server (bounced) (attempt 1): the server refused the "
        "recipient: 550 no such user"
    ) in page
    smtp_server.refused.clear()
    again = post(client, f"{OUTBOX}/send", page=OUTBOX, follow_redirects=True)
    assert "1 unsent message is being sent again." in again.text
    assert re.search(r"invitation</td><td>sent</td><td>3<", again.text)
    assert len(smtp_server.received) == 3
    assert len(set(smtp_server.recipients())) == 3  # nobody twice


# -- anonymity -----------------------------------------------------------------------


def console_pages(app, study) -> list[str]:
    """The URL of every console GET page of ``study`` (from the URL map)."""
    from flask import url_for

    values = {
        "slug": study.slug,
        "pseudonym": pseudonyms(study)[0],
        "key": "missing_factors",
        "fmt": "json",
    }
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("facilitate.") or "GET" not in rule.methods:
                continue
            if not set(rule.arguments) <= set(values):
                continue
            urls.append(url_for(rule.endpoint, **{name: values[name] for name in rule.arguments}))
    return urls


@pytest.fixture
def study_with_answers(study, make_panel, post_answers):
    """Round 1 closed, round 2 open with invitations in the outbox, answers and drafts."""
    links = make_panel(study, 4)
    open_round(db.session, study)
    for link in links[:3]:
        post_answers(link.token, {"trust_now": "3", "missing_factors": ANSWER})
    close_round(db.session, study)
    open_round(db.session, study)
    return links


def test_a_blind_study_shows_no_name_or_email_on_any_console_page(
    app, client, study, study_with_answers
):
    """Every console GET page, and every page a panel action answers with, is searched
    for every roster name and email: none appears anywhere."""
    study.anonymity = "blind"
    db.session.commit()
    log_in(client, "lead@example.org")
    answered = [
        post(client, f"{PANEL}/add", {"name": "Zed New", "email": "zed@x.org", "language": "en"}),
        post(client, f"/console/studies/{SLUG}/invitations", follow_redirects=True),
        post(client, f"/console/studies/{SLUG}/reminders", follow_redirects=True),
        post(
            client,
            f"{PANEL}/person",
            {"email": "zed@x.org", "action": "reissue"},
            follow_redirects=True,
        ),
        post(
            client,
            f"{PANEL}/person",
            {"email": "expert.number0@example.org", "action": "revoke"},
            follow_redirects=True,
        ),
    ]
    assert "has a new link" in answered[3].text and "is withdrawn" in answered[4].text
    assert all(response.status_code == 200 for response in answered)
    assert db.session.query(OutboxMessage).count() > 0
    pages = [client.get(url) for url in console_pages(app, study)]
    assert len(pages) >= 5
    hidden = names_and_emails(study)
    for response in pages + answered:
        # The mail-merge file is refused: a blind study's console shows no link.
        refused = response.request.path == MAIL_MERGE
        assert response.status_code == (403 if refused else 200), response.request.path
        for value in hidden:
            assert value not in response.text, (value, response.request.path)
        assert not TOKEN.search(response.text), response.request.path  # no link shown
        # No list of pseudonyms either: compared before and after an addition, it
        # would name the newcomer's.  (Exports hold answers, by pseudonym: that they
        # never reveal a newcomer is tested in tests/elicit/test_blind_anonymity.py.)
        if "/export/" not in response.request.path:
            for pseudonym in pseudonyms(study):
                assert pseudonym not in response.text, response.request.path


def test_a_standard_study_shows_names_only_on_the_panel_page_apart_from_answers(
    app, client, study, study_with_answers
):
    """Names and emails appear on the panel page (beside statuses, with no pseudonym
    and no answer there) and, as recipients, in the outbox (with no pseudonym there);
    on every other console page, including those showing answers, none appears."""
    log_in(client, "lead@example.org")
    post(client, f"/console/studies/{SLUG}/invitations")
    hidden = names_and_emails(study)
    shown_answers = 0
    for url in console_pages(app, study):
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.text
        if url == PANEL:
            assert all(value in text for value in hidden)
            assert ANSWER not in text
            assert not any(pseudonym in text for pseudonym in pseudonyms(study))
        elif url == MAIL_MERGE:  # names, emails and links, for one's own mail client
            assert all(value in text for value in hidden)
            assert not any(pseudonym in text for pseudonym in pseudonyms(study))
            assert ANSWER not in text
        elif url == OUTBOX:
            assert all(email in text for email in hidden[1::2])
            assert not any(pseudonym in text for pseudonym in pseudonyms(study))
            assert ANSWER not in text
        else:
            assert not any(value in text for value in hidden), url
            shown_answers += ANSWER in text
    assert shown_answers >= 1  # the answer is shown somewhere, never beside a name


def test_researchers_see_no_names_or_emails_even_in_a_standard_study(
    client, study, make_panel, make_user
):
    make_panel(study, 2)
    open_round(db.session, study)
    make_user("analyst@example.org", role="researcher", studies=[study])
    log_in(client, "lead@example.org")
    post(client, f"/console/studies/{SLUG}/invitations")
    log_in(client, "analyst@example.org")
    hidden = names_and_emails(study)
    for url in (PANEL, OUTBOX):
        text = client.get(url).text
        assert not any(value in text for value in hidden), url
        assert not TOKEN.search(text)
    assert pseudonyms(study)[0] in client.get(PANEL).text


def test_the_study_page_leads_to_the_panel_and_the_outbox(client, study):
    log_in(client, "lead@example.org")
    page = client.get(f"/console/studies/{SLUG}").text
    assert f'href="{PANEL}"' in page and f'href="{OUTBOX}"' in page
