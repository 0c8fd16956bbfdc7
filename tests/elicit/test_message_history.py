"""A panelist's messages and visits round by round, and the study's delivery summary
(issue 14, point 5): every step of every message (not only the last), the last visit,
the submission; blind studies and researchers see no one's history."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

from sqlalchemy import select

from elicit.extensions import db
from surveys.delivery import CLAIM_PREFIX, SmtpSettings, deliver, delivery_status, hand_over
from surveys.message_history import delivery_summary, panelist_history
from surveys.messaging import queue_invitations, queue_reminders
from surveys.models import OutboxMessage, Panelist, utcnow
from surveys.rounds import open_round
from surveys.settings import update_settings
from tests.conftest import log_in
from tests.smtp_sink import smtp_sink

SLUG = "us-mexico-intelligence"
BASE = "https://elicit.example"


def panelists() -> list[Panelist]:
    return list(db.session.execute(select(Panelist).order_by(Panelist.id)).scalars())


def test_every_step_in_order_and_the_summary(
    client, make_study, make_panel, make_user, post_answers, link_keys
):
    study = make_study()
    links = make_panel(study, 3)
    make_user("lead@example.org", studies=[study])
    round_ = open_round(db.session, study)
    invitations = queue_invitations(db.session, study, round_, BASE, keys=link_keys)
    ids = hand_over(db.session, [message.id for message in invitations])
    with smtp_sink() as (handler, port):
        handler.rcpt_replies["expert.number2@example.org"] = "550 5.1.1 no such user"
        smtp = SmtpSettings(host="127.0.0.1", port=port, sender="d@x.org", timeout=10)
        done = deliver(db.session, ids, smtp, keys=link_keys)
    assert (done.sent, done.failed) == (2, 1)
    assert post_answers(links[0].token, {"trust_now": "3"}).status_code == 302
    reminded = queue_reminders(db.session, study, round_, BASE, keys=link_keys)
    assert len(reminded) == 2  # not to the one who submitted; waiting: no mail server

    first, _, bounced = panelists()
    (history,) = panelist_history(db.session, study, first)
    assert [(entry.what, entry.event) for entry in history.entries] == [
        ("message", "queued"),
        ("message", "sent"),
        ("opened", None),
        ("submitted", None),
    ]
    (bounced_round,) = panelist_history(db.session, study, bounced)
    steps = [(entry.kind, entry.event) for entry in bounced_round.entries]
    assert steps == [("invitation", "queued"), ("invitation", "bounced"), ("reminder", "waiting")]
    assert "550 5.1.1 no such user" in (bounced_round.entries[1].detail or "")

    summary = {(row.round, row.kind): row for row in delivery_summary(db.session, study)}
    assert summary[(1, "invitation")].counts["sent"] == 2
    assert summary[(1, "invitation")].counts["failed"] == 1
    assert summary[(1, "reminder")].counts["waiting"] == 2
    assert summary[(1, "reminder")].total == 2

    log_in(client, "lead@example.org")
    page = unescape(client.get(f"/console/studies/{SLUG}/panel/{bounced.id}/history").text)
    assert "Messages and visits: Expert Number2" in page
    assert "refused by the mail server (bounced)" in page and "550 5.1.1 no such user" in page
    assert "waiting in the outbox to be sent by hand" in page
    panel = client.get(f"/console/studies/{SLUG}/panel").text
    assert f"/console/studies/{SLUG}/panel/{bounced.id}/history" in panel
    overview = client.get(f"/console/studies/{SLUG}/messages").text
    assert 'id="delivery-summary"' in overview
    assert db.session.execute(select(OutboxMessage)).scalars().all()

    # A reminder claimed by a worker right now is "being sent", as the outbox says.
    claimed = reminded[0]
    claimed.error = CLAIM_PREFIX + "worker-1"
    claimed.next_attempt_at = utcnow() + timedelta(minutes=1)
    db.session.commit()
    assert delivery_status(claimed) == "sending"
    summary = {(row.round, row.kind): row for row in delivery_summary(db.session, study)}
    counts = summary[(1, "reminder")].counts
    assert (counts["sending"], counts["waiting"]) == (1, 1)


def test_blind_studies_strangers_and_researchers_see_no_one_s_history(
    client, make_study, make_panel, make_user
):
    study = make_study()
    make_panel(study, 1)
    other = make_study(study.source.replace(f'slug = "{SLUG}"', 'slug = "another-study"'))
    make_panel(other, 1)
    make_user("lead@example.org", studies=[study])
    make_user("reader@example.org", "researcher", studies=[study])
    mine, theirs = panelists()
    log_in(client, "lead@example.org")
    assert client.get(f"/console/studies/{SLUG}/panel/{mine.id}/history").status_code == 200
    assert client.get(f"/console/studies/{SLUG}/panel/{theirs.id}/history").status_code == 404
    update_settings(db.session, study, {"anonymity": "blind"})
    assert client.get(f"/console/studies/{SLUG}/panel/{mine.id}/history").status_code == 404
    assert f"/panel/{mine.id}/history" not in client.get(f"/console/studies/{SLUG}/panel").text
    client.get("/console/")
    log_in(client, "reader@example.org")
    assert client.get(f"/console/studies/{SLUG}/panel/{mine.id}/history").status_code in (403, 404)
