"""A submission and the closing of its round cannot interleave, on either database."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from elicit.extensions import db
from surveys.answers import RoundNotOpen, submit_responses
from surveys.database import SQLITE_BUSY_TIMEOUT_MS
from surveys.models import Draft, Response
from surveys.panel import hash_token
from surveys.rounds import close_round, open_round
from surveys.visit import visit_for_token_hash


class UncommittedSession(Session):
    """A session whose ``commit`` writes but leaves the transaction open, holding its
    locks until the test ends it."""

    def commit(self) -> None:
        """Send the writes; do not commit."""
        self.flush()


def test_closing_waits_for_a_submission_in_progress(make_study, make_panel, database_url):
    study = make_study()
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    engine = create_engine(database_url)
    submitting = UncommittedSession(engine)
    try:
        visit = visit_for_token_hash(submitting, hash_token(link.token))
        submit_responses(submitting, visit, {"trust_now": "4"})
        # The submission is stored but not committed: closing must wait for it.
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SET LOCAL lock_timeout = '200ms'"))
        else:
            db.session.execute(text("PRAGMA busy_timeout = 200"))
        with pytest.raises(OperationalError):
            close_round(db.session, study)
        db.session.rollback()
        Session.commit(submitting)
    finally:
        submitting.close()
        engine.dispose()
        if db.engine.dialect.name == "sqlite":
            db.session.execute(text(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"))
    summary = close_round(db.session, study)
    assert summary.respondents == 1


def test_a_submission_waits_for_a_closing_in_progress_then_keeps_a_draft(
    make_study, make_panel, database_url
):
    """The visit saw the round open; closing began before the answers were stored: the
    submission waits for it and stores a draft, not answers the summary would miss."""
    study = make_study()
    (link,) = make_panel(study, 1)
    round_ = open_round(db.session, study)
    engine = create_engine(database_url)
    submitting, closing = Session(engine), UncommittedSession(engine)
    outcome: list[BaseException | None] = []
    try:
        visit = visit_for_token_hash(submitting, hash_token(link.token))
        submitting.commit()
        close_round(closing, closing.get(type(study), study.id))  # holds the round's lock

        def submit() -> None:
            try:
                submit_responses(submitting, visit, {"trust_now": "4"})
                outcome.append(None)
            except BaseException as error:
                outcome.append(error)

        thread = threading.Thread(target=submit)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), "the submission did not wait for the closing"
        Session.commit(closing)
        thread.join(10)
    finally:
        submitting.close()
        closing.close()
        engine.dispose()
    assert len(outcome) == 1 and isinstance(outcome[0], RoundNotOpen)
    db.session.expire_all()
    assert db.session.execute(select(Response)).first() is None
    draft = db.session.execute(select(Draft).where(Draft.round_id == round_.id)).scalar_one()
    assert draft.values["fields"] == {"trust_now": "4"}
