"""Invitations and reminders: idempotent queueing, targeting, languages, what SMTP
delivery sends, the one personal link every message carries, and the panel's per-round
status.

Delivery is tested against a real SMTP exchange with a small server written here (a
socket server speaking just enough SMTP), on the real test database: no mocks.  Its
retries, failures and history: tests/surveys/test_delivery.py.
"""

from __future__ import annotations

import re
import socketserver
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy

import pytest

from elicit.extensions import current_link_keys, db
from surveys.answers import submit_responses
from surveys.delivery import CLAIM_PREFIX, SmtpSettings, deliver, hand_over
from surveys.drafts import save_draft
from surveys.errors import NotFound
from surveys.messaging import (
    LINK_PLACEHOLDER,
    queue_invitations,
    queue_reminders,
    readable_bodies,
    resend_invitation,
    unsent_messages,
)
from surveys.models import AuditEvent, OutboxMessage, Panelist, utcnow
from surveys.panel import (
    InvalidPanel,
    NewPanelist,
    add_panelist,
    note_visit,
    panel_status,
    panelist_for_token,
)
from surveys.rounds import close_round, open_round

BASE_URL = "http://elicit.test"
LINK = re.compile(r"http://elicit\.test/e/([A-Za-z0-9_-]+)")


class SmtpHandler(socketserver.StreamRequestHandler):
    """One SMTP session: EHLO, MAIL, RCPT, DATA, RSET, QUIT."""

    def reply(self, line: str) -> None:
        """Send one reply line."""
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        """Answer commands until QUIT; keep each accepted message on the server."""
        server: SmtpServer = self.server  # type: ignore[assignment]
        self.reply("220 test.invalid ESMTP")
        recipients: list[str] = []
        while line := self.rfile.readline():
            command = line.decode().rstrip("\r\n")
            verb = command[:4].upper()
            if verb in {"EHLO", "HELO"}:
                self.reply("250 test.invalid")
            elif verb == "MAIL":
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip().strip("<>")
                if address in server.refused:
                    self.reply("550 no such user")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 go ahead")
                data = b""
                while (chunk := self.rfile.readline()) != b".\r\n":
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                server.received.append(
                    (recipients, message_from_bytes(data, policy=policy.default))
                )
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


class SmtpServer(socketserver.ThreadingTCPServer):
    """Keeps what it received; refuses the addresses in ``refused``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SmtpHandler)
        self.received: list[tuple[list[str], object]] = []
        self.refused: set[str] = set()

    def recipients(self) -> list[str]:
        """Every recipient of every message accepted, in order."""
        return [address for addresses, _ in self.received for address in addresses]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server on a free local port."""
    server = SmtpServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp(smtp_server) -> SmtpSettings:
    """Settings pointing at the test server."""
    return SmtpSettings(host="127.0.0.1", port=smtp_server.server_address[1], sender="d@x.org")


@pytest.fixture
def running(make_study, make_panel):
    """The demo study (English and Spanish) with four panelists and round 1 open."""
    study = make_study()
    links = make_panel(study, 4)  # languages alternate en, es, en, es
    round_ = open_round(db.session, study)
    panelists = [panelist_for_token(db.session, link.token) for link in links]
    return study, round_, panelists, links


