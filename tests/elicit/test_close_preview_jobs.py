"""A large round's close preview computed by a job and kept (surveys.close_previews):
the page shows the kept preview exactly as it would compute it, says when it was
computed and from how many panelists, follows a preview under way, says why one failed,
computes it again on request, hands a lost job again, and never lets a replaced run
write over the preview that replaced it; a real ``elicit worker`` on Redis computes it.

The apps here take the preview to a job past 0 submitted panelists
(``ELICIT_CLOSE_PREVIEW_INLINE_LIMIT``), so that three answers exercise what 100,000
do.  The test app runs each job inside the request that submits it (``TESTING``)."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import select, update

from elicit import jobs
from elicit.extensions import current_link_keys, db
from surveys import close_previews
from surveys.answers import submit_responses
from surveys.close_previews import (
    LAPSE_AFTER,
    read_form,
    request_preview,
    round_preview,
    run_preview,
    stored_form,
)
from surveys.closing import REQUEUE_AFTER, request_close
from surveys.definition import parse_definition
from surveys.demo import demo_source
from surveys.models import ClosingStatus, RoundPreview
from surveys.panel import NewPanelist, add_panelists, panelist_by_pseudonym
from surveys.rounds import close_preview, open_round_of
from surveys.serialization import consensus_to_json
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import csrf_token, log_in, round_form
from tests.elicit import test_closing_pages
from tests.elicit.test_delivery_queue import finish, start_worker, worker_environment
from tests.elicit.test_rate_limit_store import private_redis  # noqa: F401 - a fixture

CONSOLE = test_closing_pages.CONSOLE
CLOSE = f"{CONSOLE}/rounds/close"
# The closing pages' fixtures: the demo study's round 1 answered by three panelists, and
# a console client of an app whose jobs go to Redis.
running = test_closing_pages.running
on_redis = test_closing_pages.on_redis


@pytest.fixture
def lead(running, client):
    """The lead's console client."""
    log_in(client, "lead@example.org")
    return client


@pytest.fixture
def kept(lead):
    """The lead's console client, on an app that keeps every round's preview."""
    lead.application.config["ELICIT_CLOSE_PREVIEW_INLINE_LIMIT"] = 0
    return lead


def the_preview() -> RoundPreview:
    db.session.expire_all()
    return db.session.execute(select(RoundPreview)).scalar_one()


def decision_table(html: str) -> str:
    """The preview's table and its items at consensus, as the page shows them."""
    table = re.search(r'<table class="data decision" id="preview">.*?</table>', html, re.S)
    consensus = re.search(r'<section id="consensus-items".*?</section>', html, re.S)
    assert table and consensus, html
    return table.group(0) + consensus.group(0)


def compute_again(client):
    token = csrf_token(client.get(CLOSE).text)
    return client.post(f"{CLOSE}/preview", data={"csrf_token": token})


#: The demo's rules read statistics only; these read the answers too (the share of
#: them in a band, and a split between the scale's thirds), as the kept preview must.
COUNTING_RULES = (
    'criteria = [{ kind = "share", low = 4, high = 5, min = 0.5 }, '
    '{ kind = "split", min_share = 0.3 }]'
)


@pytest.fixture(params=["demo rules", "rules that count answers"])
def study_rules(request, running):
    """The demo study of ``running`` with its rules, or with a default rule whose
    criteria read the answers (set before its round opened, as a stamped protocol
    would have it)."""
    if request.param == "demo rules":
        return running
    source = demo_source().replace('criteria = [{ kind = "iqr", max = 1 }]', COUNTING_RULES, 1)
    assert COUNTING_RULES in source
    consensus = parse_definition(source, name="counting.toml").consensus
    running.consensus = consensus_to_json(consensus)
    db.session.commit()
    return running


def test_the_kept_preview_is_the_preview_the_page_would_compute(study_rules, lead):
    computed = lead.get(CLOSE).text
    assert 'id="preview-kept"' not in computed  # three panelists: computed in the request
    lead.application.config["ELICIT_CLOSE_PREVIEW_INLINE_LIMIT"] = 0
    shown = lead.get(CLOSE).text
    assert decision_table(shown) == decision_table(computed)
    assert re.search(
        r"This preview was computed at .* UTC from the answers of 3 panelists\. 3 have"
        r" submitted now\.",
        shown,
    )
    assert 'id="compute-again"' in shown and "follow.js" not in shown
    preview = the_preview()
    assert preview.status == ClosingStatus.DONE and preview.finished_at is not None
    # Kept, not computed again: a second visit reads it.
    assert lead.get(CLOSE).text.count("This preview was computed at") == 1
    assert the_preview().finished_at == preview.finished_at


