"""Which of the panel's reasons an expert reads (issue 15, point 2): a bounded,
stratified sample stable for the expert and round, paged by "Show more reasons",
pinned reasons first, never an author; read from records written at close."""

from __future__ import annotations

import re
import threading
from collections import Counter

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from analysis.reasons import ABOVE, BELOW, INSIDE, stratum
from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.errors import Conflict
from surveys.feedback import REASONS_PER_PAGE, pin_reason
from surveys.models import Draft, FeedbackReason, Panelist, RoundSummary, Study
from surveys.rounds import close_round, open_round
from tests.conftest import csrf_token, enter
from tests.surveys.test_submission_lock import UncommittedSession

REASON = re.compile(r'<span class="rationale-text"[^>]*>Because (\d+)-(\d+)\.</span>')
PANEL = 40


def _values(index: int) -> int:
    """Round 1's answer of panelist ``index`` to trust_now: mostly 3, some 1 and 5."""
    return 1 if index % 5 == 0 else 5 if index % 5 == 4 else 3


@pytest.fixture
def round_two(built_once, make_study, make_panel):
    """See :func:`two_rounds`."""
    return two_rounds(built_once, make_study, make_panel)


def two_rounds(built_once, make_study, make_panel):
    """The demo study with round 1 answered by 40 panelists, each with a reason that
    names its panelist's number and answer, closed; round 2 open (built once a run:
    :func:`tests.conftest.built_once`)."""
    study_id, links = built_once(lambda: _two_rounds(make_study, make_panel))
    return db.session.get(Study, study_id), links


def _two_rounds(make_study, make_panel):
    study = make_study()
    links = make_panel(study, PANEL)
    open_round(db.session, study)
    for index, link in enumerate(links):
        panelist = db.session.execute(
            db.select(Panelist).where(Panelist.pseudonym == link.pseudonym)
        ).scalar_one()
        value = _values(index)
        submit_responses(
            db.session,
            panelist,
            {"trust_now": str(value), "rationale.trust_now": f"Because {index}-{value}."},
        )
    close_round(db.session, study)
    open_round(db.session, study)
    return study.id, links


def _shown(html: str) -> list[tuple[int, int]]:
    """(panelist number, answer) of each reason on the page, in order."""
    return [(int(number), int(value)) for number, value in REASON.findall(html)]


def test_an_expert_reads_a_bounded_stratified_sample_stable_on_reload(client, round_two):
    _, links = round_two
    enter(client, links[0].token)
    page = client.get("/e/").text
    shown = _shown(page)
    assert len(shown) == REASONS_PER_PAGE
    assert f"{PANEL} reasons given by the panel" in page
    # Quartiles 3 and 3: 1 is below the middle half, 5 above; all three take turns.
    assert Counter(value for _, value in shown) == {1: 3, 3: 3, 5: 3}
    assert _shown(client.get("/e/").text) == shown
    enter(client, links[1].token)
    assert _shown(client.get("/e/").text) != shown


def test_a_pages_order_does_not_tell_which_side_a_reason_came_from(client, round_two):
    """Shown in the strata's turns, the first reason of every page would be one given
    with an answer below the middle half: each page has a random order of its own."""
    _, links = round_two
    orders = set()
    for link in links[:10]:
        enter(client, link.token)
        shown = _shown(client.get("/e/").text)
        assert Counter(value for _, value in shown) == {1: 3, 3: 3, 5: 3}
        assert _shown(client.get("/e/").text) == shown
        orders.add(tuple(value for _, value in shown[:3]))
    assert orders != {(1, 3, 5)}


def test_no_author_appears_beside_the_reasons(client, round_two):
    _, links = round_two
    enter(client, links[0].token)
    page = client.get("/e/").text
    others = [link.pseudonym for link in links[1:]]
    assert not [pseudonym for pseudonym in others if pseudonym in page]
    assert "Expert Number" not in page