def messages() -> list[OutboxMessage]:
    """Every message in the outbox, oldest first."""
    return list(db.session.execute(db.select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def token_in(body: str) -> str:
    """The personal link's token in a message's text (as sent, or as shown)."""
    match = LINK.search(body)
    assert match, body
    return match.group(1)


def invite(study, round_, **options):
    """Queue the round's invitations with the app's link keys."""
    return queue_invitations(
        db.session, study, round_, BASE_URL, keys=current_link_keys(), **options
    )


def remind(study, round_, **options):
    """Queue the round's reminders with the app's link keys."""
    return queue_reminders(db.session, study, round_, BASE_URL, keys=current_link_keys(), **options)


def send(messages, smtp) -> int:
    """Hand ``messages`` to delivery (with a mail server) and deliver them with the
    app's link keys; how many were sent."""
    ids = [message.id for message in messages]
    if smtp is not None:
        hand_over(db.session, ids)
    return deliver(db.session, ids, smtp, keys=current_link_keys()).sent


def shown(study, message) -> str:
    """The message's text as the console shows it without SMTP (its link unsealed)."""
    body = readable_bodies(db.session, study, [message], current_link_keys())[message.id]
    assert body is not None
    return body


def forget_sealed_link(panelist) -> None:
    """Make ``panelist`` one added before links were sealed (revision 0011): a hash only."""
    panelist.token_sealed = None
    db.session.commit()


# -- invitations ---------------------------------------------------------------------


def test_invitations_are_queued_once_per_panelist_in_their_language(running):
    study, round_, panelists, _links = running
    first = invite(study, round_)
    again = invite(study, round_)
    assert len(first) == 4
    assert again == []
    queued = messages()
    assert len(queued) == 4
    assert {message.idempotency_key for message in queued} == {
        f"invitation:{round_.id}:{panelist.id}" for panelist in panelists
    }
    for message, panelist in zip(queued, panelists, strict=True):
        assert message.panelist_id == panelist.id
        assert message.language == panelist.language
        assert message.recipient == panelist.roster.email
        assert message.sent_at is None
    assert [message.subject.split(" ")[0] for message in queued] == [
        "Round",
        "La",
        "Round",
        "La",
    ]
    assert "Dear Expert Number0" in queued[0].body
    assert "Estimado/a Expert Number1" in queued[1].body


def test_an_invitation_carries_the_link_given_at_import_which_keeps_working(running):
    """The link shown when the panelist was added is the one the invitation carries;
    the stored message holds only a placeholder for it."""
    study, round_, _panelists, links = running
    invite(study, round_)
    for message, link in zip(messages(), links, strict=True):
        assert LINK_PLACEHOLDER in message.body and link.token not in message.body
        assert token_in(shown(study, message)) == link.token
        assert panelist_for_token(db.session, link.token).id == message.panelist_id


def test_a_panelist_added_before_links_were_sealed_gets_one_link_from_then_on(running):
    """Revision 0011 found only hashes: the first invitation issues a new link and seals
    it, and every later message carries that one."""
    study, round_, panelists, links = running
    forget_sealed_link(panelists[0])
    invite(study, round_)
    first = next(m for m in messages() if m.panelist_id == panelists[0].id)
    issued = token_in(shown(study, first))
    assert issued != links[0].token
    with pytest.raises(NotFound):
        panelist_for_token(db.session, links[0].token)
    assert panelist_for_token(db.session, issued).id == panelists[0].id
    assert panelists[0].token_sealed is not None
    (reminder,) = [m for m in remind(study, round_) if m.panelist_id == panelists[0].id]
    assert token_in(shown(study, reminder)) == issued
    # The others kept theirs.
    assert panelist_for_token(db.session, links[1].token).id == panelists[1].id


def test_withdrawn_panelists_are_not_invited(running):
    from surveys.panel import revoke_link

    study, round_, panelists, _ = running
    revoke_link(db.session, panelists[0])
    invite(study, round_)
    assert panelists[0].id not in {message.panelist_id for message in messages()}
    assert len(messages()) == 3


def test_an_insert_that_meets_an_existing_key_is_skipped_and_keeps_that_link(running):
    """What a simultaneous second request sees: the key exists, nothing changes."""
    study, round_, _panelists, _ = running
    invite(study, round_)
    tokens = {message.panelist_id: token_in(shown(study, message)) for message in messages()}
    assert invite(study, round_) == []
    for panelist_id, token in tokens.items():
        assert panelist_for_token(db.session, token).id == panelist_id


# -- delivery ------------------------------------------------------------------------


def test_without_smtp_messages_wait_in_the_outbox_and_are_shown_with_their_links(running):
    study, round_, _, links = running
    invite(study, round_)
    assert send(unsent_messages(db.session, study), None) == 0
    for message, link in zip(messages(), links, strict=True):
        assert message.sent_at is None
        assert message.error is None
        assert not LINK.search(message.body)  # the stored text holds no link
        assert token_in(shown(study, message)) == link.token


def test_a_real_smtp_exchange_sends_each_message_once_with_the_panelists_link(
    running, smtp_server, smtp
):
    study, round_, panelists, links = running
    invite(study, round_)
    assert send(unsent_messages(db.session, study), smtp) == 4
    assert smtp_server.recipients() == [panelist.roster.email for panelist in panelists]
    for (_, email), link in zip(smtp_server.received, links, strict=True):
        assert email["From"] == "d@x.org"
        assert email["Subject"].startswith(("Round 1 of “", "La ronda 1 de «"))
        # The expert gets the link they were given when added, which works.
        assert token_in(email.get_content()) == link.token
    for message in messages():
        assert message.sent_at is not None
        assert message.error is None
        assert LINK_PLACEHOLDER in message.body
        assert not LINK.search(message.body)  # no working token is in the database
    # Sending again, with the same or with all messages, mails nobody twice.
    assert send(messages(), smtp) == 0
    invite(study, round_)
    assert send(unsent_messages(db.session, study), smtp) == 0
    assert len(smtp_server.received) == 4


def test_a_crash_between_insert_and_smtp_then_a_retry_sends_once(running, smtp_server, smtp):
    study, round_, _, _ = running
    # The request queued the messages, then died before delivering them.
    invite(study, round_)
    # The facilitator clicks again: nothing new is queued, the waiting messages go out.
    assert invite(study, round_) == []
    assert send(unsent_messages(db.session, study), smtp) == 4
    assert invite(study, round_) == []
    assert send(unsent_messages(db.session, study), smtp) == 0
    assert len(smtp_server.received) == 4
    assert len(set(smtp_server.recipients())) == 4


# -- hostile texts: nothing reaches a header but one line ------------------------------

#: A title as a study loaded before titles were checked could hold: a header injection
#: attempt, a bell, a terminal escape and a Unicode line separator (not NUL, which
#: PostgreSQL could never have stored).
HOSTILE_TITLE = "Study\r\nBcc: victim@evil.example\x07\x1b[31m\u2028end"
#: The same title on one line: every run of white space and control characters is one space.
ONE_LINE_TITLE = "Study Bcc: victim@evil.example [31m end"
HEADER_BREAKERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def hostile_title(study) -> None:
    """Give ``study`` the hostile title in both languages, as stored before the checks."""
    study.title = {"en": HOSTILE_TITLE, "es": HOSTILE_TITLE}
    db.session.commit()


def test_a_title_with_line_breaks_makes_one_line_subjects_and_every_message_is_sent(
    running, smtp_server, smtp
):
    """A line break in the study's title once made every invitation fail and stay
    "in delivery"; now each subject is one line and every message goes out."""
    study, round_, panelists, _ = running
    hostile_title(study)
    invite(study, round_)
    for message in messages():
        assert not HEADER_BREAKERS.search(message.subject), repr(message.subject)
        assert ONE_LINE_TITLE in message.subject and ONE_LINE_TITLE in message.body
    assert send(unsent_messages(db.session, study), smtp) == 4
    assert smtp_server.recipients() == [panelist.roster.email for panelist in panelists]
    for _, email in smtp_server.received:
        assert email["Bcc"] is None  # the title injected no header
        assert email["Subject"] in (
            f"Round 1 of “{ONE_LINE_TITLE}” is open",
            f"La ronda 1 de «{ONE_LINE_TITLE}» está abierta",
        )
    assert all(message.sent_at and message.error is None for message in messages())


def test_a_message_queued_with_a_broken_subject_is_sent_with_one_line(running, smtp_server, smtp):
    """A message already in the outbox with a line break in its subject is still sent."""
    study, round_, _, _ = running
    invite(study, round_)
    first = messages()[0]
    first.subject = "Invitation\nBcc: victim@evil.example"
    db.session.commit()
    assert send(unsent_messages(db.session, study), smtp) == 4
    subjects = [email["Subject"] for _, email in smtp_server.received]
    assert "Invitation Bcc: victim@evil.example" in subjects
    assert all(email["Bcc"] is None for _, email in smtp_server.received)
    assert "victim@evil.example" not in smtp_server.recipients()


def test_a_panelist_name_cannot_write_lines_into_the_message(running):
    """A name is one line in the message too: it cannot add a forged paragraph."""
    study, round_, panelists, _ = running
    panelists[0].roster.name = "Ana\n\nYour personal link: http://evil.example/e/x\x1b"
    db.session.commit()
    invite(study, round_)
    body = next(m.body for m in messages() if m.panelist_id == panelists[0].id)
    assert body.startswith("Dear Ana Your personal link: http://evil.example/e/x,\n")
    assert "\x1b" not in body


@pytest.mark.parametrize(
    "recipient",
    ["ana\n@example.org", "ana,bcc@example.org", "ana@exa\rmple.org", "ana\x1b@example.org"],
    ids=["line-feed", "two-addresses", "carriage-return", "escape"],
)
def test_a_message_that_cannot_be_sent_is_recorded_as_failed_not_stuck(
    running, smtp_server, smtp, recipient
):
    """Whatever makes one message fail (here a recipient that is not one address), it
    is stored with its reason, never left "in delivery", and the others go out."""
    study, round_, _, _ = running
    invite(study, round_)
    broken = messages()[1]
    broken.recipient = recipient
    db.session.commit()
    assert send(unsent_messages(db.session, study), smtp) == 3
    db.session.expire_all()
    (failed,) = unsent_messages(db.session, study)
    assert failed.id == broken.id and failed.sent_at is None
    assert failed.error and not failed.error.startswith(CLAIM_PREFIX), failed.error
    assert len(smtp_server.received) == 3
    assert "bcc@example.org" not in smtp_server.recipients()
    # A permanent failure: not tried again by itself (nor left claimed).
    assert send(unsent_messages(db.session, study), smtp) == 0
    db.session.expire_all()
    assert not db.session.get(OutboxMessage, broken.id).error.startswith(CLAIM_PREFIX)


# -- reminders -----------------------------------------------------------------------


def test_reminders_go_only_to_those_who_have_not_submitted_in_their_language(running):
    study, round_, panelists, _ = running
    submit_responses(db.session, panelists[0], {"trust_now": "3"})
    save_draft(db.session, panelists[1], {"trust_now": "2"})  # a draft is not a submission
    invite(study, round_)
    reminders = remind(study, round_)
    assert sorted(message.panelist_id for message in reminders) == sorted(
        panelist.id for panelist in panelists[1:]
    )
    for message in reminders:
        panelist = db.session.get(Panelist, message.panelist_id)
        assert message.language == panelist.language
        expected = "Recordatorio" if panelist.language == "es" else "Reminder"
        assert message.subject.startswith(expected)
        assert message.idempotency_key == f"reminder:{round_.id}:{panelist.id}:1"


def test_a_repeated_reminder_click_in_the_same_batch_sends_nothing_more(running):
    study, round_, panelists, _ = running
    assert len(remind(study, round_)) == 4
    assert remind(study, round_) == []
    # Half a day later a new click is a new batch.
    for message in messages():
        message.created_at = utcnow() - timedelta(hours=13)
    db.session.commit()
    submit_responses(db.session, panelists[2], {"trust_now": "3"})
    second = remind(study, round_)
    assert len(second) == 3
    assert all(message.idempotency_key.endswith(":2") for message in second)
    assert remind(study, round_) == []


def test_a_reminder_carries_the_same_link_whether_or_not_the_round_was_opened(running):
    study, round_, panelists, links = running
    note_visit(db.session, panelists[0])  # their page is open
    reminders = {m.panelist_id: m for m in remind(study, round_)}
    for panelist, link in zip(panelists, links, strict=True):
        text = shown(study, reminders[panelist.id])
        assert token_in(text) == link.token
        assert panelist_for_token(db.session, link.token).id == panelist.id
    assert "Anything you saved there is kept." in shown(study, reminders[panelists[0].id])
    assert "Lo que haya guardado allí se conserva." in shown(study, reminders[panelists[1].id])


def test_a_reminder_issues_a_link_to_one_added_before_links_were_sealed_only_if_unopened(
    running,
):
    """Such a panelist has no link to send again: one who has not opened the round is
    issued one; one whose page may be open is told to go on with theirs, which is not
    cut off."""
    study, round_, panelists, links = running
    forget_sealed_link(panelists[0])
    forget_sealed_link(panelists[2])
    note_visit(db.session, panelists[0])
    reminders = {m.panelist_id: m for m in remind(study, round_)}
    opened = reminders[panelists[0].id]
    assert not LINK.search(opened.body) and LINK_PLACEHOLDER not in opened.body
    assert "continue with the personal link" in opened.body
    assert panelist_for_token(db.session, links[0].token).id == panelists[0].id
    unopened = shown(study, reminders[panelists[2].id])
    assert "Your personal link:\nhttp" in unopened
    assert panelist_for_token(db.session, token_in(unopened)).id == panelists[2].id
    with pytest.raises(NotFound):
        panelist_for_token(db.session, links[2].token)


def test_messages_need_an_open_round(running):
    from surveys.errors import Conflict

    study, round_, _, _ = running
    close_round(db.session, study)
    with pytest.raises(Conflict):
        invite(study, round_)
    with pytest.raises(Conflict):
        remind(study, round_)


def test_resending_an_invitation_issues_a_new_link_on_purpose_once_per_click(running):
    study, round_, panelists, links = running
    invite(study, round_)
    message = resend_invitation(
        db.session, study, round_, panelists[0], BASE_URL, keys=current_link_keys()
    )
    assert message is not None
    assert message.idempotency_key == f"invitation:{round_.id}:{panelists[0].id}:resend:1"
    new = token_in(shown(study, message))
    assert panelist_for_token(db.session, new).id == panelists[0].id
    with pytest.raises(NotFound):  # the old link ends
        panelist_for_token(db.session, links[0].token)
    # The first invitation, still unsent, now carries the new link too; later messages
    # carry it from now on.
    first = next(
        m for m in messages() if m.idempotency_key == f"invitation:{round_.id}:{panelists[0].id}"
    )
    assert token_in(shown(study, first)) == new
    (reminder,) = [m for m in remind(study, round_) if m.panelist_id == panelists[0].id]
    assert token_in(shown(study, reminder)) == new


# -- panel status and the audit log --------------------------------------------------


def test_panel_status_per_round(running):
    study, round_, panelists, _ = running
    invite(study, round_)
    note_visit(db.session, panelists[0])
    note_visit(db.session, panelists[1])
    save_draft(db.session, panelists[1], {"trust_now": "2"})
    submit_responses(db.session, panelists[2], {"trust_now": "3"})
    by_pseudonym = {row.pseudonym: row for row in panel_status(db.session, study)}
    states = [by_pseudonym[panelist.pseudonym].rounds[0] for panelist in panelists]
    assert [(s.invited, s.opened, s.draft, s.submitted) for s in states] == [
        (True, True, False, False),
        (True, True, True, False),
        (True, False, True, True),  # submitting keeps the typed draft too
        (True, False, False, False),
    ]
    assert {s.round_number for s in states} == {1}
    # Round 2: nobody invited or seen since it opened; a visit before it opened is old.
    close_round(db.session, study)
    open_round(db.session, study)
    for row in panel_status(db.session, study):
        assert len(row.rounds) == 2
        second = row.rounds[1]
        assert (second.invited, second.opened, second.draft, second.submitted) == (
            False,
            False,
            False,
            False,
        )


def test_a_visit_is_written_at_most_once_a_minute(running):
    _, _, panelists, _ = running
    panelist = panelists[0]
    note_visit(db.session, panelist)
    first = panelist.last_seen_at
    note_visit(db.session, panelist)
    assert panelist.last_seen_at == first
    panelist.last_seen_at = utcnow() - timedelta(minutes=2)
    db.session.commit()
    note_visit(db.session, panelist)
    assert panelist.last_seen_at > first - timedelta(minutes=1)


def test_adding_one_panelist_validates_each_field(make_study):
    study = make_study()
    with pytest.raises(InvalidPanel) as caught:
        add_panelist(
            db.session,
            study,
            NewPanelist("", "not-an-email", "a b", "fr"),
            keys=current_link_keys(),
        )
    assert set(caught.value.fields) == {"name", "email", "group", "language"}
    link = add_panelist(
        db.session, study, NewPanelist(" Ana ", "Ana@X.org", "g", ""), keys=current_link_keys()
    )
    panelist = panelist_for_token(db.session, link.token)
    assert (panelist.roster.email, panelist.language) == ("ana@x.org", "en")
    with pytest.raises(InvalidPanel) as duplicate:
        add_panelist(
            db.session, study, NewPanelist("Ana", "ana@x.org", "", "en"), keys=current_link_keys()
        )
    assert duplicate.value.fields == {"email": ["is already on the panel"]}


def test_panel_actions_are_audited_without_names_or_emails(running, make_user):
    from surveys.panel import reissue_link, revoke_link

    study, round_, panelists, _ = running
    keys = current_link_keys()
    user = make_user("lead@example.org", studies=[study])
    add_panelist(
        db.session, study, NewPanelist("Ana Secret", "ana@x.org", "", "en"), user, keys=keys
    )
    revoke_link(db.session, panelists[0], actor=user)
    reissue_link(db.session, panelists[0], actor=user, keys=keys)
    invite(study, round_, actor=user)
    remind(study, round_, actor=user)
    events = list(db.session.execute(db.select(AuditEvent).order_by(AuditEvent.id)).scalars())
    actions = [event.action for event in events if event.user_id == user.id]
    assert actions == [
        "panel.add",
        "panel.revoke",
        "panel.reissue",
        "messages.invite",
        "messages.remind",
    ]
    text = repr([(event.action, event.details) for event in events])
    for panelist in panelists:
        assert panelist.roster.name not in text
        assert panelist.roster.email not in text
    assert "Ana Secret" not in text and "ana@x.org" not in text


def test_a_blind_study_does_not_audit_the_pseudonym_of_an_added_person(make_study):
    study = make_study()
    study.anonymity = "blind"
    db.session.commit()
    link = add_panelist(
        db.session, study, NewPanelist("Ana", "ana@x.org", "", "en"), keys=current_link_keys()
    )
    (event,) = db.session.execute(
        db.select(AuditEvent).where(AuditEvent.action == "panel.add")
    ).scalars()
    assert link.pseudonym not in repr(event.details)