def test_the_kept_form_gives_back_the_answers_the_page_reads_exactly(study_rules):
    round_ = open_round_of(db.session, study_rules)
    preview = close_preview(db.session, study_rules, round_)
    kept = stored_form(preview, study_definition(study_rules))
    assert "distributions" not in kept and kept["rows"] == preview["rows"]
    back = read_form(json.loads(json.dumps(kept)))  # as the database keeps JSON
    assert {key: value for key, value in back.items() if key != "distributions"} == {
        key: value for key, value in preview.items() if key != "distributions"
    }
    answers = preview["distributions"]["trust_now"][""]
    assert answers  # three panelists answered it
    if study_rules.consensus["default"]["criteria"][0]["kind"] == "share":
        # Read by its rule: each value and its count, given back sorted as they were.
        assert kept["tallies"]["trust_now"][""] == [
            [value, answers.count(value)] for value in sorted(set(answers))
        ]
        assert back["distributions"]["trust_now"][""] == answers
    else:
        assert kept["tallies"]["trust_now"][""] == []  # its rule reads the IQR only
    # No calibration seed has a rule: their answers are never kept.
    assert kept["tallies"]["seed_extraditions_2019"] == {"q05": [], "q50": [], "q95": []}


def test_new_answers_are_counted_beside_the_kept_preview_until_it_is_computed_again(running, kept):
    kept.get(CLOSE)
    (link,) = add_panelists(
        db.session,
        running,
        [NewPanelist("Dee Late", "dee@example.org", "a", "en")],
        keys=current_link_keys(),
    )
    panelist = panelist_by_pseudonym(db.session, running, link.pseudonym)
    submit_responses(
        db.session, panelist, simulated_answers(random.Random(9), study_definition(running))
    )
    page = kept.get(CLOSE).text
    assert "from the answers of 3 panelists. 4 have submitted now." in page
    assert compute_again(kept).headers["Location"].endswith(CLOSE)
    assert "from the answers of 4 panelists. 4 have submitted now." in kept.get(CLOSE).text
    assert the_preview().preview["respondents"] == 4


def test_a_preview_under_way_is_followed_and_the_round_can_be_closed_meanwhile(running, kept, app):
    round_ = open_round_of(db.session, running)
    db.session.add(RoundPreview(round_id=round_.id, status=ClosingStatus.QUEUED))
    db.session.commit()
    waiting = kept.get(CLOSE).text
    assert "Waiting for a worker to compute the preview." in waiting
    assert 'data-follow-seconds="10"' in waiting and "follow.js" in waiting
    assert 'id="preview"' not in waiting and 'id="compute-again"' not in waiting
    assert "3 panelists have submitted." in waiting
    assert 'id="check-drafts"' in waiting  # the checklist does not wait for the preview
    assert re.search(r'<button type="submit" class="primary">Close the round</button>', waiting)
    db.session.execute(
        update(RoundPreview).values(status=ClosingStatus.RUNNING, started_at=datetime.now(UTC))
    )
    db.session.commit()
    assert "The preview is being computed, since" in kept.get(CLOSE).text
    # In a study that chooses the items to retire on the preview, the close waits for it.
    running.consensus_items = "ask"
    db.session.commit()
    asking = kept.get(CLOSE).text
    assert 'id="close-needs-preview"' in asking
    assert "Close the round</button>" not in asking
    # Asking again while it runs starts no second run.
    assert compute_again(kept).status_code == 303
    assert the_preview().status == ClosingStatus.RUNNING


