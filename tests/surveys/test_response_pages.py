"""The API's responses pages (:func:`surveys.exports.response_page`): whatever their size
and wherever they start, the pages follow the export's responses one for one, across
rounds and items answered by different numbers of panelists, closed rounds counted from
what their close stored and the open round from its rows."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select, update

from elicit.extensions import db
from surveys.curation import add_item, retire_item
from surveys.exports import disclosure, export_tables, response_page
from surveys.models import Item, Response, Round, RoundSummary, Study
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import NEW_ITEM


@pytest.fixture
def two_rounds(make_study, make_panel, post_answers, built_once):
    """Round 1 closed (5 panelists), then an item retired and one added in the middle of
    its section (the items after it move), round 2 open with the answers of 3 (built
    once a run: :func:`tests.conftest.built_once`)."""
    built = built_once(lambda: _two_rounds(make_study, make_panel, post_answers))
    return db.session.get(Study, built)


def _two_rounds(make_study, make_panel, post_answers) -> int:
    study = make_study()
    links = make_panel(study, 5)
    open_round(db.session, study)
    definition = study_definition(study)
    for index, link in enumerate(links):
        answered = post_answers(link.token, simulated_answers(random.Random(index), definition))
        assert answered.status_code == 302, answered.text
    close_round(db.session, study)
    retire_item(db.session, study, "trust_now", "reached consensus")
    add_item(db.session, study, NEW_ITEM, None, "asked for by the panel in round 1")
    open_round(db.session, study)
    definition = study_definition(study)
    for index, link in enumerate(links[:3]):
        answered = post_answers(
            link.token, simulated_answers(random.Random(10 + index), definition)
        )
        assert answered.status_code == 302, answered.text
    return study.id


def _keys(records) -> list[tuple[int, str, str]]:
    return [(record["round"], record["item"], record["pseudonym"]) for record in records]


def _exported(study) -> list[tuple[int, str, str]]:
    """The export's responses, in its order: one key per response (its table has a row
    per number or text of an answer)."""
    frame = export_tables(db.session, study).responses
    keys = list(zip(frame["round"], frame["item"], frame["pseudonym"], strict=True))
    return list(dict.fromkeys((int(number), item, who) for number, item, who in keys))


def _rows_per_block(study) -> dict[tuple[int, str], int]:
    return {
        (number, key): count
        for number, key, count in db.session.execute(
            select(Round.number, Item.key, func.count())
            .join(Response.round)
            .join(Response.item)
            .where(Round.study_id == study.id)
            .group_by(Round.number, Item.key)
        )
    }


def test_the_rounds_have_different_items_in_different_places(two_rounds):
    counts = _rows_per_block(two_rounds)
    assert set(counts.values()) == {5, 3}
    assert (1, "trust_now") in counts and (2, "trust_now") not in counts
    assert (2, "trigger_cyberattack") in counts and (1, "trigger_cyberattack") not in counts
    new = next(item for item in two_rounds.items if item.key == "trigger_cyberattack")
    assert new.position < max(item.position for item in two_rounds.items)


@pytest.mark.parametrize("size", [1, 7, 23, 100, 1000])
def test_pages_of_any_size_follow_the_export_one_for_one(two_rounds, size):
    exported = _exported(two_rounds)
    seen: list[tuple[int, str, str]] = []
    offset = 0
    while True:
        total, records = response_page(db.session, two_rounds, offset=offset, limit=size)
        assert total == len(exported)
        if not records:
            break
        assert len(records) == min(size, total - offset)
        seen += _keys(records)
        offset += size
    assert seen == exported


def test_one_rounds_pages_are_that_rounds_part_of_the_export(two_rounds):
    exported = _exported(two_rounds)
    for number in (1, 2):
        total, records = response_page(db.session, two_rounds, round_number=number, limit=10_000)
        part = [key for key in exported if key[0] == number]
        assert total == len(part) > 0 and _keys(records) == part
    total, records = response_page(db.session, two_rounds, round_number=3)
    assert (total, records) == (0, [])


def test_a_page_past_the_end_is_empty_and_still_counts_them_all(two_rounds):
    total, records = response_page(db.session, two_rounds, offset=10_000, limit=50)
    assert records == [] and total == len(_exported(two_rounds))


def test_a_page_holds_the_whole_record_of_each_response(two_rounds):
    _, records = response_page(db.session, two_rounds, offset=3, limit=2)
    stored = db.session.execute(
        select(Response.rationale, Response.answer)
        .join(Response.round)
        .join(Response.item)
        .where(Round.number == records[0]["round"], Item.key == records[0]["item"])
    ).all()
    assert records[0]["rationale"] in {rationale for rationale, _ in stored}
    assert records[0]["values"] and records[0]["status"] == "submitted"


def test_the_close_stores_each_items_count_of_the_round(two_rounds):
    (stored,) = db.session.execute(
        select(RoundSummary.response_counts).join(RoundSummary.round).where(Round.number == 1)
    ).one()
    ids = {item.id: item.key for item in two_rounds.items}
    counts = _rows_per_block(two_rounds)
    assert {ids[int(item)]: n for item, n in stored.items()} == {
        key: n for (number, key), n in counts.items() if number == 1
    }


def test_the_stored_counts_are_what_places_a_closed_rounds_page(two_rounds):
    """A page of round 1 is placed by its stored counts, not by counting again: with the
    first item's count stored one too low, the page that started at the second item
    starts one response later.  (Nothing writes a closed round's responses, so the
    stored counts never disagree in use; this shows they are read.)"""
    summary = db.session.execute(
        select(RoundSummary).join(RoundSummary.round).where(Round.number == 1)
    ).scalar_one()
    counts = dict(summary.response_counts)
    first = str(min(two_rounds.items, key=lambda item: item.position).id)
    offset = counts[first]
    total, before = response_page(db.session, two_rounds, round_number=1, offset=offset)
    counts[first] -= 1
    db.session.execute(
        update(RoundSummary).where(RoundSummary.id == summary.id).values(response_counts=counts)
    )
    db.session.commit()
    fewer, after = response_page(db.session, two_rounds, round_number=1, offset=offset)
    assert fewer == total - 1
    assert _keys(after)[:-1] == _keys(before)[1:]


def test_a_summary_without_counts_is_counted_from_its_rows(two_rounds):
    """A summary stored without counts (as none are where the migration did not
    reach) leaves its round counted from the responses: the same pages."""
    exported = _exported(two_rounds)
    db.session.execute(update(RoundSummary).values(response_counts=None))
    db.session.commit()
    total, records = response_page(db.session, two_rounds, offset=5, limit=40)
    assert total == len(exported) and _keys(records) == exported[5:45]


def test_a_blind_study_pages_its_closed_rounds_only(two_rounds):
    two_rounds.anonymity = "blind"
    db.session.commit()
    assert disclosure(db.session, two_rounds).blind
    exported = _exported(two_rounds)
    assert {number for number, _, _ in exported} == {1}
    total, records = response_page(db.session, two_rounds, limit=10_000)
    assert total == len(exported) and _keys(records) == exported
    assert all(record["submitted_at"] is None for record in records)
