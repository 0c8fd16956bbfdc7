"""Closing a round is atomic with respect to submissions and to another close, on SQLite
(the default) as on PostgreSQL.

Each race is made deterministic by holding the close in the middle of its work (while
it computes the statistics, after it has read the answers) and starting the competing
request there.  Without a lock held from the close's first read to its commit, the
competitor commits in that gap: a summary built from fewer answers than its own
``respondents`` count, or two summaries for one round.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import analysis
from elicit.extensions import db
from surveys.answers import RoundNotOpen, submit_responses
from surveys.errors import Conflict
from surveys.models import Draft, Response, ResponseStatus, RoundSummary, Study
from surveys.panel import hash_token
from surveys.rounds import close_round, open_round
from surveys.visit import visit_for_token_hash

#: How long the held close waits for its competitor to finish before going on.  A
#: competitor that is correctly blocked by the close's lock uses all of it.
HOLD_SECONDS = 1.5


@pytest.fixture
def second_engine(database_url: str) -> Iterator[Engine]:
    """Connections of their own, as another gunicorn worker would have."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def _run_in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Start ``work`` in a thread; its result or exception lands in the returned list."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # the test inspects it
            outcome.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def _hold_close_while(
    monkeypatch: pytest.MonkeyPatch, competitor: Callable[[], Any]
) -> tuple[list[threading.Thread], list[Any]]:
    """Make the next close start ``competitor`` once it has read the answers (when it
    begins computing the statistics) and give it :data:`HOLD_SECONDS` to finish."""
    real = analysis.summarize_round
    started: list[threading.Thread] = []
    outcome: list[Any] = []

    def held(*args: Any, **kwargs: Any) -> Any:
        if not started:
            thread, result = _run_in_thread(competitor)
            started.append(thread)
            thread.join(HOLD_SECONDS)
            outcome.append(result)
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, "summarize_round", held)
    return started, outcome


def _answer(value: int) -> dict[str, str]:
    return {"trust_now": str(value), "rationale.trust_now": f"reason {value}"}


def test_a_submission_during_a_close_is_counted_or_kept_as_a_draft(
    make_study, make_panel, second_engine, monkeypatch
):
    study = make_study()
    links = make_panel(study, 4)
    round_ = open_round(db.session, study)
    for value, link in zip((2, 3, 4), links[:3], strict=True):
        submit_responses(
            db.session, visit_for_token_hash(db.session, hash_token(link.token)), _answer(value)
        )
    late = Session(second_engine)
    late_visit = visit_for_token_hash(late, hash_token(links[3].token))
    late_panelist_id = late_visit.panelist.id
    late.commit()  # the visit saw the round open

    def submit_late() -> Any:
        try:
            return submit_responses(late, late_visit, _answer(5))
        finally:
            late.close()

    threads, outcomes = _hold_close_while(monkeypatch, submit_late)
    summary = close_round(db.session, study)
    threads[0].join(30)
    assert not threads[0].is_alive()
    (late_outcome,) = outcomes[0]

    db.session.expire_all()
    submitted = db.session.execute(
        select(func.count(func.distinct(Response.panelist_id))).where(
            Response.round_id == round_.id, Response.status == ResponseStatus.SUBMITTED
        )
    ).scalar_one()
    row = next(row for row in summary.statistics["rows"] if row["item"] == "trust_now")
    values = summary.statistics["distributions"]["trust_now"][""]
    assert summary.respondents == submitted
    assert row["n"] == submitted == len(values)
    if isinstance(late_outcome, RoundNotOpen):
        assert submitted == 3 and values == [2.0, 3.0, 4.0]
        draft = db.session.execute(
            select(Draft).where(Draft.round_id == round_.id, Draft.panelist_id == late_panelist_id)
        ).scalar_one()
        assert draft.values["fields"] == _answer(5)
    else:
        assert not isinstance(late_outcome, BaseException), late_outcome
        assert submitted == 4 and values == [2.0, 3.0, 4.0, 5.0]
        assert "reason 5" in summary.statistics["rationales"]["trust_now"]


def test_two_closes_at_once_store_one_summary_and_refuse_the_other(
    make_study, make_panel, second_engine, monkeypatch
):
    study = make_study()
    (link,) = make_panel(study, 1)
    round_ = open_round(db.session, study)
    submit_responses(
        db.session, visit_for_token_hash(db.session, hash_token(link.token)), _answer(3)
    )
    other = Session(second_engine)

    def close_again() -> Any:
        try:
            return close_round(other, other.get(Study, study.id))
        finally:
            other.close()

    threads, outcomes = _hold_close_while(monkeypatch, close_again)
    first = close_round(db.session, study)
    threads[0].join(30)
    assert not threads[0].is_alive()
    (second,) = outcomes[0]

    assert isinstance(second, Conflict), second
    assert "no round is open" in str(second)
    db.session.expire_all()
    summaries = db.session.execute(select(RoundSummary)).scalars().all()
    assert [summary.id for summary in summaries] == [first.id]
    assert first.round_id == round_.id and first.respondents == 1