def test_a_failed_preview_says_why_and_is_computed_again_on_request(running, kept, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr(close_previews, "close_preview", broken)
    with pytest.raises(ZeroDivisionError):  # TESTING: the job runs in the request
        kept.get(CLOSE)
    failed = kept.get(CLOSE).text
    assert "The preview could not be computed" in failed
    assert "The preview could not be computed (ZeroDivisionError)." in failed
    assert "follow.js" not in failed and 'id="compute-again"' in failed
    assert the_preview().status == ClosingStatus.FAILED
    monkeypatch.undo()
    compute_again(kept)
    assert the_preview().status == ClosingStatus.DONE
    assert "This preview was computed at" in kept.get(CLOSE).text


def test_a_lapsed_preview_is_failed_and_a_lost_job_is_handed_again(running, kept):
    round_ = open_round_of(db.session, running)
    long_ago = datetime.now(UTC) - LAPSE_AFTER - timedelta(seconds=1)
    db.session.add(
        RoundPreview(
            round_id=round_.id,
            status=ClosingStatus.RUNNING,
            started_at=long_ago,
            alive_at=long_ago,
        )
    )
    db.session.commit()
    page = kept.get(CLOSE).text
    assert "its worker was stopped or restarted" in page and 'id="compute-again"' in page
    compute_again(kept)
    assert the_preview().status == ClosingStatus.DONE
    # A queued preview whose job was lost is handed to another when the page is read.
    db.session.execute(
        update(RoundPreview).values(
            status=ClosingStatus.QUEUED,
            queued_at=datetime.now(UTC) - REQUEUE_AFTER - timedelta(seconds=1),
        )
    )
    db.session.commit()
    assert "This preview was computed at" in kept.get(CLOSE).text
    assert the_preview().status == ClosingStatus.DONE


def test_a_run_asked_for_again_meanwhile_writes_nothing_over_its_replacement(
    running, app, monkeypatch
):
    round_ = open_round_of(db.session, running)
    first = request_preview(db.session, round_)
    assert first.submit and not request_preview(db.session, round_).submit  # one per round
    real = close_previews.close_preview

    def slow(session, study, round_):
        """The run's worker falls silent; the facilitator asks again meanwhile."""
        silent = datetime.now(UTC) - LAPSE_AFTER - timedelta(seconds=1)
        with app.app_context():
            other = db.session
            other.execute(update(RoundPreview).values(alive_at=silent))
            other.commit()
            assert request_preview(other, round_, again=True).submit
            other.remove()
        return real(session, study, round_)

    monkeypatch.setattr(close_previews, "close_preview", slow)
    with app.app_context():
        run_preview(db.session, first.preview.id)
    preview = the_preview()
    assert preview.status == ClosingStatus.QUEUED and preview.preview is None
    monkeypatch.undo()
    assert run_preview(db.session, preview.id) == ClosingStatus.DONE
    assert round_preview(db.session, round_).preview["respondents"] == 3


def test_computing_again_needs_the_form_s_token(running, kept):
    assert kept.post(f"{CLOSE}/preview", data={}).status_code == 400
    assert db.session.execute(select(RoundPreview)).first() is None


def test_a_worker_on_redis_computes_the_preview(
    running,
    on_redis,
    private_redis,  # noqa: F811
    database_url,
    tmp_path,
):
    from rq import Queue

    on_redis.application.config["ELICIT_CLOSE_PREVIEW_INLINE_LIMIT"] = 0
    waiting = on_redis.get(CLOSE).text
    assert "Waiting for a worker to compute the preview." in waiting
    preview = the_preview()
    queue = Queue(jobs.CLOSE_QUEUE_NAME, connection=redis.Redis(port=private_redis))
    (first_job,) = queue.job_ids
    assert first_job.startswith(f"elicit-preview-{preview.id}-")
    on_redis.get(CLOSE)  # read again: no second job
    assert queue.job_ids == [first_job]
    environment = worker_environment(database_url, private_redis, 1, tmp_path)
    environment.pop("ELICIT_SMTP_URL")
    log = tmp_path / "worker.log"
    finish(start_worker(environment, log, "--burst"), log)
    assert the_preview().status == ClosingStatus.DONE, log.read_text()
    shown = on_redis.get(CLOSE).text
    assert "from the answers of 3 panelists. 3 have submitted now." in shown
    on_redis.application.config["ELICIT_CLOSE_PREVIEW_INLINE_LIMIT"] = 1_000
    assert decision_table(shown) == decision_table(on_redis.get(CLOSE).text)
    # Asked for again, it is a job of its own: a dead worker's job, which RQ keeps
    # "started" for minutes, cannot pass for it.
    on_redis.application.config["ELICIT_CLOSE_PREVIEW_INLINE_LIMIT"] = 0
    token = csrf_token(on_redis.get(CLOSE).text)
    on_redis.post(f"{CLOSE}/preview", data={"csrf_token": token})
    (second_job,) = queue.job_ids
    assert second_job.startswith(f"elicit-preview-{preview.id}-") and second_job != first_job


def test_a_preview_whose_round_is_being_closed_is_not_computed(running, app, monkeypatch):
    round_ = open_round_of(db.session, running)
    preview_id = request_preview(db.session, round_).preview.id
    request_close(db.session, running, actor=None)

    def unwanted(*args, **kwargs):
        raise AssertionError("a preview of a round being closed was computed")

    monkeypatch.setattr(close_previews, "close_preview", unwanted)
    assert run_preview(db.session, preview_id) == ClosingStatus.FAILED
    assert the_preview().error == "The round is being closed."


def test_an_ask_study_whose_preview_failed_can_still_be_closed(running, kept):
    round_ = open_round_of(db.session, running)
    db.session.add(RoundPreview(round_id=round_.id, status=ClosingStatus.FAILED, error="a test"))
    running.consensus_items = "ask"
    db.session.commit()
    page = kept.get(CLOSE).text
    assert 'id="preview-failed"' in page and 'id="close-needs-preview"' not in page
    assert 'id="close-retires-none"' in page and "Close the round</button>" in page
    closed = kept.post(CLOSE, data=round_form(page))
    assert closed.status_code == 303
    db.session.expire_all()
    assert open_round_of(db.session, running) is None


def test_two_first_visits_at_once_share_one_preview(running, app, monkeypatch):
    round_ = open_round_of(db.session, running)
    real = close_previews.round_preview
    calls = []

    def raced(session, round_):
        """The first look finds none; another visit's insert lands right after it."""
        calls.append(1)
        if len(calls) == 1:
            with app.app_context():
                db.session.add(RoundPreview(round_id=round_.id, status=ClosingStatus.QUEUED))
                db.session.commit()
                db.session.remove()
            return None
        return real(session, round_)

    monkeypatch.setattr(close_previews, "round_preview", raced)
    requested = request_preview(db.session, round_)
    assert not requested.submit  # the other visit hands it to a job
    assert db.session.execute(select(RoundPreview.id)).scalars().all() == [requested.preview.id]
