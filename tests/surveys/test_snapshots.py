"""Study snapshots: parsed once per process, rebuilt whenever the stored study changes."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, update

from elicit.extensions import db
from surveys.answers import RoundNotOpen, submit_responses
from surveys.curation import add_item, retire_item, reword_item
from surveys.demo import demo_source
from surveys.drafts import find_draft
from surveys.expert import expert_page
from surveys.models import Item, Response
from surveys.panel import hash_token, panelist_for_token
from surveys.rounds import close_round, open_round
from surveys.serialization import item_to_json, item_to_toml
from surveys.settings import update_settings
from surveys.snapshots import study_snapshot
from surveys.studies import active_items, study_definition
from surveys.visit import visit_for_token_hash
from tests.conftest import NEW_ITEM


@pytest.fixture
def study(make_study):
    """The demo study, not started."""
    return make_study()


def item(snapshot, key):
    """The snapshot's active item ``key``."""
    (found,) = [stored for stored in snapshot.items if stored.definition.key == key]
    return found


def page_keys(link):
    """The item keys on the expert page of ``link``."""
    page = expert_page(db.session, panelist_for_token(db.session, link.token))
    return [entry.stored.definition.key for entry in page.items]


def stored_versions(key):
    """``(round number, item version)`` of every response to item ``key``."""
    rows = db.session.execute(
        select(Response).join(Item).where(Item.key == key).order_by(Response.id)
    ).scalars()
    return [(row.round.number, row.item_version) for row in rows]


def test_snapshot_is_the_study_as_loaded_and_is_reused_until_it_changes(study):
    first = study_snapshot(db.session, study.id)
    assert first.definition == study_definition(study)
    assert first.items == tuple(active_items(study))
    assert "rationale.trust_now" in first.fields and "scenarios.rift" in first.fields
    assert study_snapshot(db.session, study.id) is first


def test_a_visit_brings_the_current_snapshot_and_the_open_round(study, make_panel):
    (link,) = make_panel(study, 1)
    visit = visit_for_token_hash(db.session, hash_token(link.token))
    assert visit.panelist.pseudonym == link.pseudonym
    assert visit.study is study_snapshot(db.session, study.id)
    assert visit.open_round is None
    retire_item(db.session, study, "trust_now", "consensus", None)
    round_ = open_round(db.session, study)
    after = visit_for_token_hash(db.session, hash_token(link.token))
    assert after.study is not visit.study
    assert "trust_now" not in [stored.definition.key for stored in after.study.items]
    assert after.open_round is round_


def test_reworded_item_is_shown_and_answered_in_its_new_version(study, make_panel):
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    submit_responses(db.session, panelist_for_token(db.session, link.token), {"trust_now": "3"})
    close_round(db.session, study)
    before = study_snapshot(db.session, study.id)

    current = item_to_toml(item(before, "trust_now").definition)
    reword_item(
        db.session, study, "trust_now", current.replace("today", "at present"), None, "clearer"
    )
    after = study_snapshot(db.session, study.id)
    assert item(after, "trust_now").version == 2
    assert "at present" in item(after, "trust_now").definition.text.get("en")

    open_round(db.session, study)
    page = expert_page(db.session, panelist_for_token(db.session, link.token))
    (trust,) = [entry for entry in page.items if entry.stored.definition.key == "trust_now"]
    assert "at present" in trust.stored.definition.text.get("en")
    submit_responses(db.session, panelist_for_token(db.session, link.token), {"trust_now": "4"})
    assert stored_versions("trust_now") == [(1, 1), (2, 2)]


def test_added_item_is_on_the_next_page_and_its_answers_are_kept(study, make_panel):
    (link,) = make_panel(study, 1)
    study_snapshot(db.session, study.id)
    last_trigger = [item.key for item in study.items if item.spec.get("section") == "triggers"][-1]
    add_item(db.session, study, NEW_ITEM, None)
    open_round(db.session, study)
    keys = page_keys(link)  # a new item goes to the end of its section by default
    assert keys.index("trigger_cyberattack") == keys.index(last_trigger) + 1
    submit_responses(
        db.session, panelist_for_token(db.session, link.token), {"trigger_cyberattack": "30"}
    )
    assert stored_versions("trigger_cyberattack") == [(1, 1)]


def test_retired_item_leaves_the_page_and_is_neither_answered_nor_drafted(study, make_panel):
    (link,) = make_panel(study, 1)
    study_snapshot(db.session, study.id)
    retire_item(db.session, study, "trust_now", "reached consensus", None)
    round_ = open_round(db.session, study)
    assert "trust_now" not in page_keys(link)
    panelist = panelist_for_token(db.session, link.token)
    submit_responses(db.session, panelist, {"trust_now": "3", "trigger_tariffs": "20"})
    assert stored_versions("trust_now") == []
    assert stored_versions("trigger_tariffs") == [(1, 1)]
    assert find_draft(db.session, panelist, round_).values["fields"] == {"trigger_tariffs": "20"}


def test_settings_changes_reach_the_snapshot(study):
    before = study_snapshot(db.session, study.id)
    assert before.definition.cannot_judge is True
    update_settings(
        db.session,
        study,
        {"cannot_judge": False, "feedback_min_n": 5, "rationale_outside_iqr": "required"},
    )
    after = study_snapshot(db.session, study.id)
    assert (
        after.definition.cannot_judge,
        after.definition.feedback_min_n,
        after.definition.rationale_outside_iqr,
    ) == (False, 5, "required")
    update_settings(db.session, study, {"cannot_judge": True})
    assert study_snapshot(db.session, study.id).definition.cannot_judge is True


def test_a_change_made_by_another_process_is_seen(study, database_url):
    """Another worker's change reaches this one's snapshot through the database alone."""
    before = study_snapshot(db.session, study.id)
    db.session.commit()
    reworded = item(before, "trust_now").definition
    reworded = type(reworded)(
        **{**reworded.__dict__, "text": type(reworded.text)((("en", "Elsewhere?"), ("es", "¿?")))}
    )
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                update(Item)
                .where(Item.study_id == study.id, Item.key == "trust_now")
                .values(version=Item.version + 1, spec=item_to_json(reworded))
            )
    finally:
        engine.dispose()
    after = study_snapshot(db.session, study.id)
    assert item(after, "trust_now").definition.text.get("en") == "Elsewhere?"
    assert item(after, "trust_now").version == 2


def test_a_study_loaded_again_is_not_mistaken_for_the_deleted_one(make_study):
    """Ids of deleted rows can come back (SQLite reuses them): the snapshot must not."""
    first = make_study()
    study_snapshot(db.session, first.id)
    db.session.delete(first)
    db.session.commit()
    second = make_study(demo_source().replace("today between", "at present between"))
    text = item(study_snapshot(db.session, second.id), "trust_now").definition.text.get("en")
    assert "at present between" in text


def test_a_round_closed_after_the_visit_began_keeps_the_submission_as_a_draft(study, make_panel):
    """The visit saw the round open; it closed before the answers were stored."""
    (link,) = make_panel(study, 1)
    round_ = open_round(db.session, study)
    visit = visit_for_token_hash(db.session, hash_token(link.token))
    assert visit.open_round is round_
    close_round(db.session, study)
    with pytest.raises(RoundNotOpen):
        submit_responses(db.session, visit, {"trust_now": "3", "rationale.trust_now": "Why."})
    assert stored_versions("trust_now") == []
    draft = find_draft(db.session, visit.panelist, round_)
    assert draft.values["fields"] == {"trust_now": "3", "rationale.trust_now": "Why."}
