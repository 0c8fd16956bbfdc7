"""A round's close asked for in a request and computed by a job (surveys.closing): one
closing per round at a time, a job run twice closing once, a lost job handed again, a
failure recorded with the round still open and every answer kept, a silent worker
lapsing, and a round closed another way counting as closed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from elicit.extensions import db
from surveys import closing as closing_module
from surveys.answers import submit_responses
from surveys.closing import (
    LAPSE_AFTER,
    LAPSED_REASON,
    REQUEUE_AFTER,
    current_status,
    failure,
    hand_again,
    open_round_closing,
    request_close,
    run_closing,
)
from surveys.errors import Conflict
from surveys.models import (
    AuditEvent,
    ClosingStatus,
    Response,
    Round,
    RoundClosing,
    RoundStatus,
    RoundSummary,
)
from surveys.panel import panelist_by_pseudonym
from surveys.rounds import NotTheOpenRound, close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition


@pytest.fixture
def running(app, make_study, make_panel, make_user):
    """The demo study with round 1 open and answered by four of five panelists, and a
    facilitator member (``running.lead``)."""
    study = make_study()
    links = make_panel(study, 5)
    open_round(db.session, study)
    rng = random.Random(3)
    for link in links[:4]:
        panelist = panelist_by_pseudonym(db.session, study, link.pseudonym)
        submit_responses(db.session, panelist, simulated_answers(rng, study_definition(study)))
    study.lead = make_user("lead@example.org", studies=[study])
    study.last_link = links[4]
    return study


def fresh(closing_id: int) -> RoundClosing:
    db.session.expire_all()
    return db.session.get(RoundClosing, closing_id)


def answers() -> int:
    return db.session.execute(select(func.count(Response.id))).scalar_one()


def test_the_job_closes_the_round_as_the_facilitator_with_their_ticks(running):
    requested = request_close(db.session, running, actor=running.lead)
    assert requested.submit
    closing_id = requested.closing.id
    assert fresh(closing_id).status == ClosingStatus.QUEUED
    assert open_round_closing(db.session, running).id == closing_id
    assert run_closing(db.session, closing_id) == ClosingStatus.DONE
    done = fresh(closing_id)
    assert done.status == ClosingStatus.DONE and done.finished_at is not None
    assert done.round.status == RoundStatus.CLOSED
    assert done.round.summary.respondents == 4
    actions = db.session.execute(
        select(AuditEvent.action, AuditEvent.user_email).order_by(AuditEvent.id)
    ).all()
    assert ("round.close.request", "lead@example.org") in actions
    assert ("round.close", "lead@example.org") in actions  # the close's actor: who asked
    assert open_round_closing(db.session, running) is None  # the round is not open


def test_two_requests_share_one_closing_and_one_job(running):
    first = request_close(db.session, running, actor=running.lead)
    second = request_close(db.session, running, actor=None, retire=[])
    assert (first.submit, second.submit) == (True, False)
    assert second.closing.id == first.closing.id
    assert db.session.execute(select(func.count(RoundClosing.id))).scalar_one() == 1


def test_a_close_meant_for_a_round_closed_since_closes_nothing(running):
    """A close that names the round it means (the console's page, the API's address,
    the job's closing) closes nothing once that round was closed and the next opened:
    the new round stays open, with no summary; a job asked for round 1 then ends done."""
    closing_id = request_close(db.session, running, actor=None).closing.id
    close_round(db.session, running)
    open_round(db.session, running)
    with pytest.raises(NotTheOpenRound) as refused:
        close_round(db.session, running, number=1)
    assert (refused.value.asked, refused.value.open_number) == (1, 2)
    assert run_closing(db.session, closing_id) == ClosingStatus.DONE
    db.session.expire_all()
    states = dict(db.session.execute(select(Round.number, Round.status)).all())
    assert states == {1: RoundStatus.CLOSED, 2: RoundStatus.OPEN}
    assert db.session.execute(select(func.count(RoundSummary.id))).scalar_one() == 1
    assert close_round(db.session, running, number=2).round.number == 2


def test_a_job_run_twice_closes_once(running):
    closing_id = request_close(db.session, running, actor=None).closing.id
    assert run_closing(db.session, closing_id) == ClosingStatus.DONE
    assert run_closing(db.session, closing_id) == ClosingStatus.DONE  # claimed: no-op
    assert db.session.execute(select(func.count(RoundSummary.id))).scalar_one() == 1


def test_no_open_round_or_refused_ticks_ask_for_nothing(running, make_study):
    running.consensus_items = "stay"
    db.session.commit()
    with pytest.raises(Conflict, match="keeps items"):
        request_close(db.session, running, actor=None, retire=["trust_now"])
    close_round(db.session, running)
    with pytest.raises(Conflict, match="no round is open"):
        request_close(db.session, running, actor=None)
    assert db.session.execute(select(func.count(RoundClosing.id))).scalar_one() == 0


def test_answers_submitted_while_the_close_waits_are_in_its_summary(running):
    closing_id = request_close(db.session, running, actor=None).closing.id
    panelist = panelist_by_pseudonym(db.session, running, running.last_link.pseudonym)
    submit_responses(
        db.session, panelist, simulated_answers(random.Random(9), study_definition(running))
    )
    run_closing(db.session, closing_id)
    assert fresh(closing_id).round.summary.respondents == 5


def test_a_lost_job_is_handed_again_once(running):
    closing_id = request_close(db.session, running, actor=None).closing.id
    assert not hand_again(db.session, fresh(closing_id))  # just handed over
    db.session.execute(
        update(RoundClosing)
        .where(RoundClosing.id == closing_id)
        .values(queued_at=datetime.now(UTC) - REQUEUE_AFTER - timedelta(seconds=1))
    )
    db.session.commit()
    stale = fresh(closing_id)
    assert hand_again(db.session, stale)
    assert not hand_again(db.session, fresh(closing_id))  # another reader: already handed
    # Asking again hands it again too once it waits that long.
    assert not request_close(db.session, running, actor=None).submit


def test_a_failed_close_keeps_the_round_open_and_every_answer(running, monkeypatch):
    before = answers()
    closing_id = request_close(db.session, running, actor=None).closing.id

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in a statistic")

    monkeypatch.setattr(closing_module, "close_round", broken)
    with pytest.raises(ZeroDivisionError):
        run_closing(db.session, closing_id)
    failed = fresh(closing_id)
    assert current_status(failed) == ClosingStatus.FAILED
    assert failure(failed) == (
        "The round could not be closed (ZeroDivisionError). It is still open and no answer "
        "was lost: close it again."
    )
    assert failed.round.status == RoundStatus.OPEN
    assert answers() == before
    monkeypatch.undo()
    again = request_close(db.session, running, actor=None)
    assert again.submit and again.closing.id != closing_id
    assert run_closing(db.session, again.closing.id) == ClosingStatus.DONE


def test_a_refused_close_says_why(running):
    running.consensus_items = "ask"
    db.session.commit()
    closing_id = request_close(db.session, running, actor=None, retire=["trust_now"]).closing.id
    running.consensus_items = "stay"  # changed between the click and the job
    db.session.commit()
    assert run_closing(db.session, closing_id) == ClosingStatus.FAILED
    assert failure(fresh(closing_id)) == (
        "The round could not be closed: the study keeps items that reached consensus in "
        "the next round. It is still open."
    )


def test_a_silent_worker_lapses_and_asking_again_replaces_it(running):
    closing_id = request_close(db.session, running, actor=None).closing.id
    long_ago = datetime.now(UTC) - LAPSE_AFTER - timedelta(seconds=1)
    db.session.execute(
        update(RoundClosing)
        .where(RoundClosing.id == closing_id)
        .values(status=ClosingStatus.RUNNING, started_at=long_ago, alive_at=long_ago)
    )
    db.session.commit()
    lapsed = fresh(closing_id)
    assert current_status(lapsed) == ClosingStatus.FAILED
    assert failure(lapsed) == LAPSED_REASON
    # One that beat a moment ago is still running.
    assert current_status(lapsed, now=long_ago + timedelta(minutes=1)) == ClosingStatus.RUNNING
    again = request_close(db.session, running, actor=None)
    assert again.submit and again.closing.id != closing_id
    assert fresh(closing_id).status == ClosingStatus.FAILED


def test_a_round_closed_another_way_counts_as_closed(running):
    closing_id = request_close(db.session, running, actor=None).closing.id
    close_round(db.session, running)  # the command line, meanwhile
    assert current_status(fresh(closing_id)) == ClosingStatus.DONE
    assert run_closing(db.session, closing_id) == ClosingStatus.DONE  # closes nothing more
    assert db.session.execute(select(func.count(RoundSummary.id))).scalar_one() == 1


def test_two_clicks_at_once_make_one_closing(running, database_url):
    """Two requests (their own connections, as two web processes) ask at the same moment:
    one closing, handed to one job."""
    import threading

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from surveys.models import Study

    engine = create_engine(database_url)
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def click() -> None:
        with Session(engine) as session:
            study = session.get(Study, running.id)
            start.wait()
            try:
                outcomes.append(request_close(session, study, actor=None).submit)
            except BaseException as error:  # the test inspects it
                outcomes.append(error)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    engine.dispose()
    assert sorted(outcomes, key=str) == [False, True]
    assert db.session.execute(select(func.count(RoundClosing.id))).scalar_one() == 1
