"""What a panelist's page can still do while a large round closes (which takes minutes
at 100,000 panelists): on PostgreSQL the close locks the round FOR NO KEY UPDATE, so a
draft (whose row merely points at the round) is saved at once, and a submission waits
for the close at most ``CLOSE_WAIT_MS`` before it keeps the answers as a draft and says
so, rather than hanging until the web server kills the request.  On SQLite the close
holds the database's write lock: both wait for it, then the submission finds the round
closed and keeps a draft, as it always has."""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import analysis
from elicit.extensions import db
from surveys import answers as answers_module
from surveys.answers import RoundBeingClosed, RoundNotOpen, submit_responses
from surveys.drafts import save_draft
from surveys.models import Draft
from surveys.panel import hash_token
from surveys.rounds import close_round, open_round
from surveys.visit import visit_for_token_hash
from tests.surveys.test_close_race import (  # noqa: F401 - second_engine: a fixture
    HOLD_SECONDS,
    _answer,
    second_engine,
)


def _late(make_study, make_panel, second_engine):  # noqa: F811
    """A study with round 1 open, two submissions, and a third panelist's visit begun in
    a session of its own (another web process)."""
    study = make_study()
    links = make_panel(study, 3)
    round_ = open_round(db.session, study)
    for value, link in zip((2, 4), links[:2], strict=True):
        submit_responses(
            db.session, visit_for_token_hash(db.session, hash_token(link.token)), _answer(value)
        )
    late = Session(second_engine)
    visit = visit_for_token_hash(late, hash_token(links[2].token))
    panelist_id = visit.panelist.id
    late.commit()
    return study, round_, late, visit, panelist_id


def _during_close(monkeypatch, study, late: Session, work) -> tuple[Any, bool]:
    """Run ``work`` (with session ``late``, closed after it) in a thread once a close of
    ``study`` holds the round (as it starts computing the statistics), and hold the
    close up to :data:`HOLD_SECONDS` for it; ``work``'s outcome, and whether it ended
    while the close still held the round."""
    real = analysis.summarize_round
    held: list[bool] = []
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # the test inspects it
            outcome.append(error)
        finally:
            late.close()

    def holding(*args: Any, **kwargs: Any) -> Any:
        if not held:
            thread = threading.Thread(target=target)
            thread.start()
            thread.join(HOLD_SECONDS)
            held.append(not thread.is_alive())
            threads.append(thread)
        return real(*args, **kwargs)

    threads: list[threading.Thread] = []
    monkeypatch.setattr(analysis, "summarize_round", holding)
    close_round(db.session, study)
    threads[0].join(60)
    assert not threads[0].is_alive()
    return outcome[0], held[0]


def _draft(round_, panelist_id) -> dict[str, str]:
    db.session.expire_all()
    found = db.session.execute(
        select(Draft).where(Draft.round_id == round_.id, Draft.panelist_id == panelist_id)
    ).scalar_one()
    return found.values["fields"]


def test_a_draft_is_saved_while_the_round_closes(
    make_study,
    make_panel,
    second_engine,  # noqa: F811
    monkeypatch,
):
    study, round_, late, visit, panelist_id = _late(make_study, make_panel, second_engine)
    autosave = partial(save_draft, late, visit, _answer(5))
    outcome, before_the_close = _during_close(monkeypatch, study, late, autosave)
    assert not isinstance(outcome, BaseException), outcome
    # PostgreSQL: at once, beside the close; SQLite: once the close has committed.
    assert before_the_close == (db.engine.dialect.name == "postgresql")
    assert _draft(round_, panelist_id) == _answer(5)


def test_a_submission_gives_up_waiting_for_a_long_close_and_keeps_a_draft(
    make_study,
    make_panel,
    second_engine,  # noqa: F811
    monkeypatch,
):
    study, round_, late, visit, panelist_id = _late(make_study, make_panel, second_engine)
    monkeypatch.setattr(answers_module, "CLOSE_WAIT_MS", 200)  # the close is held 1.5 s
    submit = partial(submit_responses, late, visit, _answer(5))
    outcome, before_the_close = _during_close(monkeypatch, study, late, submit)
    if db.engine.dialect.name == "postgresql":
        assert isinstance(outcome, RoundBeingClosed), outcome
        assert before_the_close
    else:  # SQLite: waited for the close, then found the round closed
        assert isinstance(outcome, RoundNotOpen) and not isinstance(outcome, RoundBeingClosed)
        assert not before_the_close
    assert _draft(round_, panelist_id) == _answer(5)
    assert round_.summary.respondents == 2  # not counted: kept as a draft


def test_a_submission_waits_for_a_short_close(
    make_study,
    make_panel,
    second_engine,  # noqa: F811
    monkeypatch,
):
    """A close shorter than the wait (a small panel's): the submission waits it out and
    finds the round closed, as before: its answers are a draft, not lost."""
    assert answers_module.CLOSE_WAIT_MS / 1000 > HOLD_SECONDS
    study, round_, late, visit, panelist_id = _late(make_study, make_panel, second_engine)
    submit = partial(submit_responses, late, visit, _answer(5))
    outcome, before_the_close = _during_close(monkeypatch, study, late, submit)
    assert isinstance(outcome, RoundNotOpen) and not isinstance(outcome, RoundBeingClosed)
    assert not before_the_close
    assert _draft(round_, panelist_id) == _answer(5)
