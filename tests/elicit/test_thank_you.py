"""The thank-you (issue 14, point 3): queued once per round after a panelist's first
submission, in their language, from the study's template, only when the study sends
one; whatever goes wrong with it, the submission stands."""

from __future__ import annotations

from sqlalchemy import select

import elicit.expert.views as expert_views
from elicit.extensions import db
from surveys.message_texts import save_message_settings, save_template
from surveys.models import OutboxMessage, Response, ResponseStatus
from surveys.rounds import open_round

ANSWER = {"trust_now": "3"}


def thank_yous() -> list[OutboxMessage]:
    return list(
        db.session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "thank_you")
            .order_by(OutboxMessage.id)
        ).scalars()
    )


def test_off_by_default_then_once_per_round_in_the_panelist_s_language(
    make_study, make_panel, post_answers
):
    study = make_study()
    links = make_panel(study, 2)  # en, es
    open_round(db.session, study)
    assert post_answers(links[0].token, ANSWER).status_code == 302
    assert thank_yous() == []
    save_message_settings(db.session, study, "Dr. Rosa Ortiz", "", True)
    save_template(
        db.session,
        study,
        "thank_you",
        "es",
        "Gracias, {{ name }}",
        "Gracias por la ronda {{ round }}.\n{{ lead_name }}\n",
    )
    for link in links:
        assert post_answers(link.token, ANSWER).status_code == 302
        assert post_answers(link.token, {"trust_now": "4"}).status_code == 302  # a change
    sent = thank_yous()
    assert [message.language for message in sent] == ["en", "es"]
    english, spanish = sent
    assert english.subject == "Thank you for your answers to round 1"
    assert "Dr. Rosa Ortiz" in english.body and "Expert Number0" in english.body
    assert spanish.subject == "Gracias, Expert Number1"
    assert spanish.body == "Gracias por la ronda 1.\nDr. Rosa Ortiz\n"
    assert spanish.idempotency_key.startswith("thank_you:")


def test_a_failing_thank_you_costs_nothing_but_the_thanks(
    make_study, make_panel, post_answers, monkeypatch
):
    study = make_study()
    links = make_panel(study, 1)
    open_round(db.session, study)
    save_message_settings(db.session, study, "", "", True)

    def broken(*args, **kwargs):
        raise RuntimeError("the outbox is on fire")

    monkeypatch.setattr(expert_views, "queue_thank_you", broken)
    assert post_answers(links[0].token, ANSWER).status_code == 302
    stored = db.session.execute(select(Response.status)).scalars().all()
    assert stored == [ResponseStatus.SUBMITTED]
    assert thank_yous() == []