def test_show_more_saves_what_was_typed_and_pages_without_repeating(client, round_two):
    study, links = round_two
    enter(client, links[0].token)
    first = client.get("/e/")
    assert 'value="reasons:trust_now:2"' in first.text
    response = client.post(
        "/e/",
        data={
            "csrf_token": csrf_token(first.text),
            "trust_now": "4",
            "rationale.trust_now": "Typed, not yet submitted.",
            "action": "reasons:trust_now:2",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/e/?reasons=trust_now&page=2#reasons-trust_now")
    draft = db.session.execute(
        db.select(Draft).where(Draft.round_id == study.rounds[1].id)
    ).scalar_one()
    assert draft.values["fields"]["rationale.trust_now"] == "Typed, not yet submitted."
    second = client.get("/e/?reasons=trust_now&page=2").text
    assert "Typed, not yet submitted." in second
    assert 'id="reasons-trust_now" open' in second
    assert "page 2 of 5" in second
    seen = set(_shown(first.text))
    later = set(_shown(second))
    assert len(later) == REASONS_PER_PAGE and not seen & later
    everything = set()
    for number in range(1, 6):
        everything |= set(_shown(client.get(f"/e/?reasons=trust_now&page={number}").text))
    assert len(everything) == PANEL


def test_pinned_reasons_come_first_for_every_expert(client, round_two):
    study, links = round_two
    pinned = db.session.execute(
        db.select(FeedbackReason).where(FeedbackReason.text == "Because 7-3.")
    ).scalar_one()
    pin_reason(db.session, study, pinned.id, pinned=True)
    for link in links[:3]:
        enter(client, link.token)
        page = client.get("/e/").text
        shown = _shown(page)
        assert shown[0] == (7, 3)
        assert shown.count((7, 3)) == 1
        # The pinned reason counts within the page's bound, which the protocol states.
        assert len(shown) == REASONS_PER_PAGE
        assert page.count("data-pinned") == 1
        pages = [shown] + [
            _shown(client.get(f"/e/?reasons=trust_now&page={number}").text)
            for number in range(2, 6)
        ]
        assert [len(listed) for listed in pages] == [REASONS_PER_PAGE] * 4 + [4]
        everything = [reason for listed in pages for reason in listed]
        assert len(everything) == len(set(everything)) == PANEL


def test_nine_pinned_reasons_fill_page_one(client, round_two):
    study, links = round_two
    reasons = (
        db.session.execute(
            db.select(FeedbackReason).order_by(FeedbackReason.id).limit(REASONS_PER_PAGE)
        )
        .scalars()
        .all()
    )
    for reason in reasons:
        pin_reason(db.session, study, reason.id, pinned=True)
    enter(client, links[0].token)
    page = client.get("/e/").text
    assert page.count("data-pinned") == REASONS_PER_PAGE
    assert len(_shown(page)) == REASONS_PER_PAGE
    second = _shown(client.get("/e/?reasons=trust_now&page=2").text)
    assert len(second) == REASONS_PER_PAGE
    assert not {f"Because {n}-{v}." for n, v in second} & {reason.text for reason in reasons}


def _page_label(html: str) -> str:
    """The "page N of M" of the trust_now reasons."""
    return re.findall(r"page \d+ of \d+", html)[0]


@pytest.mark.parametrize("asked", ["²", "abc", "-3", "0", "", "+2", " 2", "٢"])
def test_a_page_argument_that_is_no_plain_number_shows_page_one(client, round_two, asked):
    _, links = round_two
    enter(client, links[0].token)
    first = client.get("/e/?reasons=trust_now&page=1").text
    response = client.get("/e/", query_string={"reasons": "trust_now", "page": asked})
    assert response.status_code == 200
    assert _page_label(response.text) == "page 1 of 5"
    assert _shown(response.text) == _shown(first)


@pytest.mark.parametrize("asked", ["6", "9", "99999999999999999999", "9" * 5000])
def test_a_page_past_the_last_shows_the_last(client, round_two, asked):
    _, links = round_two
    enter(client, links[0].token)
    last = client.get("/e/?reasons=trust_now&page=5").text
    assert len(_shown(last)) == PANEL - 4 * REASONS_PER_PAGE
    response = client.get("/e/", query_string={"reasons": "trust_now", "page": asked})
    assert response.status_code == 200
    assert _page_label(response.text) == "page 5 of 5"
    assert _shown(response.text) == _shown(last)
    assert (
        "Show more reasons"
        not in response.text.split('id="reasons-trust_now"')[1].split("</details>")[0]
    )


def test_the_page_reads_records_written_at_close_not_the_summary(client, round_two):
    _, links = round_two
    summary = db.session.execute(db.select(RoundSummary)).scalar_one()
    summary.statistics = {"rows": [], "distributions": {}, "rationales": {}}
    db.session.commit()
    enter(client, links[0].token)
    page = client.get("/e/").text
    assert len(_shown(page)) == REASONS_PER_PAGE
    assert 'data-stat="median" data-value="3.0"' in page


def _one_more_than_a_page() -> list[FeedbackReason]:
    """The first REASONS_PER_PAGE + 1 reasons stored (all of one item in round_two)."""
    query = db.select(FeedbackReason).order_by(FeedbackReason.id).limit(REASONS_PER_PAGE + 1)
    return list(db.session.execute(query).scalars())


def test_at_most_a_page_of_reasons_can_be_pinned_per_item(round_two):
    study, _ = round_two
    reasons = _one_more_than_a_page()
    for reason in reasons[:-1]:
        pin_reason(db.session, study, reason.id, pinned=True)
    with pytest.raises(Conflict):
        pin_reason(db.session, study, reasons[-1].id, pinned=True)
    pin_reason(db.session, study, reasons[0].id, pinned=False)
    pin_reason(db.session, study, reasons[-1].id, pinned=True)


def test_two_pins_at_once_cannot_pass_the_limit(round_two, database_url):
    """The last free place, asked for by two facilitators at once: the second pin waits
    for the first to commit, then is refused.  (On SQLite each used to count the pins
    committed so far, find one place free and take it; PostgreSQL's row lock on the
    round, taken with the reason, already kept them apart.)"""
    study, _ = round_two
    reasons = _one_more_than_a_page()
    assert len({reason.item_key for reason in reasons}) == 1
    for reason in reasons[: REASONS_PER_PAGE - 1]:
        pin_reason(db.session, study, reason.id, pinned=True)
    db.session.commit()
    engine = create_engine(database_url)
    first, second = UncommittedSession(engine), Session(engine)
    outcome: list[BaseException | None] = []

    def pin_the_other() -> None:
        try:
            pin_reason(second, second.get(Study, study.id), reasons[-1].id, pinned=True)
            second.commit()
            outcome.append(None)
        except BaseException as error:
            second.rollback()
            outcome.append(error)

    try:
        pin_reason(first, first.get(Study, study.id), reasons[-2].id, pinned=True)
        # The last place taken, not yet committed (pin_reason's commit only flushes).
        thread = threading.Thread(target=pin_the_other)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), f"the second pin did not wait: {outcome}"
        Session.commit(first)
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        first.close()
        second.close()
        engine.dispose()
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    db.session.expire_all()
    pinned = db.session.execute(
        select(func.count()).where(
            FeedbackReason.item_key == reasons[0].item_key, FeedbackReason.pinned_at.is_not(None)
        )
    ).scalar_one()
    assert pinned == REASONS_PER_PAGE


def test_a_numeric_estimates_reasons_are_stratified_by_its_best_guess(make_study, make_panel):
    """The close sorts each reason by its answer's stratifying part (a numeric
    estimate's best guess) against the round's quartiles, as analysis.reasons.stratum
    does; the database extracts the part from the stored JSON."""
    study = make_study()
    links = make_panel(study, 12)
    open_round(db.session, study)
    bests = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]
    for best, link in zip(bests, links, strict=True):
        panelist = db.session.execute(
            db.select(Panelist).where(Panelist.pseudonym == link.pseudonym)
        ).scalar_one()
        answer = {"lowest": best - 5, "highest": best + 5, "best": best, "confidence": 80}
        form = {f"transfers_next_year.{part}": str(value) for part, value in answer.items()}
        submit_responses(
            db.session, panelist, {**form, "rationale.transfers_next_year": f"Best {best}."}
        )
    summary = close_round(db.session, study)
    row = next(
        row
        for row in summary.statistics["rows"]
        if row["item"] == "transfers_next_year" and row["component"] == "best"
    )
    stored = {
        reason.text: reason.stratum
        for reason in db.session.execute(db.select(FeedbackReason)).scalars()
    }
    assert stored == {f"Best {best}.": stratum(float(best), row["q1"], row["q3"]) for best in bests}
    assert set(stored.values()) == {BELOW, INSIDE, ABOVE}
